package units

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
)

// checkError: a parser's error is an *Error naming the text, its message
// quotes something, and it is never empty.
func checkError(t *testing.T, s string, err error) {
	t.Helper()
	var ue *Error
	if !errors.As(err, &ue) || ue.Text != s || ue.Msg == "" || !strings.HasPrefix(err.Error(), "units: ") {
		t.Fatalf("parse(%q): error %#v is not an *Error naming the text", s, err)
	}
	if !strings.Contains(ue.Detail(), `"`) {
		t.Fatalf("parse(%q): error %q quotes nothing", s, err)
	}
}

func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"250us", "250µs", " 1.5ms ", "1m30s", "0", "-0s", "2xs", "5", "-1ms", "", "1h2m3.000000004s", "9999999999h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDuration(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if d < 0 {
			t.Fatalf("ParseDuration(%q) = %v, negative", s, d)
		}
		if back, err := ParseDuration(FormatDuration(d)); err != nil || back != d {
			t.Fatalf("ParseDuration(%q) = %v; FormatDuration %q reads back %v, %v", s, d, FormatDuration(d), back, err)
		}
	})
}

func FuzzParseRate(f *testing.F) {
	for _, s := range []string{"100mbit", "12.5mbps", "1tbps", "8000", "0", "unlimited", "fast", "-5mbit", "1e400bit",
		"99999999999999tbit", "9223372036854775807bit", "0x1p3bit", " 100 mbit ", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRate(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if r > MaxRate {
			t.Fatalf("ParseRate(%q) = %d, above MaxRate", s, r)
		}
		text := strconv.FormatUint(r, 10) + "bit"
		if back, err := ParseRate(text); err != nil || back != r {
			t.Fatalf("ParseRate(%q) = %d; %q reads back %d, %v", s, r, text, back, err)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1500", "64KiB", "64k", "1MB", " 10 KB ", "12QB", "-5", "kib", "", "5000000000gb", "9223372036854775807"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if n < 0 {
			t.Fatalf("ParseSize(%q) = %d, negative", s, n)
		}
		if back, err := ParseSize(strconv.FormatInt(n, 10)); err != nil || back != n {
			t.Fatalf("ParseSize(%q) = %d; reads back %d, %v", s, n, back, err)
		}
	})
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"0.1%", "0.001", "100%", " 5 % ", "120%", "abc", "NaN", "inf%", "%", "", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePercent(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if !(p >= 0 && p <= 1) {
			t.Fatalf("ParsePercent(%q) = %g, outside [0, 1]", s, p)
		}
		text := strconv.FormatFloat(p, 'g', -1, 64)
		if back, err := ParsePercent(text); err != nil || back != p {
			t.Fatalf("ParsePercent(%q) = %g; %q reads back %g, %v", s, p, text, back, err)
		}
	})
}

func FuzzParseDist(f *testing.F) {
	for _, s := range []string{"200us", "uniform:100us-300us", "normal:200us,50us", "exp:200us", "lognormal:200us,100us",
		"fixed:1s", "uniform:3us-1us", "", ":", "normal:,", "x:y", "lognormal:0,1us", "-5us"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDist(s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		if d.A < 0 || d.B < 0 || (d.Kind == Uniform && d.A > d.B) || (d.Kind == LogNormal && d.A == 0) {
			t.Fatalf("ParseDist(%q) accepted %#v", s, d)
		}
		if back, err := ParseDist(d.String()); err != nil || back != d {
			t.Fatalf("ParseDist(%q) = %#v; String %q reads back %#v, %v", s, d, d.String(), back, err)
		}
	})
}

// FuzzFormatNS: the formatters never panic and always name a unit.
func FuzzFormatNS(f *testing.F) {
	for _, ns := range []int64{0, 1, 999, 1000, 999_999, 1e6, 1e9, -25000, math.MaxInt64, math.MinInt64} {
		f.Add(ns)
	}
	f.Fuzz(func(t *testing.T, ns int64) {
		for _, s := range []string{FormatNS(float64(ns)), FormatNSFixed(ns), FormatMicros(ns)} {
			if ns != 0 && !strings.HasSuffix(s, "s") {
				t.Fatalf("%d formats as %q, without a unit", ns, s)
			}
		}
	})
}
