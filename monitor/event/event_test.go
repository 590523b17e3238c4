package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"github.com/cloudpcap/cloudpcap/internal/jsonstr"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

var samples = []struct {
	name string
	ev   Event
	line string
}{
	{"tick", Event{Kind: profile.Tick, Conn: []byte("198.18.1.2:40000-198.18.0.2:8443"), WireNS: 3000, FirstWireNS: 2900, Seq: 1, HasSeq: true, Symbol: []byte("BTCUSDT"), ExchNS: 1000, FeedLatencyNS: 2000, HasExch: true},
		`{"kind":"tick","conn":"198.18.1.2:40000-198.18.0.2:8443","wire_ns":3000,"seq":1,"symbol":"BTCUSDT","exch_ns":1000,"feed_latency_ns":2000,"first_wire_ns":2900}`},
	{"tick without seq or exchange time", Event{Kind: profile.Tick, Conn: []byte("[::1]:5-[::1]:443"), WireNS: 7, FirstWireNS: 7, Symbol: []byte("ETH")},
		`{"kind":"tick","conn":"[::1]:5-[::1]:443","wire_ns":7,"symbol":"ETH","first_wire_ns":7}`},
	{"explicit order", Event{Kind: profile.Order, Conn: []byte("a:1-b:2"), WireNS: 7000, FirstWireNS: 6990, OrderID: []byte("o1"), Match: MatchExplicit, TickConn: []byte("c:3-d:4"), TickSeq: 2, TickWireNS: 4000, TickToTradeNS: 3000},
		`{"kind":"order","conn":"a:1-b:2","wire_ns":7000,"order_id":"o1","first_wire_ns":6990,"match":"explicit","tick_conn":"c:3-d:4","tick_seq":2,"tick_wire_ns":4000,"tick_to_trade_ns":3000}`},
	{"unmatched order", Event{Kind: profile.Order, Conn: []byte("a:1-b:2"), WireNS: 8000, FirstWireNS: 8000, OrderID: []byte("o2")},
		`{"kind":"order","conn":"a:1-b:2","wire_ns":8000,"order_id":"o2","first_wire_ns":8000,"match":"none"}`},
	{"last-tick order", Event{Kind: profile.Order, Conn: []byte("a:1-b:2"), WireNS: 9, OrderID: []byte("o3"), Match: MatchLastTick, TickConn: []byte("c:3-d:4"), TickSeq: 0, TickWireNS: 1, TickToTradeNS: 8},
		`{"kind":"order","conn":"a:1-b:2","wire_ns":9,"order_id":"o3","first_wire_ns":0,"match":"last_tick","tick_conn":"c:3-d:4","tick_seq":0,"tick_wire_ns":1,"tick_to_trade_ns":8}`},
	{"paired ack", Event{Kind: profile.Ack, Conn: []byte("a:1-b:2"), WireNS: 9500, FirstWireNS: 9400, OrderID: []byte("o1"), OrderToAckNS: 2500, HasOrder: true, Status: []byte("NEW")},
		`{"kind":"ack","conn":"a:1-b:2","wire_ns":9500,"order_id":"o1","order_to_ack_ns":2500,"status":"NEW","first_wire_ns":9400}`},
	{"unpaired ack", Event{Kind: profile.Ack, Conn: []byte("a:1-b:2"), WireNS: 12000},
		`{"kind":"ack","conn":"a:1-b:2","wire_ns":12000,"order_id":"","status":"","first_wire_ns":0}`},
	{"other", Event{Kind: profile.Other, Conn: []byte("a:1-b:2"), WireNS: -5},
		`{"kind":"other","conn":"a:1-b:2","wire_ns":-5}`},
	{"hostile text", Event{Kind: profile.Tick, Conn: []byte("x</td><script>"), Symbol: []byte("B\"T\\C\n\u2028")},
		`{"kind":"tick","conn":"x\u003c/td\u003e\u003cscript\u003e","wire_ns":0,"symbol":"B\"T\\C\n\u2028","first_wire_ns":0}`},
}

