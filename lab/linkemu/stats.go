package linkemu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cloudpcap/cloudpcap/lab/results"
)

// counters is the live, concurrently updated form of
// results.EmulatorDirStats.
type counters struct {
	received, forwarded, bytes                 atomic.Uint64
	dropLoss, dropQueue, dropOversize, sendErr atomic.Uint64
	late, gso, clockFallback, kernelDrops      atomic.Uint64
	mu                                         sync.Mutex
	hist, rxHist                               *hdrhistogram.Histogram
}

func newCounters() *counters {
	// 1 ns to 10 s at 3 significant digits.
	return &counters{
		hist:   hdrhistogram.New(1, int64(10*time.Second), 3),
		rxHist: hdrhistogram.New(1, int64(10*time.Second), 3),
	}
}

func clampNs(ns int64) int64 { return min(max(ns, 1), int64(10*time.Second)) }

func (c *counters) recordError(ns int64) {
	c.mu.Lock()
	_ = c.hist.RecordValue(clampNs(ns)) // cannot fail: clamped to the range
	c.mu.Unlock()
}

func (c *counters) recordReceive(ns int64) {
	c.mu.Lock()
	_ = c.rxHist.RecordValue(clampNs(ns))
	c.mu.Unlock()
}

func summarise(h *hdrhistogram.Histogram) results.EmulatorQuantiles {
	if h.TotalCount() == 0 {
		return results.EmulatorQuantiles{}
	}
	return results.EmulatorQuantiles{
		Count:  h.TotalCount(),
		P50Ns:  h.ValueAtQuantile(50),
		P90Ns:  h.ValueAtQuantile(90),
		P99Ns:  h.ValueAtQuantile(99),
		MaxNs:  h.Max(),
		MeanNs: int64(h.Mean()),
	}
}

func (c *counters) snapshot() results.EmulatorDirStats {
	s := results.EmulatorDirStats{
		Received:        c.received.Load(),
		Forwarded:       c.forwarded.Load(),
		Bytes:           c.bytes.Load(),
		DroppedLoss:     c.dropLoss.Load(),
		DroppedQueue:    c.dropQueue.Load(),
		DroppedOversize: c.dropOversize.Load(),
		SendErrors:      c.sendErr.Load(),
		KernelDrops:     c.kernelDrops.Load(),
		Late:            c.late.Load(),
		GSOFrames:       c.gso.Load(),
		ClockFallback:   c.clockFallback.Load(),
	}
	c.mu.Lock()
	s.ReleaseError = summarise(c.hist)
	s.ReceiveLatency = summarise(c.rxHist)
	c.mu.Unlock()
	return s
}
