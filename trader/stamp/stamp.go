// Package stamp owns the trader's application timestamps file (`cloudpcap
// trader --timestamps`, app/<trader>.jsonl in a results folder): Stamp is
// one line of it, Append the trader's encoder and Decode the readers'
// decoder. docs/FORMATS.md describes the file field by field.
//
// The file has one "tick" line per tick that led to an order (written with
// its first order) and one "order" line per order, written once the order's
// fate is known:
//
//	{"kind":"tick","client":0,"conn":"127.0.0.1:5-127.0.0.1:8443","stream":"btcusdt@trade",
//	 "symbol":"BTCUSDT","seq":17,"exch_ns":..,"recv_ns":..,"decide_ns":..}
//	{"kind":"order","client":0,"order_id":"t0-3","symbol":"BTCUSDT","side":"BUY",
//	 "tick_conn":"127.0.0.1:5-127.0.0.1:8443","tick_seq":17,"order_conn":"127.0.0.1:6-127.0.0.1:8444",
//	 "recv_ns":..,"decide_ns":..,"send_ns":..,"wrote_ns":..,"ack_ns":..,"http_status":200,"status":"NEW"}
//
// Buffers: Append reads the Stamp during the call only and allocates
// nothing beyond growing b; Decode gives the Stamp memory of its own.
package stamp

import (
	"encoding/json"
	"errors"
	"github.com/cloudpcap/cloudpcap/internal/jsonstr"
	"strconv"
)

// Kinds of line.
const (
	Tick  = "tick"
	Order = "order"
)

// Stamp is one line of the timestamps file. Times are int64 nanoseconds
// since the Unix epoch, read from the trader's clock (time.Now once per
// event): recv_ns, the tick's message was read from the socket; decide_ns,
// the strategy returned; send_ns, a sender took the order; wrote_ns, the
// request was written to the connection; ack_ns, the response was read. A
// failed order has Error instead of Status and 0 for the times it did not
// reach.
type Stamp struct {
	Kind   string `json:"kind"`   // Tick or Order
	Client int    `json:"client"` // the trader's client number
	// tick
	Conn   string `json:"conn"`   // the feed's TCP connection, "local-remote"
	Stream string `json:"stream"` // the feed stream the tick came on
	ExchNS int64  `json:"exch_ns"`
	// tick and order
	Symbol   string `json:"symbol"`
	Seq      uint64 `json:"seq"` // the tick's sequence number
	RecvNS   int64  `json:"recv_ns"`
	DecideNS int64  `json:"decide_ns"`
	// order
	OrderID    Text   `json:"order_id"`
	Side       string `json:"side"`
	TickConn   string `json:"tick_conn"` // the tick's feed connection (Conn of its tick line)
	TickSeq    uint64 `json:"tick_seq"`
	OrderConn  string `json:"order_conn"` // the order API connection that carried it
	SendNS     int64  `json:"send_ns"`
	WroteNS    int64  `json:"wrote_ns"`
	AckNS      int64  `json:"ack_ns"`
	HTTPStatus int    `json:"http_status"` // 0 when no response came
	Status     Text   `json:"status"`      // the order API's status word
	Error      string `json:"error"`       // why the order failed; "" when it did not
}

// Text is a JSON string kept as bytes: the trader writes order ids and
// statuses from its request and response buffers without converting them.
type Text []byte

// UnmarshalText stores a copy of b.
func (t *Text) UnmarshalText(b []byte) error {
	*t = append((*t)[:0], b...)
	return nil
}

// ErrNoKind is returned for a line without a "kind".
var ErrNoKind = errors.New(`no "kind": not an application timestamp`)

// Decode fills s from one line of the file. Keys it does not know are
// skipped (newer trader versions may add some).
func Decode(line []byte, s *Stamp) error {
	*s = Stamp{}
	if err := json.Unmarshal(line, s); err != nil {
		return err
	}
	if s.Kind == "" {
		return ErrNoKind
	}
	return nil
}

// Append appends s as one line of the file, newline included: a Tick line
// or an Order line as the package documentation shows.
func Append(b []byte, s *Stamp) []byte {
	b = append(b, `{"kind":"`...)
	b = jsonstr.AppendInner(b, s.Kind)
	b = append(b, `","client":`...)
	b = strconv.AppendInt(b, int64(s.Client), 10)
	if s.Kind == Tick {
		b = appendStr(b, "conn", s.Conn)
		b = appendStr(b, "stream", s.Stream)
		b = appendStr(b, "symbol", s.Symbol)
		b = appendU(b, "seq", s.Seq)
		b = appendI(b, "exch_ns", s.ExchNS)
		b = appendI(b, "recv_ns", s.RecvNS)
		b = appendI(b, "decide_ns", s.DecideNS)
		return append(b, '}', '\n')
	}
	b = appendText(b, "order_id", s.OrderID)
	b = appendStr(b, "symbol", s.Symbol)
	b = appendStr(b, "side", s.Side)
	b = appendStr(b, "tick_conn", s.TickConn)
	b = appendU(b, "tick_seq", s.TickSeq)
	b = appendStr(b, "order_conn", s.OrderConn)
	b = appendI(b, "recv_ns", s.RecvNS)
	b = appendI(b, "decide_ns", s.DecideNS)
	b = appendI(b, "send_ns", s.SendNS)
	b = appendI(b, "wrote_ns", s.WroteNS)
	b = appendI(b, "ack_ns", s.AckNS)
	b = appendI(b, "http_status", int64(s.HTTPStatus))
	if s.Error != "" {
		b = appendStr(b, "error", s.Error)
	} else {
		b = appendText(b, "status", s.Status)
	}
	return append(b, '}', '\n')
}

func appendStr(b []byte, k, v string) []byte {
	return jsonstr.Append(appendKey(b, k), v)
}

func appendText(b []byte, k string, v Text) []byte {
	return jsonstr.AppendBytes(appendKey(b, k), v)
}

func appendKey(b []byte, k string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	return append(b, '"', ':')
}

func appendI(b []byte, k string, v int64) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendInt(b, v, 10)
}

func appendU(b []byte, k string, v uint64) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, `":`...)
	return strconv.AppendUint(b, v, 10)
}
