package units

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// wantError checks that err is an *Error for text whose message says want.
func wantError(t *testing.T, fn, text string, err error, want string) {
	t.Helper()
	var ue *Error
	if !errors.As(err, &ue) || ue.Text != text {
		t.Fatalf("%s(%q) error %v; want an *Error naming the text", fn, text, err)
	}
	if !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "units: ") {
		t.Errorf("%s(%q) error %q; want \"units: ...%s...\"", fn, text, err, want)
	}
}

func TestParseDuration(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    time.Duration
		wantErr string // the whole error; empty means success
	}{
		{"250us", 250 * time.Microsecond, ""},
		{"250µs", 250 * time.Microsecond, ""},
		{" 1.5ms ", 1500 * time.Microsecond, ""},
		{"1m30s", 90 * time.Second, ""},
		{"0", 0, ""},
		{"-0s", 0, ""},
		{"+2ms", 2 * time.Millisecond, ""},
		{"2xs", 0, `units: "2xs" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)`},
		{"5", 0, `units: "5" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)`},
		{" 2 ms", 0, `units: "2 ms" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)`},
		{"", 0, `units: "" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)`},
		{"-1ms", 0, `units: "-1ms" is negative`},
	} {
		got, err := ParseDuration(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", c.in, got, err, c.want)
			}
			continue
		}
		wantError(t, "ParseDuration", c.in, err, "")
		if err.Error() != c.wantErr {
			t.Errorf("ParseDuration(%q) error\n  %s\nwant\n  %s", c.in, err, c.wantErr)
		}
	}
}

func TestParseRate(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    uint64
		wantErr string // substring of the error; empty means success
	}{
		{"100mbit", 100e6, ""},
		{"1gbit", 1e9, ""},
		{"1GBit", 1e9, ""},
		{"64kbit", 64e3, ""},
		{"2tbit", 2e12, ""},
		{"1000bit", 1000, ""},
		{"8000", 8000, ""},
		{"1mbps", 8e6, ""},
		{"12.5mbps", 100e6, ""},
		{"1tbps", 8e12, ""},
		{"10bps", 80, ""},
		{"0.7mbit", 700000, ""}, // rounded, not truncated to 699999
		{" 100 mbit ", 100e6, ""},
		{"0", 0, ""},
		{"0mbit", 0, ""},
		{"unlimited", 0, ""},
		{"Unlimited", 0, ""},
		{"9223372036854775807bit", math.MaxInt64, ""},
		{"fast", 0, `"fast" is not a rate (write 100mbit, 1gbit, 64kbit; mbps means megabytes/s as in tc)`},
		{"-5mbit", 0, `"-5mbit" is not a rate`},
		{"mbit", 0, `"mbit" is not a rate`},
		{"NaNbit", 0, "is not a rate"},
		{"infbit", 0, "is not a rate"},
		{"1e400bit", 0, "is not a rate"},
		{"", 0, `"" is not a rate`},
		{"99999999999999tbit", 0, `"99999999999999tbit" is too large (at most 9223372036854775807 bit/s)`},
		{"9223372036854775808", 0, "too large"},
		{"1e19bit", 0, "too large"},
	} {
		got, err := ParseRate(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseRate(%q) = %d, %v; want %d", c.in, got, err, c.want)
			}
			continue
		}
		wantError(t, "ParseRate", c.in, err, c.wantErr)
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"1500", 1500, ""},
		{"0", 0, ""},
		{"64KiB", 64 << 10, ""},
		{"64k", 64 << 10, ""},
		{"64K", 64 << 10, ""},
		{"1MiB", 1 << 20, ""},
		{"1m", 1 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"10KB", 10e3, ""},
		{"1MB", 1e6, ""},
		{"2gb", 2e9, ""},
		{"100b", 100, ""},
		{" 64 KiB ", 64 << 10, ""},
		{"512B", 512, ""},
		{"64kib", 64 << 10, ""},
		{"2MiB", 2 << 20, ""},
		{"10 KB", 10e3, ""},
		{"12QB", 0, `"12QB" is not a size (write 1500, 64KiB, 1MiB)`},
		{"5XB", 0, "is not a size"},
		{"MB", 0, "is not a size"},
		{"99999999999999999999", 0, "is not a size"},
		{"1.5MB", 0, "is not a size"},
		{"-5", 0, "is not a size"},
		{"kib", 0, "is not a size"},
		{"", 0, `"" is not a size`},
		{"5000000000gb", 5e18, ""},
		{"50000000000gb", 0, "is not a size"},
		{"9223372036854775807", math.MaxInt64, ""},
	} {
		got, err := ParseSize(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", c.in, got, err, c.want)
			}
			continue
		}
		wantError(t, "ParseSize", c.in, err, c.wantErr)
	}
}

