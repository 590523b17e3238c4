package linkemu

import (
	"math"
	"math/rand/v2"
)

// verdict is what a shaper decides for an arriving frame.
type verdict uint8

const (
	forward verdict = iota
	dropLoss
	dropQueue
)

// shaper is the link model of one direction, with no I/O: it decides whether
// an arriving frame is lost or tail-dropped and when it is due on the other
// side. The model is a serialiser (Rate) followed by a propagation delay
// (Delay plus a Jitter sample):
//
//	txEnd = max(rx, previous txEnd) + bits/Rate        (rx when Rate is 0)
//	due   = txEnd + max(0, Delay + jitter)
//	due   = max(due, previous due)                     unless Reorder
//
// Loss is drawn first (a lost frame never occupies the serialiser or the
// queue, as in netem), then the queue limit is checked against the frames
// the direction holds. Times are int64 nanoseconds on the kernel's
// CLOCK_REALTIME.
type shaper struct {
	p         Params
	limit     int
	rng       *rand.Rand
	lastTxEnd int64
	lastDue   int64
}

// Streams of the two directions, so one seed gives each its own sequence.
const (
	streamAtoB = 0x9e3779b97f4a7c15
	streamBtoA = 0xc2b2ae3d27d4eb4f
)

func newShaper(p Params, stream uint64) *shaper {
	return &shaper{p: p, limit: p.QueueLimit(), rng: rand.New(rand.NewPCG(p.Seed, stream))}
}

// admit decides the fate of a frame of wireBytes bytes received at rx while
// the direction holds held frames.
func (s *shaper) admit(rx int64, wireBytes int, held int) (int64, verdict) {
	p := &s.p
	if p.Loss > 0 && s.rng.Float64() < p.Loss {
		return 0, dropLoss
	}
	if held >= s.limit {
		return 0, dropQueue
	}
	base := rx
	if p.Rate > 0 {
		if s.lastTxEnd > base {
			base = s.lastTxEnd
		}
		base += txTime(wireBytes, p.Rate)
		s.lastTxEnd = base
	}
	d := int64(p.Delay)
	if p.Jitter > 0 {
		j := int64(p.Jitter)
		switch p.JitterDist {
		case Normal:
			d += int64(math.Round(s.rng.NormFloat64() * float64(j)))
		default:
			d += s.rng.Int64N(2*j+1) - j
		}
		if d < 0 {
			d = 0
		}
	}
	due := base + d
	if !p.Reorder && due < s.lastDue {
		due = s.lastDue
	}
	s.lastDue = due
	return due, forward
}

// txTime is the serialisation time in ns of n bytes at rate bits/s.
func txTime(n int, rate uint64) int64 {
	return int64(math.Round(float64(n) * 8e9 / float64(rate)))
}
