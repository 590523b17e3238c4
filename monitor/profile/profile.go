// Package profile maps decoded application messages to the fields the
// monitor correlates: for feed messages (WebSocket, server to client) the
// stream, symbol, sequence number and exchange timestamp; for orders (HTTP
// requests to an order API) the client order id, symbol and the tick the
// order names; for acks (the paired HTTP responses) the order ids and status.
//
// Profiles: lab (cloudpcap's own feed), binance, coinbase, okx, bybit,
// kraken, a generic one built from JSON paths, and auto, which picks one per
// message by its content. Unparseable messages are reported as not matched,
// never as a fatal error.
//
// Buffers: Fields' byte slices point into the message given to Feed, Order
// or Ack and are valid only as long as that message; copy what you keep.
// Matching allocates nothing.
//
// The zero-allocation JSON scanner in json.go is lenient and deliberately
// not shared with feed/format's strict one: it looks fields up by path and
// ignores what it does not read (a truncated tail, a missing comma, trailing
// data), because a real exchange's message that carries the fields must
// match, whereas feed/format must reject and position every malformed byte
// of the lab's own formats, so one scanner would change one side's results.
package profile

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Kind is what a message is to the monitor.
type Kind uint8

const (
	Other Kind = iota
	Tick
	Order
	Ack
)

func (k Kind) String() string {
	switch k {
	case Tick:
		return "tick"
	case Order:
		return "order"
	case Ack:
		return "ack"
	}
	return "other"
}

// Fields is what a profile extracts from one message.
type Fields struct {
	Kind    Kind
	Profile string // name of the profile that matched

	// Ticks.
	Stream     []byte // per-stream sequence scope (e.g. "btcusdt@trade")
	Symbol     []byte
	Seq        uint64
	HasSeq     bool
	Contiguous bool // Seq is expected to grow by exactly one per message (gap detection)
	ExchNS     int64
	HasExch    bool

	// Orders and acks.
	OrderID     []byte // client order id
	ExchOrderID []byte // exchange-assigned order id (acks)
	Status      []byte
	TickFeed    []byte // the feed connection the order names (lab trader extension)
	TickSeq     uint64
	HasTick     bool
}

// Reset clears f for reuse.
func (f *Fields) Reset() { *f = Fields{} }

// Profile decodes one exchange's message formats.
type Profile struct {
	name  string
	feed  func(msg []byte, f *Fields) bool
	order func(method, target, body []byte, f *Fields) bool
	ack   func(body []byte, f *Fields)
}

// Name is the profile's name as given to --profile.
func (p *Profile) Name() string { return p.name }

// Feed decodes a server-to-client message of a market-data connection. It
// returns false (f.Kind == Other) for messages that are not ticks:
// subscription answers, heartbeats, or content the profile does not know.
func (p *Profile) Feed(msg []byte, f *Fields) bool {
	f.Reset()
	if p.feed(msg, f) {
		f.Kind = Tick
		if f.Profile == "" {
			f.Profile = p.name
		}
		return true
	}
	f.Reset()
	return false
}

// Order decodes an HTTP request (method, request target with query, body).
// It returns false for requests that are not order placements.
func (p *Profile) Order(method, target, body []byte, f *Fields) bool {
	f.Reset()
	if string(method) != "POST" {
		return false
	}
	if p.order(method, target, body, f) {
		f.Kind = Order
		if f.Profile == "" {
			f.Profile = p.name
		}
		labTickRef(body, f)
		return true
	}
	f.Reset()
	return false
}

// Ack decodes the response to an order. It always classifies the message as
// an ack (the HTTP pairing says it is one) and fills what it can find.
func (p *Profile) Ack(body []byte, f *Fields) {
	f.Reset()
	p.ack(body, f)
	f.Kind = Ack
	if f.Profile == "" {
		f.Profile = p.name
	}
}

var registry = map[string]*Profile{}

func register(p *Profile) { registry[p.name] = p }

// Names lists the profiles accepted by ByName.
func Names() []string {
	n := make([]string, 0, len(registry)+1)
	for k := range registry {
		n = append(n, k)
	}
	n = append(n, "auto")
	sort.Strings(n)
	return n
}

// ByName returns a named profile ("auto" included).
func ByName(name string) (*Profile, error) {
	if name == "auto" || name == "" {
		return auto, nil
	}
	if p, ok := registry[name]; ok {
		return p, nil
	}
	return nil, fmt.Errorf("profile %q: unknown (want one of %s)", name, strings.Join(Names(), ", "))
}

// labTickRef reads the lab trader's tick reference (tick_feed, tick_seq),
// which any order body in JSON may carry whatever the exchange format.
func labTickRef(body []byte, f *Fields) {
	if i := skipWS(body, 0); i >= len(body) || body[i] != '{' {
		return
	}
	if v, ok := field(body, "tick_feed"); ok {
		if s, ok := str(v); ok {
			f.TickFeed = s
		}
	}
	if v, ok := field(body, "tick_seq"); ok {
		if n, ok := uintVal(v); ok {
			f.TickSeq, f.HasTick = n, true
		}
	}
}

// jsonOrForm returns the value of key from a JSON object body, or from a
// form-encoded body, or from the query string of target (Binance accepts
// order parameters in any of them).
func jsonOrForm(target, body []byte, key string) ([]byte, bool) {
	i := skipWS(body, 0)
	if i < len(body) && body[i] == '{' {
		v, ok := field(body, key)
		if !ok {
			return nil, false
		}
		if s, ok := str(v); ok {
			return s, true
		}
		return v, true
	}
	if v, ok := formValue(body, key); ok {
		return v, true
	}
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		return formValue(target[q+1:], key)
	}
	return nil, false
}

// formValue finds key in an application/x-www-form-urlencoded string. The
// value is returned still encoded (ids and symbols do not need decoding).
func formValue(b []byte, key string) ([]byte, bool) {
	for len(b) > 0 {
		amp := bytes.IndexByte(b, '&')
		pair := b
		if amp >= 0 {
			pair, b = b[:amp], b[amp+1:]
		} else {
			b = nil
		}
		if eq := bytes.IndexByte(pair, '='); eq >= 0 && string(pair[:eq]) == key {
			return pair[eq+1:], true
		}
	}
	return nil, false
}

// pathIs reports whether the path of target (without query) equals one of ps.
func pathIs(target []byte, ps ...string) bool {
	if q := bytes.IndexByte(target, '?'); q >= 0 {
		target = target[:q]
	}
	for _, p := range ps {
		if string(target) == p {
			return true
		}
	}
	return false
}

func setStr(dst *[]byte, v []byte, ok bool) {
	if !ok {
		return
	}
	if s, ok := str(v); ok {
		*dst = s
	} else {
		*dst = v
	}
}

func setUint(dst *uint64, has *bool, v []byte, ok bool) {
	if !ok {
		return
	}
	if n, ok := uintVal(v); ok {
		*dst, *has = n, true
	}
}

func setEpoch(f *Fields, v []byte, ok bool, u Unit) {
	if !ok {
		return
	}
	if n, ok := intVal(v); ok && n > 0 {
		if ns := epochNS(n, u); ns > 0 {
			f.ExchNS, f.HasExch = ns, true
		}
	}
}

func setRFC3339(f *Fields, v []byte, ok bool) {
	if !ok {
		return
	}
	if n, ok := rfc3339NS(v); ok {
		f.ExchNS, f.HasExch = n, true
	}
}
