package trader

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

// counters of one client; atomics, so Stats can be read while running.
type counters struct {
	ticks      atomic.Uint64 // ticks decoded
	control    atomic.Uint64 // well-formed messages without a tick (subscription replies, ...)
	bad        atomic.Uint64 // messages that did not decode
	tickDrops  atomic.Uint64 // ticks dropped: strategy queue full
	decided    atomic.Uint64 // ticks the strategy has seen
	gaps       atomic.Uint64 // sequence jumps forward
	missing    atomic.Uint64 // sequence numbers skipped by those jumps
	resets     atomic.Uint64 // sequence went backwards (the feed restarted)
	connects   atomic.Uint64 // feed connections established
	reconnects atomic.Uint64 // of those, after a drop
	dialErrors atomic.Uint64 // feed connection attempts that failed
	orders     atomic.Uint64 // orders the strategy made
	orderDrops atomic.Uint64 // orders dropped: order queue full
	sent       atomic.Uint64 // orders written to a connection (or attempted)
	acked      atomic.Uint64 // orders answered 200
	orderConns atomic.Uint64 // order connections opened

	mu       sync.Mutex
	errors   map[string]uint64 // by reason: "http 429 code -1003", "rejected: ...", "transport"
	statuses map[string]uint64 // ack status (NEW, FILLED, REJECTED)
}

func newCounters() *counters {
	return &counters{errors: map[string]uint64{}, statuses: map[string]uint64{}}
}

func (c *counters) countError(reason string) {
	c.mu.Lock()
	c.errors[reason]++
	c.mu.Unlock()
}

// countStatus counts an ack status; s is a scratch slice (no allocation
// once the key exists).
func (c *counters) countStatus(s []byte) {
	c.mu.Lock()
	if _, ok := c.statuses[string(s)]; ok {
		c.statuses[string(s)]++
	} else {
		c.statuses[string(s)] = 1
	}
	c.mu.Unlock()
}

// hist is a latency histogram in ns (1 µs .. 1 min, 3 digits) with a lock.
type hist struct {
	mu sync.Mutex
	h  *hdrhistogram.Histogram
}

func newHist() *hist { return &hist{h: hdrhistogram.New(1, int64(time.Minute), 3)} }

func (h *hist) record(ns int64) {
	if ns < 1 {
		ns = 1
	}
	h.mu.Lock()
	h.h.RecordValue(ns) // values above the range are dropped by hdrhistogram; a minute is beyond any tick-to-trade
	h.mu.Unlock()
}

func (h *hist) mergeInto(dst *hdrhistogram.Histogram) {
	h.mu.Lock()
	dst.Merge(h.h)
	h.mu.Unlock()
}

// Latency summarises one histogram.
type Latency struct {
	Count uint64        `json:"count"`
	P50   time.Duration `json:"p50_ns"`
	P99   time.Duration `json:"p99_ns"`
	Max   time.Duration `json:"max_ns"`
}

func latencyOf(h *hdrhistogram.Histogram) Latency {
	return Latency{
		Count: uint64(h.TotalCount()),
		P50:   time.Duration(h.ValueAtQuantile(50)),
		P99:   time.Duration(h.ValueAtQuantile(99)),
		Max:   time.Duration(h.Max()),
	}
}

// Stats is a snapshot of all clients' counters.
type Stats struct {
	Clients    int               `json:"clients"`
	Elapsed    time.Duration     `json:"elapsed_ns"`
	Ticks      uint64            `json:"ticks"`
	Control    uint64            `json:"control"`
	Bad        uint64            `json:"bad"`
	TickDrops  uint64            `json:"tick_drops"`
	Decided    uint64            `json:"decided"`
	Gaps       uint64            `json:"gaps"`
	Missing    uint64            `json:"missing"`
	Resets     uint64            `json:"resets"`
	Connects   uint64            `json:"connects"`
	Reconnects uint64            `json:"reconnects"`
	DialErrors uint64            `json:"dial_errors"`
	Orders     uint64            `json:"orders"`
	OrderDrops uint64            `json:"order_drops"`
	Sent       uint64            `json:"sent"`
	Acked      uint64            `json:"acked"`
	OrderConns uint64            `json:"order_conns"`
	Statuses   map[string]uint64 `json:"statuses"` // ack status: NEW, FILLED, REJECTED
	Errors     map[string]uint64 `json:"errors"`   // by reason

	TickToDecision Latency `json:"tick_to_decision"` // tick read -> strategy decided (ticks that led to orders)
	TickToWire     Latency `json:"tick_to_wire"`     // tick read -> order written to the socket
	OrderToAck     Latency `json:"order_to_ack"`     // order written -> ack read
}

func (s *Stats) add(c *counters) {
	s.Ticks += c.ticks.Load()
	s.Control += c.control.Load()
	s.Bad += c.bad.Load()
	s.TickDrops += c.tickDrops.Load()
	s.Decided += c.decided.Load()
	s.Gaps += c.gaps.Load()
	s.Missing += c.missing.Load()
	s.Resets += c.resets.Load()
	s.Connects += c.connects.Load()
	s.Reconnects += c.reconnects.Load()
	s.DialErrors += c.dialErrors.Load()
	s.Orders += c.orders.Load()
	s.OrderDrops += c.orderDrops.Load()
	s.Sent += c.sent.Load()
	s.Acked += c.acked.Load()
	s.OrderConns += c.orderConns.Load()
	c.mu.Lock()
	for k, v := range c.errors {
		s.Errors[k] += v
	}
	for k, v := range c.statuses {
		s.Statuses[k] += v
	}
	c.mu.Unlock()
}

// ErrorCount is the total of Errors.
func (s Stats) ErrorCount() uint64 {
	var n uint64
	for _, v := range s.Errors {
		n += v
	}
	return n
}

// WriteSummary prints the short app-side summary shown at exit.
func (s Stats) WriteSummary(w io.Writer) {
	fmt.Fprintf(w, "trader: %d client(s), %v\n", s.Clients, s.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  feeds:  %d ticks, %d control, %d undecodable, %d dropped (queue full); %d gaps (%d seq missing), %d seq resets; %d connects, %d reconnects, %d failed dials\n",
		s.Ticks, s.Control, s.Bad, s.TickDrops, s.Gaps, s.Missing, s.Resets, s.Connects, s.Reconnects, s.DialErrors)
	fmt.Fprintf(w, "  orders: %d decided, %d dropped (queue full), %d sent, %d acked %s, %d errors%s; %d order connections\n",
		s.Orders, s.OrderDrops, s.Sent, s.Acked, mapText(s.Statuses), s.ErrorCount(), errText(s.Errors), s.OrderConns)
	line := func(name string, l Latency) {
		if l.Count == 0 {
			fmt.Fprintf(w, "  %-17s no samples\n", name+":")
			return
		}
		fmt.Fprintf(w, "  %-17s p50 %v  p99 %v  max %v  (n=%d)\n", name+":", units.FormatDuration(l.P50), units.FormatDuration(l.P99), units.FormatDuration(l.Max), l.Count)
	}
	line("tick->decision", s.TickToDecision)
	line("tick->order wire", s.TickToWire)
	line("order->ack", s.OrderToAck)
}

func mapText(m map[string]uint64) string {
	if len(m) == 0 {
		return "()"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func errText(m map[string]uint64) string {
	if len(m) == 0 {
		return ""
	}
	return " " + mapText(m)
}
