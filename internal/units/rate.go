package units

import (
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// MaxRate is the largest rate ParseRate returns, in bits/s.
const MaxRate = math.MaxInt64

var rateUnits = [...]struct {
	suffix string
	mult   uint64
}{
	// "bit" last, so "kbit" is not read as "k" + "bit".
	{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3},
	{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8}, {"bit", 1},
}

// ParseRate reads a link rate in bits/s as tc writes it: "100mbit", "1gbit",
// "64kbit", "12.5mbps" (bytes/s: 100mbit), "8000" (bit/s). 0 and "unlimited"
// are 0, meaning no limit. An integer is exact; a fraction rounds to the
// nearest bit/s.
func ParseRate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "unlimited" {
		return 0, nil
	}
	num, mult := t, uint64(1)
	for _, u := range rateUnits {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			num, mult = strings.TrimSpace(n), u.mult
			break
		}
	}
	r, ok, err := rate(num, mult)
	switch {
	case err != nil:
		return 0, errorf(s, strings.TrimSpace(s), "is not a rate (write 100mbit, 1gbit, 64kbit; mbps means megabytes/s as in tc)")
	case !ok:
		return 0, errorf(s, strings.TrimSpace(s), "is too large (at most "+strconv.FormatUint(MaxRate, 10)+" bit/s)")
	}
	return r, nil
}

// rate multiplies the number num by mult: exactly when num is an integer,
// else rounded to the nearest integer. ok is false when the product is above
// MaxRate.
func rate(num string, mult uint64) (r uint64, ok bool, err error) {
	if n, err := strconv.ParseUint(num, 10, 64); err == nil {
		hi, r := bits.Mul64(n, mult)
		return r, hi == 0 && r <= MaxRate, nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return 0, false, strconv.ErrSyntax
	}
	x := f * float64(mult)
	if x >= 1<<63 {
		return 0, false, nil
	}
	return uint64(math.Round(x)), true, nil
}