// Each kind encodes to the documented line and decodes back to itself.
func TestRoundTrip(t *testing.T) {
	for _, c := range samples {
		t.Run(c.name, func(t *testing.T) {
			line := Append(nil, &c.ev, false)
			if string(line) != c.line+"\n" {
				t.Fatalf("encoded\n%s\nwant\n%s", line, c.line)
			}
			var got Event
			if err := Decode(line, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(got), normal(c.ev)) {
				t.Fatalf("decoded %+v\nwant %+v", got, c.ev)
			}
			var m map[string]any // and the line is JSON for anyone else
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// normal makes empty byte slices nil: a line cannot tell them apart.
func normal(e Event) Event {
	for _, b := range []*[]byte{&e.Conn, &e.Symbol, &e.OrderID, &e.TickConn, &e.Status, &e.Payload} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	return e
}

func TestPayloads(t *testing.T) {
	e := Event{Kind: profile.Other, Conn: []byte("a:1-b:2"), Payload: []byte(`{"e":"x"}`)}
	if l := Append(nil, &e, false); bytes.Contains(l, []byte("payload")) {
		t.Fatalf("payload written without payloads: %s", l)
	}
	l := Append(nil, &e, true)
	var got Event
	if err := Decode(l, &got); err != nil || string(got.Payload) != `{"e":"x"}` {
		t.Fatalf("%s -> %q %v", l, got.Payload, err)
	}
}

func TestDecodeTolerance(t *testing.T) {
	cases := []struct {
		line string
		err  string // substring; "" for success
		want Event
	}{
		{`{"kind":"tick","wire_ns":5,"new_key":{"a":[1,{"b":2}]},"seq":null}`, "", Event{Kind: profile.Tick, WireNS: 5}},
		{`{"kind":"quote","wire_ns":5}`, "", Event{Kind: profile.Other, WireNS: 5}},
		{`{"kind":"order","match":"someday"}`, "", Event{Kind: profile.Order}},
		{` {"kind":"ack"}` + "\r\n", "", Event{Kind: profile.Ack}},
		{`{"wire_ns":5}`, "no \"kind\"", Event{}},
		{`{"kind":""}`, "no \"kind\"", Event{}},
		{`{"kind":null}`, "no \"kind\"", Event{}},
		{`{"kind":"tick","conn":"a-b","wire_`, "event:", Event{}},
		{`{"kind":"tick"} {}`, "data after the object", Event{}},
		{`{"kind":"tick"}}`, "event:", Event{}},
		{`{"kind":"tick","wire_ns":"5"}`, "wire_ns: 5 is not a number", Event{}},
		{`{"kind":"tick","wire_ns":1.5}`, "wire_ns:", Event{}},
		{`{"kind":"tick","seq":-1}`, "seq:", Event{}},
		{`{"kind":"tick","symbol":7}`, "symbol: 7 is not a string", Event{}},
		{`{"kind":"tick","symbol":["x"]}`, "symbol:", Event{}},
		{`[1]`, "not a JSON object", Event{}},
		{``, "not a JSON object", Event{}},
	}
	for _, c := range cases {
		var got Event
		err := Decode([]byte(c.line), &got)
		if c.err == "" {
			if err != nil || !reflect.DeepEqual(normal(got), c.want) {
				t.Errorf("%s: %+v %v, want %+v", c.line, got, err, c.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: error %v, want one containing %q", c.line, err, c.err)
		}
	}
	if err := Decode([]byte(`{}`), new(Event)); !errors.Is(err, ErrNoKind) {
		t.Errorf("error %v is not ErrNoKind", err)
	}
}

// The writer is on the monitor's hot path: one line per message.
func TestWriterAllocs(t *testing.T) {
	w := NewWriter(io.Discard, false)
	e := samples[0].ev
	w.Event(&e)
	if n := testing.AllocsPerRun(1000, func() { w.Event(&e) }); n != 0 {
		t.Fatalf("Writer.Event allocates %v", n)
	}
}

func TestJSONStringEscapes(t *testing.T) {
	in := []byte("a\"b\\c\n<script>\x01\xff\u2028é")
	out := jsonstr.AppendBytes(nil, in)
	var s string
	if err := json.Unmarshal(out, &s); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if bytes.Contains(out, []byte("<")) || s != "a\"b\\c\n<script>\x01\ufffd\u2028é" {
		t.Fatalf("%s -> %q", out, s)
	}
}

// FuzzDecode: any line either fails to decode or decodes to an event that
// encodes to a line decoding to the same event.
func FuzzDecode(f *testing.F) {
	for _, c := range samples {
		f.Add([]byte(c.line))
	}
	f.Add([]byte(`{"kind":"tick","x":[{"y":null}],"seq":18446744073709551615}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var e Event
		if Decode(line, &e) != nil {
			return
		}
		again := Append(nil, &e, true)
		var e2 Event
		if err := Decode(again, &e2); err != nil {
			t.Fatalf("%s re-encoded as %s: %v", line, again, err)
		}
		if b := Append(nil, &e2, true); !bytes.Equal(b, again) {
			t.Fatalf("unstable: %s then %s", again, b)
		}
	})
}
