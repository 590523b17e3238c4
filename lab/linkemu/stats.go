package linkemu

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Stats is a snapshot of an emulator's counters, for the lab's run record
// (lab-linkemu --stats writes it as JSON).
type Stats struct {
	AtoB DirStats `json:"a2b"`
	BtoA DirStats `json:"b2a"`
	// A and B are the interfaces, Uptime the time since Start.
	A        string `json:"a"`
	B        string `json:"b"`
	UptimeNs int64  `json:"uptime_ns"`
	// SpinWindowNs and LateAfterNs are the precision settings in force.
	SpinWindowNs int64 `json:"spin_window_ns"`
	LateAfterNs  int64 `json:"late_after_ns"`
	// Offloads says whether GSO/GRO/TSO were switched off on A and B
	// ("off") or left as they were ("kept").
	Offloads string `json:"offloads"`
}

// DirStats counts one direction. Received = Forwarded + DroppedLoss +
// DroppedQueue + DroppedOversize + SendErrors + frames still held.
type DirStats struct {
	Params          string `json:"params"`
	Received        uint64 `json:"received"`
	Forwarded       uint64 `json:"forwarded"`
	Bytes           uint64 `json:"bytes"`
	DroppedLoss     uint64 `json:"dropped_loss"`
	DroppedQueue    uint64 `json:"dropped_queue"`
	DroppedOversize uint64 `json:"dropped_oversize"`
	SendErrors      uint64 `json:"send_errors"`
	// KernelDrops are frames the kernel dropped before the emulator read
	// them (socket receive buffer full).
	KernelDrops uint64 `json:"kernel_drops"`
	// Late counts frames released more than LateAfter after their due time.
	Late uint64 `json:"late"`
	// GSOFrames counts frames that arrived as GSO super-frames (offloads
	// left on at the sender) and were forwarded whole.
	GSOFrames uint64 `json:"gso_frames"`
	// ClockFallback counts frames whose kernel timestamp was missing or
	// implausible, so the receive time was read from the clock instead.
	ClockFallback uint64 `json:"clock_fallback"`
	// ReleaseError is the emulator's own error: release time minus due time
	// of every forwarded frame.
	ReleaseError ErrorStats `json:"release_error"`
	// ReceiveLatency is the time from a frame's kernel receive timestamp
	// to its admission by the receive loop; a frame whose receive latency
	// exceeds its delay cannot be released on time.
	ReceiveLatency ErrorStats `json:"receive_latency"`
}

// ErrorStats summarises the release error distribution.
type ErrorStats struct {
	Count  int64 `json:"count"`
	P50Ns  int64 `json:"p50_ns"`
	P90Ns  int64 `json:"p90_ns"`
	P99Ns  int64 `json:"p99_ns"`
	MaxNs  int64 `json:"max_ns"`
	MeanNs int64 `json:"mean_ns"`
}

// counters is the live, concurrently updated form of DirStats.
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

func summarise(h *hdrhistogram.Histogram) ErrorStats {
	if h.TotalCount() == 0 {
		return ErrorStats{}
	}
	return ErrorStats{
		Count:  h.TotalCount(),
		P50Ns:  h.ValueAtQuantile(50),
		P90Ns:  h.ValueAtQuantile(90),
		P99Ns:  h.ValueAtQuantile(99),
		MaxNs:  h.Max(),
		MeanNs: int64(h.Mean()),
	}
}

func (c *counters) snapshot() DirStats {
	s := DirStats{
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
