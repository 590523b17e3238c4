package stamp

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

var samples = []struct {
	name string
	s    Stamp
	line string
}{
	{"tick", Stamp{Kind: Tick, Client: 1, Conn: "127.0.0.1:5-127.0.0.1:8443", Stream: "btcusdt@trade", Symbol: "BTCUSDT", Seq: 17, ExchNS: 10, RecvNS: 20, DecideNS: 30},
		`{"kind":"tick","client":1,"conn":"127.0.0.1:5-127.0.0.1:8443","stream":"btcusdt@trade","symbol":"BTCUSDT","seq":17,"exch_ns":10,"recv_ns":20,"decide_ns":30}`},
	{"order", Stamp{Kind: Order, Client: 1, OrderID: Text("t1-3"), Symbol: "BTCUSDT", Side: "BUY", TickConn: "127.0.0.1:5-127.0.0.1:8443", TickSeq: 17, OrderConn: "127.0.0.1:6-127.0.0.1:8444",
		RecvNS: 20, DecideNS: 30, SendNS: 40, WroteNS: 50, AckNS: 60, HTTPStatus: 200, Status: Text("NEW")},
		`{"kind":"order","client":1,"order_id":"t1-3","symbol":"BTCUSDT","side":"BUY","tick_conn":"127.0.0.1:5-127.0.0.1:8443","tick_seq":17,"order_conn":"127.0.0.1:6-127.0.0.1:8444","recv_ns":20,"decide_ns":30,"send_ns":40,"wrote_ns":50,"ack_ns":60,"http_status":200,"status":"NEW"}`},
	{"failed order", Stamp{Kind: Order, OrderID: Text("t1-4"), Symbol: "B\"TC", Side: "SELL", TickConn: "c\n", SendNS: 40, Error: "timeout"},
		`{"kind":"order","client":0,"order_id":"t1-4","symbol":"B\"TC","side":"SELL","tick_conn":"c\n","tick_seq":0,"order_conn":"","recv_ns":0,"decide_ns":0,"send_ns":40,"wrote_ns":0,"ack_ns":0,"http_status":0,"error":"timeout"}`},
}

func TestRoundTrip(t *testing.T) {
	for _, c := range samples {
		t.Run(c.name, func(t *testing.T) {
			line := Append(nil, &c.s)
			if string(line) != c.line+"\n" {
				t.Fatalf("encoded\n%s\nwant\n%s", line, c.line)
			}
			var got Stamp
			if err := Decode(line, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(normal(got), normal(c.s)) {
				t.Fatalf("decoded %+v\nwant %+v", got, c.s)
			}
		})
	}
}

// normal makes empty Text nil: a line cannot tell them apart.
func normal(s Stamp) Stamp {
	if len(s.OrderID) == 0 {
		s.OrderID = nil
	}
	if len(s.Status) == 0 {
		s.Status = nil
	}
	return s
}

func TestDecode(t *testing.T) {
	var s Stamp
	if err := Decode([]byte(`{"kind":"order","order_id":"a","later_field":[1,2],"wrote_ns":5}`), &s); err != nil || string(s.OrderID) != "a" || s.WroteNS != 5 {
		t.Fatalf("%+v %v", s, err)
	}
	if err := Decode([]byte(`{"order_id":"a"}`), &s); !errors.Is(err, ErrNoKind) {
		t.Errorf("no kind: %v", err)
	}
	for _, bad := range []string{`{"kind":"order"`, `{"kind":"order","wrote_ns":"x"}`, `{"kind":"order","order_id":7}`, `[]`} {
		if err := Decode([]byte(bad), &s); err == nil || errors.Is(err, ErrNoKind) {
			t.Errorf("%s: error %v", bad, err)
		}
	}
}

// The trader writes a line per order from its senders.
func TestAppendAllocs(t *testing.T) {
	b := make([]byte, 0, 1024)
	s := samples[1].s
	if n := testing.AllocsPerRun(100, func() { b = Append(b[:0], &s) }); n != 0 {
		t.Fatalf("Append allocates %v", n)
	}
}

// FuzzDecode: a line that decodes encodes to a line that decodes to the
// same stamp.
func FuzzDecode(f *testing.F) {
	for _, c := range samples {
		f.Add([]byte(c.line))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var s Stamp
		if Decode(line, &s) != nil {
			return
		}
		again := Append(nil, &s)
		var s2 Stamp
		if err := Decode(again, &s2); err != nil {
			t.Fatalf("%s re-encoded as %s: %v", line, again, err)
		}
		if b := Append(nil, &s2); !bytes.Equal(b, again) {
			t.Fatalf("unstable: %s then %s", again, b)
		}
		if !json.Valid(again) {
			t.Fatalf("not JSON: %s", again)
		}
	})
}
