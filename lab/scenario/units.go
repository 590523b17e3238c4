package scenario

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// The value types below keep the text they were written as and parse it
// when decoded. A bad value does not fail decoding (goccy/go-yaml would
// lose the position); the error is kept and reported by Validate with the
// file, line, column and field path.

// scalarText decodes any YAML scalar as its text.
func scalarText(b []byte) (string, error) {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return "", err
	}
	switch x := v.(type) {
	case nil:
		return "", nil
	case string:
		return x, nil
	case map[string]any, []any:
		return "", fmt.Errorf("want a scalar, got a %T", x)
	default:
		return fmt.Sprint(x), nil
	}
}

// Duration is a time span written with a unit: "250us", "2ms", "1m30s".
type Duration struct {
	D   time.Duration
	raw string
	err error
}

// ParseDuration parses s ("" is zero). A bare 0 is accepted; other bare
// numbers are not (a unit is required).
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

func (d *Duration) UnmarshalYAML(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		d.err = err
		return nil
	}
	d.raw = s
	d.D, d.err = ParseDuration(s)
	return nil
}

func (d Duration) MarshalYAML() (any, error) {
	if d.D == 0 && d.raw == "" {
		return "0s", nil
	}
	return d.D.String(), nil
}

func (d Duration) String() string { return d.D.String() }

// Percent is a probability written as "0.1%" or as a fraction 0.001.
type Percent struct {
	F   float64 // 0..1
	raw string
	err error
}

// ParsePercent parses "0.1%" or "0.001".
func ParsePercent(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || math.IsNaN(f) {
		return 0, fmt.Errorf("%q is not a percentage (write 0.1%% or 0.001)", s)
	}
	if pct {
		f /= 100
	}
	if f < 0 || f > 1 {
		return 0, fmt.Errorf("%q is outside 0%%..100%%", s)
	}
	return f, nil
}

func (p *Percent) UnmarshalYAML(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		p.err = err
		return nil
	}
	p.raw = s
	p.F, p.err = ParsePercent(s)
	return nil
}

func (p Percent) MarshalYAML() (any, error) {
	return strconv.FormatFloat(p.F*100, 'g', -1, 64) + "%", nil
}

// Bitrate is a link rate as tc writes it: "100mbit", "1gbit", "64kbit",
// "1000bit" (bits per second; "bps" suffixes are bytes per second as in tc).
type Bitrate struct {
	BPS uint64 // bits per second; 0 = unlimited
	raw string
	err error
}

var rateUnits = []struct {
	suffix string
	mult   float64
}{
	{"tbit", 1e12}, {"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}, {"bit", 1},
	{"tbps", 8e12}, {"gbps", 8e9}, {"mbps", 8e6}, {"kbps", 8e3}, {"bps", 8},
}

// ParseBitrate parses a tc-style rate.
func ParseBitrate(s string) (uint64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" || t == "0" {
		return 0, nil
	}
	for _, u := range rateUnits {
		if strings.HasSuffix(t, u.suffix) {
			f, err := strconv.ParseFloat(strings.TrimSuffix(t, u.suffix), 64)
			if err != nil || f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
				break
			}
			return uint64(f * u.mult), nil
		}
	}
	return 0, fmt.Errorf("%q is not a rate (write 100mbit, 1gbit, 64kbit; mbps means megabytes/s as in tc)", s)
}

func (r *Bitrate) UnmarshalYAML(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		r.err = err
		return nil
	}
	r.raw = s
	r.BPS, r.err = ParseBitrate(s)
	return nil
}

func (r Bitrate) MarshalYAML() (any, error) {
	if r.BPS == 0 {
		return "0", nil
	}
	return strconv.FormatUint(r.BPS, 10) + "bit", nil
}

// Size is a byte count: "1500", "64KiB", "1MiB", "10KB".
type Size struct {
	N   int64
	raw string
	err error
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"b", 1}}

// ParseSize parses a byte count with an optional unit.
func ParseSize(s string) (int64, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "" {
		return 0, nil
	}
	mult := int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSuffix(t, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (write 1500, 64KiB, 1MiB)", s)
	}
	return n * mult, nil
}

func (z *Size) UnmarshalYAML(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		z.err = err
		return nil
	}
	z.raw = s
	z.N, z.err = ParseSize(s)
	return nil
}

func (z Size) MarshalYAML() (any, error) { return z.N, nil }

// Value is a strategy parameter: any scalar, kept as text.
type Value string

func (v *Value) UnmarshalYAML(b []byte) error {
	s, err := scalarText(b)
	if err != nil {
		return err
	}
	*v = Value(s)
	return nil
}