func TestParsePercent(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    float64
		wantErr string
	}{
		{"0.1%", 0.001, ""},
		{"0.001", 0.001, ""},
		{"100%", 1, ""},
		{"1", 1, ""},
		{"0", 0, ""},
		{" 5 % ", 0.05, ""},
		{"120%", 0, `"120%" is outside 0%..100%`},
		{"1.5", 0, `"1.5" is outside 0%..100%`},
		{"-1%", 0, "is outside 0%..100%"},
		{"abc", 0, `"abc" is not a percentage (write 0.1% or 0.001)`},
		{"NaN", 0, "is not a percentage"},
		{"inf%", 0, "is not a percentage"},
		{"%", 0, "is not a percentage"},
		{"", 0, `"" is not a percentage`},
	} {
		got, err := ParsePercent(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParsePercent(%q) = %g, %v; want %g", c.in, got, err, c.want)
			}
			continue
		}
		wantError(t, "ParsePercent", c.in, err, c.wantErr)
	}
}

const us = time.Microsecond

func TestParseDist(t *testing.T) {
	for _, c := range []struct {
		in      string
		want    Dist
		wantErr string // the error's Detail; empty means success
	}{
		{"200us", Dist{Fixed, 200 * us, 0}, ""},
		{"200µs", Dist{Fixed, 200 * us, 0}, ""},
		{" 1.5ms ", Dist{Fixed, 1500 * us, 0}, ""},
		{"0", Dist{}, ""},
		{"fixed:3ms", Dist{Fixed, 3 * time.Millisecond, 0}, ""},
		{"uniform:100us-300us", Dist{Uniform, 100 * us, 300 * us}, ""},
		{"UNIFORM:1ms-1ms", Dist{Uniform, time.Millisecond, time.Millisecond}, ""},
		{"normal:200us,50us", Dist{Normal, 200 * us, 50 * us}, ""},
		{"normal:200us, 50us", Dist{Normal, 200 * us, 50 * us}, ""},
		{"exp:200us", Dist{Exp, 200 * us, 0}, ""},
		{"lognormal:200us,100us", Dist{LogNormal, 200 * us, 100 * us}, ""},
		{"", Dist{}, `"": empty; ` + distForms},
		{"   ", Dist{}, `"   ": empty; ` + distForms},
		{"200", Dist{}, `"200" is not a duration; ` + distForms},
		{"2xs", Dist{}, `"2xs" is not a duration; ` + distForms},
		{"-5us", Dist{}, `"-5us" is negative; ` + distForms},
		{"fixed:", Dist{}, `"fixed:": missing duration`},
		{"uniform:300us-100us", Dist{}, `"uniform:300us-100us": low bound 300us above high bound 100us`},
		{"uniform:100us", Dist{}, `"uniform:100us": uniform wants two durations separated by "-"`},
		{"uniform:-1us-3us", Dist{}, `"uniform:-1us-3us": missing duration`},
		{"uniform:1us-", Dist{}, `"uniform:1us-": missing duration`},
		{"normal:200us", Dist{}, `"normal:200us": normal wants two durations separated by ","`},
		{"normal:200us,-1us", Dist{}, `"normal:200us,-1us": "-1us" is negative`},
		{"exp:abc", Dist{}, `"exp:abc": "abc" is not a duration`},
		{"lognormal:0,1us", Dist{}, `"lognormal:0,1us": lognormal mean must be above 0`},
		{"gamma:1us,2us", Dist{}, `"gamma:1us,2us": unknown distribution "gamma"; ` + distForms},
	} {
		got, err := ParseDist(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("ParseDist(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
			}
			continue
		}
		wantError(t, "ParseDist", c.in, err, "")
		var ue *Error
		if errors.As(err, &ue); ue.Detail() != c.wantErr {
			t.Errorf("ParseDist(%q) error detail\n  %s\nwant\n  %s", c.in, ue.Detail(), c.wantErr)
		}
	}
}

