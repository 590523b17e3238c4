// Package dist samples random delays: the order API's simulated matching
// latency (--ack-delay) and the trader's think time.
//
// A Dist is the kind and parameters that units.ParseDist reads from text
// ("200us", "uniform:100us-300us", "normal:200us,50us", "exp:200us",
// "lognormal:200us,100us"; internal/units holds the grammar). Here it gets
// what sampling needs:
//
//	fixed      always A
//	uniform    uniform on [A, B]
//	normal     normal with mean A, standard deviation B; negative draws
//	           become 0 (so Mean is slightly above A when B is large)
//	exp        exponential with mean A
//	lognormal  log-normal whose own mean is A and standard deviation B
//
// A Dist is plain comparable data; the zero Dist is a fixed 0. Sample draws
// from a caller-owned *rand.Rand (math/rand/v2), so seeding is the caller's;
// the package keeps no state and no buffers.
package dist

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

// Dist is a delay distribution (see units.Dist for its fields).
type Dist units.Dist

// Constant returns the fixed distribution d.
func Constant(d time.Duration) Dist { return Dist{Kind: units.Fixed, A: d} }

// Parse reads a distribution from text (units.ParseDist); errors are
// *units.Error.
func Parse(s string) (Dist, error) {
	d, err := units.ParseDist(s)
	return Dist(d), err
}

// MustParse is Parse for constants in tests and defaults; it panics on error.
func MustParse(s string) Dist {
	d, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return d
}

// String returns text that Parse turns back into the same Dist.
func (d Dist) String() string { return units.Dist(d).String() }

// MarshalText and UnmarshalText let a Dist sit in flags and JSON configs as text.
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
	case units.Uniform:
		return d.B == 0
	case units.Normal:
		return d.A == 0 && d.B == 0
	default:
		return d.A == 0
	}
}

// Mean returns the mean of the samples, including the effect of clamping
// negative normal draws to 0.
func (d Dist) Mean() time.Duration {
	switch d.Kind {
	case units.Uniform:
		return d.A + (d.B-d.A)/2
	case units.Normal:
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
	case units.Uniform:
		if d.B <= d.A {
			return d.A
		}
		// Both bounds are non-negative, so the span fits and +1 cannot wrap.
		return d.A + time.Duration(r.Uint64N(uint64(d.B-d.A)+1))
	case units.Normal:
		return toDuration(float64(d.A) + float64(d.B)*r.NormFloat64())
	case units.Exp:
		return toDuration(float64(d.A) * r.ExpFloat64())
	case units.LogNormal:
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
