package linkemu

import (
	"fmt"
	"time"
)

// DefaultQueue is the queue limit, in frames, of a direction whose Params
// leave Queue at 0 (netem's default limit).
const DefaultQueue = 1000

// MaxDelay bounds Delay and Jitter: a lab link is a LAN or WAN hop, and a
// larger value is almost certainly a unit mistake ("2s" for "2ms").
const MaxDelay = 10 * time.Second

// Dist is the distribution of the jitter added to Delay.
type Dist uint8

const (
	// Uniform jitter draws from [Delay-Jitter, Delay+Jitter] (netem's
	// default when no distribution is named).
	Uniform Dist = iota
	// Normal jitter draws from a normal distribution with mean Delay and
	// standard deviation Jitter (netem "distribution normal").
	Normal
)

var distNames = [...]string{Uniform: "uniform", Normal: "normal"}

func (d Dist) String() string {
	if int(d) < len(distNames) {
		return distNames[d]
	}
	return fmt.Sprintf("Dist(%d)", d)
}

// Params is the impairment of one direction of a link. It is plain,
// comparable data; the zero Params is a perfect link (no delay, no loss, no
// rate limit, the default queue, no reordering).
type Params struct {
	// Delay is the one-way delay added to every frame.
	Delay time.Duration
	// Jitter spreads the delay of each frame around Delay, as JitterDist
	// says. A drawn delay below zero becomes zero.
	Jitter     time.Duration
	JitterDist Dist
	// Loss is the probability, in [0, 1], that a frame is dropped.
	Loss float64
	// Rate is the link's bit rate in bits/s (Ethernet header included,
	// preamble and FCS not); 0 means unlimited.
	Rate uint64
	// Queue is the most frames held by the direction (delayed or waiting
	// to be serialised); a frame arriving to a full queue is dropped. 0
	// means DefaultQueue.
	Queue int
	// Reorder allows jitter to reorder frames. Without it a frame never
	// leaves before the frame that arrived before it (its due time is at
	// least the previous frame's).
	Reorder bool
	// Seed seeds the direction's random source (loss and jitter); the two
	// directions of a Link draw from different streams even with the same
	// seed.
	Seed uint64
}

// Link is a bidirectional link between ends A and B. Each direction has its
// own Params; a scenario's "delay: 2ms" sets Delay to 2ms in both.
type Link struct {
	AtoB Params
	BtoA Params
}

// Symmetric returns the link whose two directions both have p.
func Symmetric(p Params) Link { return Link{AtoB: p, BtoA: p} }

// FieldError is a Params field with a bad value. Field is the field's name
// in the k=v syntax (delay, jitter, dist, loss, rate, queue, reorder, seed).
type FieldError struct {
	Field string
	Value string
	Msg   string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("linkemu: %s %s: %s", e.Field, e.Value, e.Msg)
}

// QueueLimit is the effective queue limit: Queue, or DefaultQueue when 0.
func (p Params) QueueLimit() int {
	if p.Queue == 0 {
		return DefaultQueue
	}
	return p.Queue
}

// Impaired reports whether p changes anything at all about a link (a zero
// Params forwards every frame at once).
func (p Params) Impaired() bool {
	return p.Delay != 0 || p.Jitter != 0 || p.Loss != 0 || p.Rate != 0
}

// Validate checks every field and returns a *FieldError for the first bad
// one.
func (p Params) Validate() error {
	switch {
	case p.Delay < 0:
		return &FieldError{"delay", p.Delay.String(), "is negative"}
	case p.Delay > MaxDelay:
		return &FieldError{"delay", p.Delay.String(), "is above " + MaxDelay.String()}
	case p.Jitter < 0:
		return &FieldError{"jitter", p.Jitter.String(), "is negative"}
	case p.Jitter > MaxDelay:
		return &FieldError{"jitter", p.Jitter.String(), "is above " + MaxDelay.String()}
	case int(p.JitterDist) >= len(distNames):
		return &FieldError{"dist", p.JitterDist.String(), "is not uniform or normal"}
	case p.Loss != p.Loss || p.Loss < 0 || p.Loss > 1: // NaN included
		return &FieldError{"loss", fmt.Sprint(p.Loss), "is not a probability in [0, 1]"}
	case p.Queue < 0:
		return &FieldError{"queue", fmt.Sprint(p.Queue), "is negative"}
	case p.Queue > 1<<20:
		return &FieldError{"queue", fmt.Sprint(p.Queue), "is above 1048576 frames"}
	case p.Rate != 0 && p.Rate < 8000:
		return &FieldError{"rate", fmt.Sprint(p.Rate), "is below 8kbit (1000 bytes/s)"}
	}
	return nil
}

// Validate checks both directions; errors name the direction ("a2b" or
// "b2a").
func (l Link) Validate() error {
	if err := l.AtoB.Validate(); err != nil {
		return fmt.Errorf("a2b: %w", err)
	}
	if err := l.BtoA.Validate(); err != nil {
		return fmt.Errorf("b2a: %w", err)
	}
	return nil
}