func TestDistString(t *testing.T) {
	for _, s := range []string{"200us", "0s", "1.5ms", "uniform:100us-300us", "normal:200us,50us", "exp:1.234567ms", "lognormal:2ms,1ms", "1h2m3.000000004s"} {
		d, err := ParseDist(s)
		if err != nil {
			t.Fatalf("ParseDist(%q): %v", s, err)
		}
		if d.String() != s {
			t.Errorf("ParseDist(%q).String() = %q", s, d.String())
		}
	}
	if (Dist{}).String() != "0s" || DistKind(9).String() != "DistKind(9)" {
		t.Errorf("zero Dist %q, bad kind %q", Dist{}, DistKind(9))
	}
}

// The error message keeps the parts callers print on their own: the trader
// prints Msg after its parameter name, a scenario prints Detail after the
// field path.
func TestErrorParts(t *testing.T) {
	_, err := ParseDist("gauss:1ms")
	var ue *Error
	if !errors.As(err, &ue) || ue.Msg != `unknown distribution "gauss"; `+distForms {
		t.Fatalf("ParseDist error %#v", err)
	}
	if got := err.Error(); got != `units: "gauss:1ms": unknown distribution "gauss"; `+distForms {
		t.Errorf("Error() = %s", got)
	}
	_, err = ParseDuration(" 2xs ")
	if !errors.As(err, &ue) || ue.Text != " 2xs " || ue.Detail() != `"2xs" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)` {
		t.Errorf("ParseDuration error %#v, detail %q", err, ue.Detail())
	}
}

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 250 * us: "250us", 1500 * us: "1.5ms", 90 * time.Second: "1m30s", 3: "3ns", -2 * us: "-2us"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%d) = %s, want %s", d, got, want)
		}
	}
}

func TestFormatNS(t *testing.T) {
	for _, c := range []struct {
		ns   float64
		want string
	}{
		{0, "0ns"}, {850, "850ns"}, {999.6, "1000ns"}, {1500, "1.50µs"}, {21800, "21.8µs"}, {99999, "100.0µs"},
		{218000, "218µs"}, {5.9e6, "5.90ms"}, {1.06e9, "1.06s"}, {125e9, "125s"}, {-25000, "-25.0µs"}, {-850, "-850ns"},
	} {
		if got := FormatNS(c.ns); got != c.want {
			t.Errorf("FormatNS(%g) = %s, want %s", c.ns, got, c.want)
		}
	}
}

func TestFormatNSFixed(t *testing.T) {
	for ns, want := range map[int64]string{0: "0", 812: "812ns", 999: "999ns", 1000: "1.0us", 35240: "35.2us",
		999_999: "1000.0us", 4_210_000: "4.210ms", 1_500_000_000: "1.500s", -5: "-5ns"} {
		if got := FormatNSFixed(ns); got != want {
			t.Errorf("FormatNSFixed(%d) = %s, want %s", ns, got, want)
		}
	}
}

func TestFormatMicros(t *testing.T) {
	for ns, want := range map[int64]string{0: "0us", 499: "0us", 1500: "2us", 1_234_000: "1234us", -3000: "-3us"} {
		if got := FormatMicros(ns); got != want {
			t.Errorf("FormatMicros(%d) = %s, want %s", ns, got, want)
		}
	}
}
