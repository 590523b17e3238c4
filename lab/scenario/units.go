package scenario

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

// The value types below keep the text they were written as and parse it
// with internal/units when decoded. A bad value does not fail decoding
// (goccy/go-yaml would lose the position); the error is kept and reported by
// Validate with the file, line, column and field path.

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

// parseScalar reads a YAML scalar with parse (an internal/units parser). An
// empty scalar is an absent value: zero, not an error.
func parseScalar[T any](b []byte, parse func(string) (T, error)) (v T, raw string, err error) {
	raw, err = scalarText(b)
	if err != nil || strings.TrimSpace(raw) == "" {
		return v, raw, err
	}
	v, err = parse(raw)
	return v, raw, err
}

// Duration is a time span written with a unit: "250us", "2ms", "1m30s".
type Duration struct {
	D   time.Duration
	raw string
	err error
}

func (d *Duration) UnmarshalYAML(b []byte) error {
	d.D, d.raw, d.err = parseScalar(b, units.ParseDuration)
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

func (p *Percent) UnmarshalYAML(b []byte) error {
	p.F, p.raw, p.err = parseScalar(b, units.ParsePercent)
	return nil
}

func (p Percent) MarshalYAML() (any, error) {
	return strconv.FormatFloat(p.F*100, 'g', -1, 64) + "%", nil
}

// Bitrate is a link rate as tc writes it: "100mbit", "1gbit", "64kbit",
// "1000bit" (bits per second; "bps" suffixes are bytes per second as in tc;
// 0 or "unlimited" for no limit).
type Bitrate struct {
	BPS uint64 // bits per second; 0 = unlimited
	raw string
	err error
}

func (r *Bitrate) UnmarshalYAML(b []byte) error {
	r.BPS, r.raw, r.err = parseScalar(b, units.ParseRate)
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

func (z *Size) UnmarshalYAML(b []byte) error {
	z.N, z.raw, z.err = parseScalar(b, units.ParseSize)
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
