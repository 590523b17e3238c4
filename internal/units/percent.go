package units

import (
	"math"
	"strconv"
	"strings"
)

// ParsePercent reads a probability written as a percentage "0.1%" or as a
// fraction "0.001", and returns it as a fraction in [0, 1].
func ParsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	num, pct := strings.CutSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, errorf(s, t, "is not a percentage (write 0.1% or 0.001)")
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return 0, errorf(s, t, "is outside 0%..100%")
	}
	return f, nil
}
