package event

import (
	"bufio"
	"github.com/cloudpcap/cloudpcap/internal/jsonstr"
	"io"
	"strconv"
	"sync"

	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

// Writer writes events as lines of the events file. It encodes by appending
// into one reused buffer (no reflection, no allocation per event in steady
// state). It is safe for concurrent use, so several pipelines (the lab's
// capture points) can share one file: each line is written whole under the
// lock.
type Writer struct {
	mu       sync.Mutex
	w        *bufio.Writer
	buf      []byte
	payloads bool
}

// NewWriter returns a writer on w that includes decoded payloads when
// payloads is set; call Flush at the end.
func NewWriter(w io.Writer, payloads bool) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), buf: make([]byte, 0, 1024), payloads: payloads}
}

// Flush writes buffered events.
func (j *Writer) Flush() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.w.Flush()
}

// Event writes e as one line (it implements the correlator's Sink).
func (j *Writer) Event(e *Event) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.buf = Append(j.buf[:0], e, j.payloads)
	_, err := j.w.Write(j.buf)
	return err
}

// Append appends e as one line of the events file, newline included, with
// its payload when payloads is set and e has one.
func Append(b []byte, e *Event, payloads bool) []byte {
	b = append(b, `{"kind":"`...)
	b = append(b, e.Kind.String()...)
	b = append(b, '"')
	b = appendKS(b, "conn", e.Conn)
	b = appendKV(b, "wire_ns", e.WireNS)
	switch e.Kind {
	case profile.Tick:
		if e.HasSeq {
			b = appendKU(b, "seq", e.Seq)
		}
		b = appendKS(b, "symbol", e.Symbol)
		if e.HasExch {
			b = appendKV(b, "exch_ns", e.ExchNS)
			b = appendKV(b, "feed_latency_ns", e.FeedLatencyNS)
		}
		b = appendKV(b, "first_wire_ns", e.FirstWireNS)
	case profile.Order:
		b = appendKS(b, "order_id", e.OrderID)
		b = appendKV(b, "first_wire_ns", e.FirstWireNS)
		b = append(b, `,"match":"`...)
		b = append(b, e.Match.String()...)
		b = append(b, '"')
		if e.Match != MatchNone {
			b = appendKS(b, "tick_conn", e.TickConn)
			b = appendKU(b, "tick_seq", e.TickSeq)
			b = appendKV(b, "tick_wire_ns", e.TickWireNS)
			b = appendKV(b, "tick_to_trade_ns", e.TickToTradeNS)
		}
	case profile.Ack:
		b = appendKS(b, "order_id", e.OrderID)
		if e.HasOrder {
			b = appendKV(b, "order_to_ack_ns", e.OrderToAckNS)
		}
		b = appendKS(b, "status", e.Status)
		b = appendKV(b, "first_wire_ns", e.FirstWireNS)
	}
	if payloads && e.Payload != nil {
		b = appendKS(b, "payload", e.Payload)
	}
	return append(b, '}', '\n')
}

func appendKV(b []byte, k string, v int64) []byte {
	b = append(b, ",\""...)
	b = append(b, k...)
	b = append(b, "\":"...)
	return strconv.AppendInt(b, v, 10)
}

func appendKU(b []byte, k string, v uint64) []byte {
	b = append(b, ",\""...)
	b = append(b, k...)
	b = append(b, "\":"...)
	return strconv.AppendUint(b, v, 10)
}

func appendKS(b []byte, k string, v []byte) []byte {
	b = append(b, ",\""...)
	b = append(b, k...)
	b = append(b, "\":"...)
	return jsonstr.AppendBytes(b, v)
}
