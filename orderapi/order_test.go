package orderapi

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"time"

	"errors"
	"github.com/cloudpcap/cloudpcap/orderapi/sign"
	"strings"
	"testing"
	"unicode/utf8"
)

const validBody = `{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.01","price":"65000.5","client_order_id":"t1-000001","tick_feed":"feed0","tick_seq":42}`

var orderCases = []struct {
	name      string
	body      string
	want      Order
	wantField string // with wantCode: expected error
	wantCode  int
}{
	{"limit with tick", validBody, Order{Symbol: "BTCUSDT", Side: "BUY", Type: "LIMIT", Quantity: "0.01", Price: "65000.5", ClientOrderID: "t1-000001", TickFeed: "feed0", TickSeq: 42, HasTickSeq: true}, "", 0},
	{"binance client id, numbers", `{"symbol":"ETHUSDT","side":"SELL","type":"LIMIT","quantity":2,"price":3000.25,"newClientOrderId":"abc"}`,
		Order{Symbol: "ETHUSDT", Side: "SELL", Type: "LIMIT", Quantity: "2", Price: "3000.25", ClientOrderID: "abc"}, "", 0},
	{"both ids equal", `{"symbol":"X1","side":"BUY","type":"MARKET","quantity":"1","client_order_id":"a","newClientOrderId":"a"}`,
		Order{Symbol: "X1", Side: "BUY", Type: "MARKET", Quantity: "1", ClientOrderID: "a"}, "", 0},
	{"market without price, tick_seq 0", `{"symbol":"BTCUSDT","side":"SELL","type":"MARKET","quantity":".5","client_order_id":"m/1:2_3.4","tick_seq":0,"extra":[1,2]}`,
		Order{Symbol: "BTCUSDT", Side: "SELL", Type: "MARKET", Quantity: ".5", ClientOrderID: "m/1:2_3.4", HasTickSeq: true}, "", 0},

	{"empty body", ``, Order{}, "", CodeMalformedJSON},
	{"not JSON", `symbol=BTCUSDT`, Order{}, "", CodeMalformedJSON},
	{"truncated", validBody[:40], Order{}, "", CodeMalformedJSON},
	{"array", `[1,2]`, Order{}, "", CodeMalformedJSON},
	{"trailing garbage", validBody + `x`, Order{}, "", CodeMalformedJSON},
	{"missing symbol", `{"side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "symbol", CodeMissingParam},
	{"empty symbol", `{"symbol":"","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "symbol", CodeMissingParam},
	{"lowercase symbol", `{"symbol":"btcusdt","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "symbol", CodeBadSymbol},
	{"symbol number", `{"symbol":5,"side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "symbol", CodeBadParam},
	{"missing side", `{"symbol":"B","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "side", CodeMissingParam},
	{"bad side", `{"symbol":"B","side":"HOLD","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "side", CodeBadSide},
	{"missing type", `{"symbol":"B","side":"BUY","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "type", CodeMissingParam},
	{"bad type", `{"symbol":"B","side":"BUY","type":"STOP","quantity":"1","price":"1","client_order_id":"a"}`, Order{}, "type", CodeBadType},
	{"missing quantity", `{"symbol":"B","side":"BUY","type":"LIMIT","price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeMissingParam},
	{"null quantity", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":null,"price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeMissingParam},
	{"zero quantity", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"0.000","price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeBadDecimal},
	{"negative quantity", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":-1,"price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeBadDecimal},
	{"exponent quantity", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":1e3,"price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeBadDecimal},
	{"quantity object", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":{},"price":"1","client_order_id":"a"}`, Order{}, "quantity", CodeBadDecimal},
	{"two dots price", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1.2.3","client_order_id":"a"}`, Order{}, "price", CodeBadDecimal},
	{"limit without price", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","client_order_id":"a"}`, Order{}, "price", CodeMissingParam},
	{"missing client id", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1"}`, Order{}, "client_order_id", CodeMissingParam},
	{"empty newClientOrderId", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","newClientOrderId":""}`, Order{}, "newClientOrderId", CodeMissingParam},
	{"ids differ", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a","newClientOrderId":"b"}`, Order{}, "client_order_id", CodeBadParam},
	{"client id too long", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"` + strings.Repeat("a", 37) + `"}`, Order{}, "client_order_id", CodeBadParam},
	{"client id quote", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a\"b"}`, Order{}, "client_order_id", CodeBadParam},
	{"tick_seq negative", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a","tick_seq":-1}`, Order{}, "tick_seq", CodeBadParam},
	{"tick_seq string", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a","tick_seq":"7"}`, Order{}, "tick_seq", CodeBadParam},
	{"tick_feed long", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a","tick_feed":"` + strings.Repeat("f", 257) + `"}`, Order{}, "tick_feed", CodeBadParam},
	{"tick_feed number", `{"symbol":"B","side":"BUY","type":"LIMIT","quantity":"1","price":"1","client_order_id":"a","tick_feed":3}`, Order{}, "tick_feed", CodeBadParam},
}

func TestParseOrder(t *testing.T) {
	for _, c := range orderCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := ParseOrder([]byte(c.body))
			if c.wantCode == 0 {
				if err != nil || got != c.want {
					t.Fatalf("got %+v, %v; want %+v", got, err, c.want)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.wantField || fe.Code != c.wantCode {
				t.Fatalf("got %#v; want field %q code %d", err, c.wantField, c.wantCode)
			}
			if c.wantField != "" && !strings.Contains(err.Error(), c.wantField) {
				t.Errorf("message %q does not name the field", err)
			}
		})
	}
}

// TestAppendAck: the hand-written encoder's output is JSON that decodes to
// the same values, with escaping that encoding/json agrees with.
func TestAppendAck(t *testing.T) {
	o := Order{Symbol: "BTCUSDT", Side: "SELL", Type: "MARKET", ClientOrderID: "c-1", TickFeed: "wss://198.18.0.2:8443/ws?x=\"q\"&y=<\\>\n\u00e9", TickSeq: 1<<64 - 1, HasTickSeq: true}
	b := appendAck(nil, 7, &o, StatusRejected, `reason "quoted"`, 1763777488123456789, 1763777488123706789)
	var a Ack
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if a.OrderID != 7 || a.ClientOrderID != "c-1" || a.Symbol != "BTCUSDT" || a.Side != "SELL" || a.Type != "MARKET" ||
		a.Status != StatusRejected || a.Reason != `reason "quoted"` || a.RecvNS != 1763777488123456789 ||
		a.AckNS != 1763777488123706789 || a.TickFeed != o.TickFeed || a.TickSeq == nil || *a.TickSeq != o.TickSeq {
		t.Errorf("decoded %+v from %s", a, b)
	}
	if want, _ := json.Marshal(o.TickFeed); !strings.Contains(string(b), string(want)) {
		t.Errorf("escaping differs from encoding/json: %s vs %s", b, want)
	}
	o2 := Order{Symbol: "X", Side: "BUY", Type: "LIMIT", ClientOrderID: "c"}
	b = appendAck(nil, 1, &o2, StatusNew, "", 1, 2)
	if string(b) != `{"order_id":1,"client_order_id":"c","symbol":"X","side":"BUY","type":"LIMIT","status":"NEW","recv_ns":1,"ack_ns":2}`+"\n" {
		t.Errorf("got %s", b)
	}
}

func TestOrderAppendJSON(t *testing.T) {
	for _, c := range orderCases {
		if c.wantCode != 0 {
			continue
		}
		b := c.want.AppendJSON(nil)
		if back, err := ParseOrder(b); err != nil || back != c.want {
			t.Errorf("%s: %s parses to %+v, %v", c.name, b, back, err)
		}
	}
	o := orderCases[0].want
	buf := make([]byte, 0, 512)
	if n := testing.AllocsPerRun(100, func() { buf = o.AppendJSON(buf[:0]) }); n != 0 {
		t.Errorf("AppendJSON: %v allocs", n)
	}
	if string(o.AppendJSON(nil)) != validBody {
		t.Errorf("got %s\nwant %s", o.AppendJSON(nil), validBody)
	}
}

func FuzzParseOrder(f *testing.F) {
	for _, c := range orderCases {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := ParseOrder(body)
		if err != nil {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Code >= 0 {
				t.Fatalf("error %v is not a *FieldError with a negative code", err)
			}
			return
		}
		if o.Symbol == "" || o.ClientOrderID == "" || o.Quantity == "" || (o.Type == "LIMIT" && o.Price == "") ||
			(o.Side != "BUY" && o.Side != "SELL") || !utf8.ValidString(o.TickFeed) {
			t.Fatalf("accepted an invalid order %+v", o)
		}
		// The client-side encoder reproduces what was accepted.
		if back, err := ParseOrder(o.AppendJSON(nil)); err != nil || back != o {
			t.Fatalf("AppendJSON of %+v: %s parses to %+v, %v", o, o.AppendJSON(nil), back, err)
		}
		// Whatever was accepted must encode to valid JSON that round-trips.
		b := appendAck(nil, 1, &o, StatusNew, "", 1, 2)
		var a Ack
		if err := json.Unmarshal(b, &a); err != nil || a.ClientOrderID != o.ClientOrderID || a.TickFeed != o.TickFeed || a.Symbol != o.Symbol {
			t.Fatalf("ack %s: %v (%+v)", b, err, a)
		}
	})
}

// FuzzHandlerOrder: any signed body through the whole handler gets 200, 400
// or 413 with a well-formed JSON answer, never a 500.
func FuzzHandlerOrder(f *testing.F) {
	for _, c := range orderCases {
		f.Add([]byte(c.body))
	}
	srv, err := New(Config{APIKey: "k", APISecret: "s", MaxBody: 512, RejectRate: 0.3}, nil)
	if err != nil {
		f.Fatal(err)
	}
	h := srv.Handler()
	f.Fuzz(func(t *testing.T, body []byte) {
		now := sign.Timestamp(time.Now())
		req := httptest.NewRequest("POST", PathOrder, bytes.NewReader(body))
		sign.SetHeaders(req.Header, "k", now, sign.Sign("s", now, "POST", PathOrder, body))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch w.Code {
		case 200:
			var a Ack
			if err := json.Unmarshal(w.Body.Bytes(), &a); err != nil || a.OrderID == 0 {
				t.Fatalf("ack %s: %v", w.Body.Bytes(), err)
			}
		case 400, 413:
			var e errorBody
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Code >= 0 || e.Msg == "" {
				t.Fatalf("error %d %s: %v", w.Code, w.Body.Bytes(), err)
			}
			if w.Code == 413 && len(body) <= 512 {
				t.Fatalf("413 for %d bytes", len(body))
			}
		default:
			t.Fatalf("status %d: %s", w.Code, w.Body.Bytes())
		}
	})
}
