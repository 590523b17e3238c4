package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

// ErrNoKind is returned for a line without a "kind": not an event.
var ErrNoKind = errors.New(`no "kind": not an event`)

// Decode fills e from one line of an events file (without or with its
// newline). Keys it does not know are skipped, so that files from newer
// writers still read; a null value counts as absent. A kind it does not
// know reads as other, a match it does not know as none. The byte slices
// of e are its own. It allocates: it is for readers, not the hot path.
func Decode(line []byte, e *Event) error {
	*e = Event{}
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return fmt.Errorf("event: not a JSON object")
	}
	hasKind := false
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return fmt.Errorf("event: %w", err)
		}
		key, _ := t.(string)
		v, err := d.Token()
		if err != nil {
			return fmt.Errorf("event: %s: %w", key, err)
		}
		if dl, ok := v.(json.Delim); ok {
			if err := skip(d); err != nil {
				return fmt.Errorf("event: %s: %w", key, err)
			}
			v = dl
		}
		if v == nil {
			continue
		}
		if key == "kind" {
			s, _ := v.(string)
			hasKind = s != ""
		}
		if err := e.set(key, v); err != nil {
			return fmt.Errorf("event: %s: %w", key, err)
		}
	}
	if _, err := d.Token(); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("event: data after the object")
	}
	if !hasKind {
		return ErrNoKind
	}
	return nil
}

// set stores the value v of key.
func (e *Event) set(key string, v any) error {
	var err error
	switch key {
	case "kind":
		var s []byte
		if s, err = text(v); err == nil {
			e.Kind = kindOf(string(s))
		}
	case "conn":
		e.Conn, err = text(v)
	case "wire_ns":
		e.WireNS, err = integer(v)
	case "first_wire_ns":
		e.FirstWireNS, err = integer(v)
	case "seq":
		e.Seq, err = unsigned(v)
		e.HasSeq = err == nil
	case "symbol":
		e.Symbol, err = text(v)
	case "exch_ns":
		e.ExchNS, err = integer(v)
	case "feed_latency_ns":
		e.FeedLatencyNS, err = integer(v)
		e.HasExch = err == nil
	case "order_id":
		e.OrderID, err = text(v)
	case "match":
		var s []byte
		if s, err = text(v); err == nil {
			e.Match = matchOf(string(s))
		}
	case "tick_conn":
		e.TickConn, err = text(v)
	case "tick_seq":
		e.TickSeq, err = unsigned(v)
	case "tick_wire_ns":
		e.TickWireNS, err = integer(v)
	case "tick_to_trade_ns":
		e.TickToTradeNS, err = integer(v)
	case "order_to_ack_ns":
		e.OrderToAckNS, err = integer(v)
		e.HasOrder = err == nil
	case "status":
		e.Status, err = text(v)
	case "payload":
		e.Payload, err = text(v)
	}
	return err
}

func kindOf(s string) profile.Kind {
	for _, k := range []profile.Kind{profile.Tick, profile.Order, profile.Ack} {
		if s == k.String() {
			return k
		}
	}
	return profile.Other
}

func matchOf(s string) Match {
	for _, m := range []Match{MatchExplicit, MatchLastTick} {
		if s == m.String() {
			return m
		}
	}
	return MatchNone
}

func text(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%v is not a string", v)
	}
	return []byte(s), nil
}

func integer(v any) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return strconv.ParseInt(string(n), 10, 64)
}

func unsigned(v any) (uint64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, fmt.Errorf("%v is not a number", v)
	}
	return strconv.ParseUint(string(n), 10, 64)
}

// skip reads past the rest of an array or object whose opening delimiter
// was just read.
func skip(d *json.Decoder) error {
	for depth := 1; depth > 0; {
		t, err := d.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}
