// Package event owns the events file (events.jsonl, `analyze --events`):
// Event is one line of it, Writer is the monitor's encoder and Decode the
// readers' decoder. docs/FORMATS.md describes the file field by field.
//
// One JSON object per line, keys in a fixed order per kind:
//
//	{"kind":"tick","conn":"198.18.64.2:40000-198.18.0.2:8443","wire_ns":..,"seq":17,"symbol":"BTCUSDT","exch_ns":..,"feed_latency_ns":..,"first_wire_ns":..}
//	{"kind":"order","conn":..,"wire_ns":..,"order_id":"t1-3","first_wire_ns":..,"match":"explicit","tick_conn":..,"tick_seq":17,"tick_wire_ns":..,"tick_to_trade_ns":..}
//	{"kind":"ack","conn":..,"wire_ns":..,"order_id":"t1-3","order_to_ack_ns":..,"status":"NEW","first_wire_ns":..}
//	{"kind":"other","conn":..,"wire_ns":..}
//
// Buffers: an Event handed to Writer.Event points into the caller's
// buffers and is used during the call only; Writer encodes into one reused
// buffer and allocates nothing per event in steady state. Decode gives the
// event byte slices of its own (the caller may keep them).
package event

import "github.com/cloudpcap/cloudpcap/monitor/profile"

// Match says how an order was tied to its tick.
type Match uint8

const (
	MatchNone     Match = iota // no tick seen before the order
	MatchExplicit              // the order names its tick (tick_feed, tick_seq)
	MatchLastTick              // the last tick seen by the order's host
)

func (m Match) String() string {
	switch m {
	case MatchExplicit:
		return "explicit"
	case MatchLastTick:
		return "last_tick"
	}
	return "none"
}

// Event is one line of the events file. Times are int64 nanoseconds since
// the Unix epoch taken from the capture; latencies are nanoseconds. The
// Has* flags say which optional keys the line carries.
type Event struct {
	Kind        profile.Kind // tick, order, ack or other
	Conn        []byte       // "client:port-server:port" of the TCP connection
	WireNS      int64        // the segment that completed the message
	FirstWireNS int64        // the message's first segment (not written for other)
	// tick
	Seq           uint64
	HasSeq        bool
	Symbol        []byte
	ExchNS        int64 // the exchange's timestamp inside the message
	FeedLatencyNS int64 // WireNS - ExchNS
	HasExch       bool  // exch_ns and feed_latency_ns are present
	// order; the tick_* fields are present when Match is not MatchNone
	OrderID       []byte
	TickConn      []byte
	TickSeq       uint64
	TickWireNS    int64
	TickToTradeNS int64 // WireNS - TickWireNS
	Match         Match
	// ack
	OrderToAckNS int64 // WireNS - the order's WireNS
	HasOrder     bool  // the ack was paired with an order: order_to_ack_ns is present
	Status       []byte
	// Payload is the decoded message text, written only by a Writer that
	// asks for payloads.
	Payload []byte
}
