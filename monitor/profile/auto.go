package profile

import (
	"fmt"
	"strings"
)

// autoOrder is the order in which auto tries the profiles on a feed message:
// the most specific keys first.
var autoOrder = []string{"lab", "okx", "bybit", "coinbase", "kraken", "binance"}

var auto = &Profile{name: "auto", feed: autoFeed, order: autoOrderFn, ack: autoAck}

func autoFeed(m []byte, f *Fields) bool {
	for _, n := range autoOrder {
		p := registry[n]
		f.Reset()
		if p.feed(m, f) {
			f.Profile = n
			return true
		}
	}
	return false
}

func autoOrderFn(method, target, body []byte, f *Fields) bool {
	for _, n := range autoOrder {
		p := registry[n]
		f.Reset()
		if p.order(method, target, body, f) {
			f.Profile = n
			return true
		}
	}
	return false
}

func autoAck(b []byte, f *Fields) {
	// The pairing with the order tells which exchange answered; callers that
	// know it use that profile's Ack. Without it, take the first that finds
	// an order id.
	for _, n := range autoOrder {
		f.Reset()
		f.Kind = Ack
		registry[n].ack(b, f)
		if f.OrderID != nil || f.ExchOrderID != nil {
			f.Profile = n
			return
		}
	}
	f.Reset()
	f.Kind = Ack
}

// GenericSpec builds a profile from JSON paths for a feed whose format no
// built-in profile knows. Paths are dotted keys, with numbers 0-9 indexing
// arrays: "data.0.ts".
type GenericSpec struct {
	Seq    string // optional
	TS     string // required: the exchange timestamp
	Symbol string // optional
	Stream string // optional
	Unit   string // s, ms, us, ns, auto (integers) or rfc3339
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	parts := strings.Split(p, ".")
	for i, s := range parts {
		if len(s) == 1 && s[0] >= '0' && s[0] <= '9' {
			parts[i] = "[" + s + "]"
		}
	}
	return parts
}

// Generic returns a profile that reads ticks by the given paths; orders and
// acks are read as the lab profile reads them.
func Generic(spec GenericSpec) (*Profile, error) {
	if spec.TS == "" {
		return nil, fmt.Errorf("generic profile: a timestamp path is required")
	}
	var unit Unit
	rfc := false
	switch spec.Unit {
	case "", "auto":
		unit = UnitAuto
	case "s":
		unit = UnitS
	case "ms":
		unit = UnitMS
	case "us", "µs":
		unit = UnitUS
	case "ns":
		unit = UnitNS
	case "rfc3339":
		rfc = true
	default:
		return nil, fmt.Errorf("generic profile: unit %q: want s, ms, us, ns, auto or rfc3339", spec.Unit)
	}
	ts, seq, sym, stream := splitPath(spec.TS), splitPath(spec.Seq), splitPath(spec.Symbol), splitPath(spec.Stream)
	feed := func(m []byte, f *Fields) bool {
		v, ok := path(m, ts...)
		if !ok {
			return false
		}
		if rfc {
			setRFC3339(f, v, true)
		} else {
			setEpoch(f, v, true, unit)
		}
		if seq != nil {
			v, ok = path(m, seq...)
			setUint(&f.Seq, &f.HasSeq, v, ok)
		}
		if sym != nil {
			v, ok = path(m, sym...)
			setStr(&f.Symbol, v, ok)
		}
		if stream != nil {
			v, ok = path(m, stream...)
			setStr(&f.Stream, v, ok)
		}
		return f.HasExch
	}
	return &Profile{name: "generic", feed: feed, order: autoOrderFn, ack: autoAck}, nil
}
