package feed

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

// schedule yields the due time of each event as an offset from the start.
// Offsets never decrease. Each generator owns its schedule.
type schedule interface {
	next() time.Duration
}

// pattern is a parsed --pattern; it makes one schedule per symbol.
type pattern struct {
	kind   string
	rate   float64 // constant, poisson
	n      int     // burst: messages per burst
	span   time.Duration
	period time.Duration
	stages []stage
}

type stage struct {
	rate float64
	dur  time.Duration
}

func patternError(s, why string) error {
	return fmt.Errorf("--pattern %q: %s (want constant, poisson, burst:N/T@P or staged:R@D,R@D...)", s, why)
}

// parsePattern parses a --pattern value; rate is --rate.
func parsePattern(s string, rate float64) (pattern, error) {
	name, arg, _ := strings.Cut(s, ":")
	switch name {
	case "constant", "poisson":
		if arg != "" {
			return pattern{}, patternError(s, name+" takes no argument; the rate is --rate")
		}
		return pattern{kind: name, rate: rate}, nil
	case "burst":
		ns, rest, ok1 := strings.Cut(arg, "/")
		ts, ps, ok2 := strings.Cut(rest, "@")
		if !ok1 || !ok2 {
			return pattern{}, patternError(s, "burst wants N/T@P, for example burst:100/1ms@100ms")
		}
		n, err := strconv.Atoi(ns)
		if err != nil || n < 1 || n > 1e6 {
			return pattern{}, patternError(s, "burst size "+strconv.Quote(ns)+" is not 1 to 1000000")
		}
		span, err := units.ParseDuration(ts)
		if err != nil {
			return pattern{}, patternError(s, "burst length "+strconv.Quote(ts)+" is not a duration")
		}
		period, err := units.ParseDuration(ps)
		if err != nil || period == 0 {
			return pattern{}, patternError(s, "burst period "+strconv.Quote(ps)+" is not a positive duration")
		}
		if span >= period {
			return pattern{}, patternError(s, "burst length must be shorter than its period")
		}
		return pattern{kind: name, n: n, span: span, period: period}, nil
	case "staged":
		if arg == "" {
			return pattern{}, patternError(s, "staged wants at least one R@D")
		}
		p := pattern{kind: name}
		any := false
		for _, part := range strings.Split(arg, ",") {
			rs, ds, ok := strings.Cut(part, "@")
			if !ok {
				return pattern{}, patternError(s, "stage "+strconv.Quote(part)+" is not R@D")
			}
			r, err := strconv.ParseFloat(rs, 64)
			if err != nil || r < 0 || r > 1e6 || math.IsNaN(r) {
				return pattern{}, patternError(s, "stage rate "+strconv.Quote(rs)+" is not 0 to 1000000")
			}
			d, err := units.ParseDuration(ds)
			if err != nil || d == 0 {
				return pattern{}, patternError(s, "stage length "+strconv.Quote(ds)+" is not a positive duration")
			}
			any = any || r > 0
			p.stages = append(p.stages, stage{r, d})
		}
		if !any {
			return pattern{}, patternError(s, "every stage has rate 0")
		}
		return p, nil
	}
	return pattern{}, patternError(s, "unknown pattern")
}

// newSchedule makes a schedule; rng is used by poisson only.
func (p pattern) newSchedule(rng *rand.Rand) schedule {
	switch p.kind {
	case "poisson":
		return &poissonSchedule{rate: p.rate, rng: rng}
	case "burst":
		return &burstSchedule{p: p}
	case "staged":
		return &stagedSchedule{stages: p.stages}
	}
	return &constantSchedule{rate: p.rate}
}

type constantSchedule struct {
	rate float64
	k    int64
}

func (s *constantSchedule) next() time.Duration {
	d := time.Duration(float64(s.k) * 1e9 / s.rate)
	s.k++
	return d
}

type poissonSchedule struct {
	rate float64
	rng  *rand.Rand
	at   float64 // ns
}

func (s *poissonSchedule) next() time.Duration {
	s.at += s.rng.ExpFloat64() * 1e9 / s.rate
	return time.Duration(s.at)
}

type burstSchedule struct {
	p pattern
	k int64
}

func (s *burstSchedule) next() time.Duration {
	n := int64(s.p.n)
	burst, i := s.k/n, s.k%n
	s.k++
	return time.Duration(burst)*s.p.period + time.Duration(i)*s.p.span/time.Duration(n)
}

type stagedSchedule struct {
	stages []stage
	i      int           // current stage
	start  time.Duration // its start offset
	k      int64         // events so far in it
}

func (s *stagedSchedule) next() time.Duration {
	for {
		st := s.stages[s.i]
		if st.rate > 0 {
			d := time.Duration(float64(s.k) * 1e9 / st.rate)
			if d < st.dur {
				s.k++
				return s.start + d
			}
		}
		s.start += st.dur
		s.k = 0
		s.i = (s.i + 1) % len(s.stages)
	}
}
