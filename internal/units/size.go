package units

import (
	"math"
	"strconv"
	"strings"
)

var sizeUnits = [...]struct {
	suffix string
	mult   int64
}{
	// Two-letter units before "b", "k" and "m", so "kb" is not read as "k" + "b".
	{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9},
	{"b", 1}, {"k", 1 << 10}, {"m", 1 << 20},
}

// ParseSize reads a byte count: an integer with an optional unit, "1500",
// "64KiB", "64k" (also KiB), "1MB", "10 KB".
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	num, mult := t, int64(1)
	for _, u := range sizeUnits {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(num), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, errorf(s, strings.TrimSpace(s), "is not a size (write 1500, 64KiB, 1MiB)")
	}
	return n * mult, nil
}
