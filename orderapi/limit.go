package orderapi

import (
	"context"
	"runtime"
	"sync"
	"time"
)

// bucket is a token bucket: rate tokens per second up to size. The zero
// rate means unlimited.
type bucket struct {
	mu     sync.Mutex
	rate   float64
	size   float64
	tokens float64
	last   time.Time
}

func newBucket(rate, size float64, now time.Time) *bucket {
	return &bucket{rate: rate, size: size, tokens: size, last: now}
}

// take spends one token at now. When none is left it returns false and how
// long until one will be.
func (b *bucket) take(now time.Time) (bool, time.Duration) {
	if b.rate == 0 {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(b.size, b.tokens+el.Seconds()*b.rate)
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
}

// spinWindow is how close to a deadline waitUntil stops sleeping and spins:
// Go timers overshoot by tens of microseconds to about a millisecond, too
// much for sub-millisecond matching delays.
const spinWindow = time.Millisecond

// waitUntil returns at deadline (monotonic clock), or early when ctx ends.
// It sleeps until spinWindow before the deadline, then spins yielding the
// processor, so a 200us delay is 200us and not 1.2ms. The spin is bounded by
// spinWindow per call.
func waitUntil(ctx context.Context, deadline time.Time) {
	if left := time.Until(deadline); left > spinWindow {
		t := time.NewTimer(left - spinWindow)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return
		}
	}
	for i := 0; time.Now().Before(deadline); i++ {
		if i&63 == 63 && ctx.Err() != nil {
			return
		}
		runtime.Gosched()
	}
}
