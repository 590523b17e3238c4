// Package delay describes random delays as text, for the order API's
// --ack-delay (simulated matching latency), the trader's think time and the
// lab's link jitter.
//
// Accepted forms (durations as Go's time.ParseDuration, "us" or "µs"):
//
//	200us                    fixed
//	fixed:200us              fixed, explicit
//	uniform:100us-300us      uniform on [100us, 300us]
//	normal:200us,50us        normal with mean 200us, standard deviation 50us;
//	                         negative draws become 0 (so Mean is slightly above
//	                         200us when the deviation is large)
//	exp:200us                exponential with mean 200us
//	lognormal:200us,100us    log-normal whose own mean is 200us and standard
//	                         deviation 100us
//
// A Dist is plain comparable data; the zero Dist is a fixed 0. Sample draws
// from a caller-owned *rand.Rand (math/rand/v2), so seeding is the caller's;
// the package keeps no state and no buffers.
package delay

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Kind names a distribution family.
type Kind uint8

const (
	Fixed Kind = iota
	Uniform
	Normal
	Exp
	LogNormal
)

var kindNames = [...]string{Fixed: "fixed", Uniform: "uniform", Normal: "normal", Exp: "exp", LogNormal: "lognormal"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", k)
}

// Dist is a delay distribution. A and B are its parameters: the value
// (Fixed), low and high bounds (Uniform), mean and standard deviation (Normal,
// LogNormal), mean (Exp; B unused).
type Dist struct {
	Kind Kind
	A, B time.Duration
}

// Constant returns the fixed distribution d.
func Constant(d time.Duration) Dist { return Dist{Kind: Fixed, A: d} }

// SyntaxError is a distribution text that cannot be parsed; it names the text.
type SyntaxError struct {
	Text string
	Msg  string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("delay %q: %s", e.Text, e.Msg) }

const forms = "want DUR, uniform:LO-HI, normal:MEAN,SD, exp:MEAN or lognormal:MEAN,SD (e.g. 200us, uniform:100us-300us)"

// Parse reads a distribution from text (see the package comment).
func Parse(s string) (Dist, error) {
	fail := func(format string, args ...any) (Dist, error) {
		return Dist{}, &SyntaxError{Text: s, Msg: fmt.Sprintf(format, args...)}
	}
	text := strings.TrimSpace(s)
	if text == "" {
		return fail("empty; %s", forms)
	}
	name, params, found := strings.Cut(text, ":")
	if !found {
		d, err := duration(text)
		if err != nil {
			return fail("%v; %s", err, forms)
		}
		return Constant(d), nil
	}
	two := func(sep string) (a, b time.Duration, err error) {
		x, y, ok := strings.Cut(params, sep)
		if !ok {
			return 0, 0, fmt.Errorf("%s wants two durations separated by %q", name, sep)
		}
		if a, err = duration(x); err != nil {
			return 0, 0, err
		}
		b, err = duration(y)
		return a, b, err
	}
	switch strings.ToLower(name) {
	case "fixed":
		d, err := duration(params)
		if err != nil {
			return fail("%v", err)
		}
		return Constant(d), nil
	case "uniform":
		lo, hi, err := two("-")
		if err != nil {
			return fail("%v", err)
		}
		if lo > hi {
			return fail("low bound %v above high bound %v", fmtDur(lo), fmtDur(hi))
		}
		return Dist{Kind: Uniform, A: lo, B: hi}, nil
	case "normal":
		m, sd, err := two(",")
		if err != nil {
			return fail("%v", err)
		}
		return Dist{Kind: Normal, A: m, B: sd}, nil
	case "exp":
		m, err := duration(params)
		if err != nil {
			return fail("%v", err)
		}
		return Dist{Kind: Exp, A: m}, nil
	case "lognormal":
		m, sd, err := two(",")
		if err != nil {
			return fail("%v", err)
		}
		if m == 0 {
			return fail("lognormal mean must be above 0")
		}
		return Dist{Kind: LogNormal, A: m, B: sd}, nil
	}
	return fail("unknown distribution %q; %s", name, forms)
}

// MustParse is Parse for constants in tests and defaults; it panics on error.
func MustParse(s string) Dist {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// duration parses one non-negative duration; a bare 0 is allowed.
func duration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, fmt.Errorf("missing duration")
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d, nil
}

// fmtDur prints d as time.Duration does, with "us" for microseconds so the
// text stays ASCII.
func fmtDur(d time.Duration) string { return strings.ReplaceAll(d.String(), "µs", "us") }

// String returns text that Parse turns back into the same Dist.
func (d Dist) String() string {
	switch d.Kind {
	case Fixed:
		return fmtDur(d.A)
	case Uniform:
		return "uniform:" + fmtDur(d.A) + "-" + fmtDur(d.B)
	case Normal:
		return "normal:" + fmtDur(d.A) + "," + fmtDur(d.B)
	case Exp:
		return "exp:" + fmtDur(d.A)
	case LogNormal:
		return "lognormal:" + fmtDur(d.A) + "," + fmtDur(d.B)
	}
	return d.Kind.String()
}

// MarshalText and UnmarshalText let a Dist sit in YAML/JSON configs as text.
func (d Dist) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

func (d *Dist) UnmarshalText(b []byte) error {
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// IsZero reports whether every sample is 0.
func (d Dist) IsZero() bool {
	switch d.Kind {
	case Uniform:
		return d.B == 0
	case Normal:
		return d.A == 0 && d.B == 0
	default:
		return d.A == 0
	}
}

// Mean returns the mean of the samples, including the effect of clamping
// negative normal draws to 0.
func (d Dist) Mean() time.Duration {
	switch d.Kind {
	case Uniform:
		return d.A + (d.B-d.A)/2
	case Normal:
		if d.B == 0 {
			return d.A
		}
		// E[max(0, X)] = µΦ(µ/σ) + σφ(µ/σ)
		mu, sd := float64(d.A), float64(d.B)
		z := mu / sd
		phi := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		cdf := 0.5 * math.Erfc(-z/math.Sqrt2)
		return toDuration(mu*cdf + sd*phi)
	}
	return d.A
}

// Sample draws one delay using r.
func (d Dist) Sample(r *rand.Rand) time.Duration {
	switch d.Kind {
	case Uniform:
		if d.B <= d.A {
			return d.A
		}
		// Both bounds are non-negative, so the span fits and +1 cannot wrap.
		return d.A + time.Duration(r.Uint64N(uint64(d.B-d.A)+1))
	case Normal:
		return toDuration(float64(d.A) + float64(d.B)*r.NormFloat64())
	case Exp:
		return toDuration(float64(d.A) * r.ExpFloat64())
	case LogNormal:
		mu, sigma := d.logParams()
		return toDuration(math.Exp(mu + sigma*r.NormFloat64()))
	}
	return d.A
}

// logParams converts the log-normal's mean m and deviation s into the
// parameters of the underlying normal: σ² = ln(1 + s²/m²), µ = ln m - σ²/2.
func (d Dist) logParams() (mu, sigma float64) {
	m, s := float64(d.A), float64(d.B)
	v := math.Log1p((s / m) * (s / m))
	return math.Log(m) - v/2, math.Sqrt(v)
}

// toDuration clamps a float nanosecond count to [0, max Duration].
func toDuration(ns float64) time.Duration {
	switch {
	case !(ns > 0): // also NaN
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	}
	return time.Duration(ns)
}
