package units

import (
	"fmt"
	"strings"
	"time"
)

// DistKind names a distribution family.
type DistKind uint8

const (
	Fixed DistKind = iota
	Uniform
	Normal
	Exp
	LogNormal
)

var distNames = [...]string{Fixed: "fixed", Uniform: "uniform", Normal: "normal", Exp: "exp", LogNormal: "lognormal"}

func (k DistKind) String() string {
	if int(k) < len(distNames) {
		return distNames[k]
	}
	return fmt.Sprintf("DistKind(%d)", k)
}

// Dist is a distribution of durations as text describes it; internal/dist
// samples it. A and B are its parameters: the value (Fixed), low and high
// bounds (Uniform), mean and standard deviation (Normal, LogNormal), mean
// (Exp; B unused). The zero Dist is a fixed 0.
//
// Text forms (ParseDist; durations as ParseDuration reads them):
//
//	200us                    fixed
//	fixed:200us              fixed, explicit
//	uniform:100us-300us      uniform on [100us, 300us]
//	normal:200us,50us        normal with mean 200us, standard deviation 50us
//	exp:200us                exponential with mean 200us
//	lognormal:200us,100us    log-normal whose own mean is 200us and standard
//	                         deviation 100us (the mean must be above 0)
type Dist struct {
	Kind DistKind
	A, B time.Duration
}

const distForms = "want DUR, uniform:LO-HI, normal:MEAN,SD, exp:MEAN or lognormal:MEAN,SD (e.g. 200us, uniform:100us-300us)"

// ParseDist reads a distribution (see Dist). The family name is
// case-insensitive and space around each duration is ignored.
func ParseDist(s string) (Dist, error) {
	fail := func(format string, args ...any) (Dist, error) {
		return Dist{}, &Error{Text: s, Msg: fmt.Sprintf(format, args...)}
	}
	text := strings.TrimSpace(s)
	if text == "" {
		return fail("empty; %s", distForms)
	}
	name, params, found := strings.Cut(text, ":")
	if !found {
		d, why := duration(text)
		if why != "" {
			return Dist{}, errorf(s, text, why+"; "+distForms)
		}
		return Dist{Kind: Fixed, A: d}, nil
	}
	kind, ok := distKind(name)
	if !ok {
		return fail("unknown distribution %q; %s", name, distForms)
	}
	d, msg := distParams(kind, name, params)
	if msg != "" {
		return fail("%s", msg)
	}
	return d, nil
}

func distKind(name string) (DistKind, bool) {
	for k, n := range distNames {
		if strings.ToLower(name) == n {
			return DistKind(k), true
		}
	}
	return 0, false
}

// distParams reads the parameters of a distribution of the given kind
// (name as written); msg says what is wrong with them.
func distParams(kind DistKind, name, params string) (d Dist, msg string) {
	d.Kind = kind
	switch kind {
	case Fixed, Exp:
		d.A, msg = distDuration(params)
		return d, msg
	case Uniform:
		d.A, d.B, msg = distPair(name, params, "-")
		if msg == "" && d.A > d.B {
			msg = fmt.Sprintf("low bound %v above high bound %v", FormatDuration(d.A), FormatDuration(d.B))
		}
	default: // Normal, LogNormal
		d.A, d.B, msg = distPair(name, params, ",")
		if msg == "" && kind == LogNormal && d.A == 0 {
			msg = "lognormal mean must be above 0"
		}
	}
	return d, msg
}

// distPair reads two durations separated by sep.
func distPair(name, params, sep string) (a, b time.Duration, msg string) {
	x, y, ok := strings.Cut(params, sep)
	if !ok {
		return 0, 0, fmt.Sprintf("%s wants two durations separated by %q", name, sep)
	}
	if a, msg = distDuration(x); msg != "" {
		return 0, 0, msg
	}
	b, msg = distDuration(y)
	return a, b, msg
}

// distDuration reads one parameter; msg quotes it when it is wrong.
func distDuration(s string) (time.Duration, string) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, "missing duration"
	}
	d, why := duration(t)
	if why != "" {
		return 0, fmt.Sprintf("%q %s", t, why)
	}
	return d, ""
}

// String returns text that ParseDist turns back into the same Dist.
func (d Dist) String() string {
	switch d.Kind {
	case Fixed:
		return FormatDuration(d.A)
	case Uniform:
		return "uniform:" + FormatDuration(d.A) + "-" + FormatDuration(d.B)
	case Normal, LogNormal:
		return d.Kind.String() + ":" + FormatDuration(d.A) + "," + FormatDuration(d.B)
	case Exp:
		return "exp:" + FormatDuration(d.A)
	}
	return d.Kind.String()
}
