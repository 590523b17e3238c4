package profile

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"
)

func ns(t *testing.T, s string) int64 {
	t.Helper()
	tm, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return tm.UnixNano()
}

// Feed messages in the shapes the exchanges document (and cloudpcap's feed writes).
func TestFeed(t *testing.T) {
	type want struct {
		prof, stream, symbol string
		seq                  uint64
		hasSeq, contiguous   bool
		exch                 int64
	}
	tests := []struct {
		name    string
		profile string
		msg     string
		ok      bool
		want    want
	}{
		{"lab", "lab", `{"type":"tick","stream":"btcusdt@tick","seq":123,"ts_ns":1763776000123456789,"symbol":"BTCUSDT","bid":64000.12,"ask":64000.55,"last":64000.3,"size":0.015}`, true,
			want{"lab", "btcusdt@tick", "BTCUSDT", 123, true, true, 1763776000123456789}},
		{"lab not tick", "lab", `{"result":null,"id":1}`, false, want{}},
		{"binance trade ms", "binance", `{"e":"trade","E":1763776000123,"s":"BTCUSDT","t":12345,"p":"64000.30","q":"0.01500000","T":1763776000122,"m":true,"M":true}`, true,
			want{"binance", "trade", "BTCUSDT", 12345, true, true, 1763776000123000000}},
		{"binance trade us", "binance", `{"e":"trade","E":1763776000123456,"s":"ETHUSDT","t":7,"p":"1","q":"1","T":1763776000123400,"m":false,"M":true}`, true,
			want{"binance", "trade", "ETHUSDT", 7, true, true, 1763776000123456000}},
		{"binance combined", "binance", `{"stream":"btcusdt@bookTicker","data":{"e":"bookTicker","u":400900217,"E":1763776000123,"T":1763776000122,"s":"BTCUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}}`, true,
			want{"binance", "btcusdt@bookTicker", "BTCUSDT", 400900217, true, false, 1763776000123000000}},
		{"binance spot bookTicker", "binance", `{"u":400900217,"s":"BNBUSDT","b":"25.35190000","B":"31.21000000","a":"25.36520000","A":"40.66000000"}`, true,
			want{"binance", "bookTicker", "BNBUSDT", 400900217, true, false, 0}},
		{"binance depth", "binance", `{"e":"depthUpdate","E":1672515782136,"s":"BNBBTC","U":157,"u":160,"b":[["0.0024","10"]],"a":[["0.0026","100"]]}`, true,
			want{"binance", "depthUpdate", "BNBBTC", 160, true, false, 1672515782136000000}},
		{"binance subscribe answer", "binance", `{"result":null,"id":1}`, false, want{}},
		{"coinbase ticker", "coinbase", `{"type":"ticker","sequence":37475248783,"product_id":"BTC-USD","price":"64000.30","best_bid":"64000.29","best_ask":"64000.31","side":"buy","time":"2026-11-22T02:06:58.123456789Z","trade_id":1,"last_size":"0.01"}`, true,
			want{"coinbase", "ticker", "BTC-USD", 37475248783, true, false, ns(t, "2026-11-22T02:06:58.123456789Z")}},
		{"coinbase advanced trade", "coinbase", `{"channel":"market_trades","client_id":"","timestamp":"2023-02-09T20:19:35.39625135Z","sequence_num":4,"events":[{"type":"snapshot","trades":[{"trade_id":"1","product_id":"ETH-USD","price":"1","size":"1","side":"BUY","time":"2023-02-09T20:19:35.396Z"}]}]}`, true,
			want{"coinbase", "market_trades", "ETH-USD", 4, true, true, ns(t, "2023-02-09T20:19:35.396Z")}},
		{"coinbase subscriptions", "coinbase", `{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["BTC-USD"]}]}`, false, want{}},
		{"okx books", "okx", `{"arg":{"channel":"books","instId":"BTC-USDT"},"action":"update","data":[{"asks":[],"bids":[],"ts":"1597026383085","checksum":-855196043,"prevSeqId":123456,"seqId":123457}]}`, true,
			want{"okx", "books", "BTC-USDT", 123457, true, false, 1597026383085000000}},
		{"okx event", "okx", `{"event":"subscribe","arg":{"channel":"trades","instId":"BTC-USDT"},"connId":"a4d3ae55"}`, false, want{}},
		{"bybit trade", "bybit", `{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","S":"Buy","v":"0.001","p":"16578.50","L":"PlusTick","i":"20f43950","BT":false,"seq":1783284617}]}`, true,
			want{"bybit", "publicTrade.BTCUSDT", "BTCUSDT", 1783284617, true, false, 1672304486868000000}},
		{"bybit orderbook", "bybit", `{"topic":"orderbook.50.BTCUSDT","type":"delta","ts":1687940967466,"data":{"s":"BTCUSDT","b":[],"a":[],"u":177400507,"seq":66544703342},"cts":1687940967464}`, true,
			want{"bybit", "orderbook.50.BTCUSDT", "BTCUSDT", 66544703342, true, false, 1687940967466000000}},
		{"kraken v2 trade", "kraken", `{"channel":"trade","type":"update","data":[{"symbol":"MATIC/USD","side":"buy","price":0.5117,"qty":40.0,"ord_type":"market","trade_id":4665906,"timestamp":"2023-09-25T07:49:37.708706Z"}]}`, true,
			want{"kraken", "trade", "MATIC/USD", 4665906, true, false, ns(t, "2023-09-25T07:49:37.708706Z")}},
		{"kraken v1 trade", "kraken", `[0,[["5541.20000","0.15850568","1534614057.321597","s","l",""]],"trade","XBT/USD"]`, true,
			want{"kraken", "trade", "XBT/USD", 0, false, false, 1534614057321597000}},
		{"kraken heartbeat", "kraken", `{"channel":"heartbeat"}`, false, want{}},
		// auto picks the right profile for each shape.
		{"auto lab", "auto", `{"type":"tick","stream":"s","seq":1,"ts_ns":1763776000000000001,"symbol":"X"}`, true, want{"lab", "s", "X", 1, true, true, 1763776000000000001}},
		{"auto binance", "auto", `{"e":"trade","E":1763776000123,"s":"BTCUSDT","t":1}`, true, want{"binance", "trade", "BTCUSDT", 1, true, true, 1763776000123000000}},
		{"auto coinbase", "auto", `{"type":"ticker","sequence":5,"product_id":"BTC-USD","time":"2026-11-22T00:00:00Z"}`, true, want{"coinbase", "ticker", "BTC-USD", 5, true, false, ns(t, "2026-11-22T00:00:00Z")}},
		{"auto okx", "auto", `{"arg":{"channel":"trades","instId":"ETH-USDT"},"data":[{"instId":"ETH-USDT","tradeId":"130639474","ts":"1630048897897"}]}`, true, want{"okx", "trades", "ETH-USDT", 130639474, true, false, 1630048897897000000}},
		{"auto bybit", "auto", `{"topic":"tickers.BTCUSDT","type":"snapshot","data":{"symbol":"BTCUSDT"},"cs":24987956059,"ts":1673272861686}`, true, want{"bybit", "tickers.BTCUSDT", "BTCUSDT", 24987956059, true, false, 1673272861686000000}},
		{"auto kraken", "auto", `[42,["5698.40000","5700.00000","1542057299.545897","1.01234567","0.98765432"],"spread","XBT/USD"]`, true, want{"kraken", "spread", "XBT/USD", 0, false, false, 1542057299545897000}},
		{"auto garbage", "auto", `{"hello":`, false, want{}},
		{"auto not json", "auto", "\x00\x01binary", false, want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := ByName(tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			var f Fields
			ok := p.Feed([]byte(tt.msg), &f)
			if ok != tt.ok {
				t.Fatalf("Feed = %v, want %v (%+v)", ok, tt.ok, f)
			}
			if !ok {
				if f.Kind != Other {
					t.Fatalf("kind %v for a non-tick", f.Kind)
				}
				return
			}
			got := want{f.Profile, string(f.Stream), string(f.Symbol), f.Seq, f.HasSeq, f.Contiguous, f.ExchNS}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestOrderAndAck(t *testing.T) {
	tests := []struct {
		name, profile, method, target, body string
		ok                                  bool
		prof, id, sym, tickFeed             string
		tickSeq                             uint64
		ack                                 string
		ackID, ackExch, ackStatus           string
	}{
		{"lab", "lab", "POST", "/api/v3/order", `{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"0.01","price":"64000","client_order_id":"t1-42","tick_feed":"198.18.1.2:40000-198.18.0.2:8443","tick_seq":99}`,
			true, "lab", "t1-42", "BTCUSDT", "198.18.1.2:40000-198.18.0.2:8443", 99,
			`{"order_id":7,"client_order_id":"t1-42","symbol":"BTCUSDT","status":"NEW","recv_ns":1,"ack_ns":2}`, "t1-42", "7", "NEW"},
		{"binance query string", "binance", "POST", "/api/v3/order?symbol=BTCUSDT&side=BUY&type=MARKET&quantity=1&newClientOrderId=abc123&timestamp=1&signature=ff", ``,
			true, "binance", "abc123", "BTCUSDT", "", 0,
			`{"symbol":"BTCUSDT","orderId":28,"orderListId":-1,"clientOrderId":"abc123","transactTime":1507725176595,"status":"FILLED"}`, "abc123", "28", "FILLED"},
		{"binance form body", "auto", "POST", "/api/v3/order", `symbol=ETHUSDT&side=SELL&newClientOrderId=x9&signature=00`,
			true, "lab", "x9", "ETHUSDT", "", 0, `{"clientOrderId":"x9","orderId":1,"status":"NEW"}`, "", "", ""},
		{"coinbase", "coinbase", "POST", "/api/v3/brokerage/orders", `{"client_order_id":"cb-1","product_id":"BTC-USD","side":"BUY","order_configuration":{}}`,
			true, "coinbase", "cb-1", "BTC-USD", "", 0, `{"success":true,"success_response":{"order_id":"11111-00000-000000","product_id":"BTC-USD","side":"BUY","client_order_id":"cb-1"}}`, "cb-1", "11111-00000-000000", "true"},
		{"okx", "okx", "POST", "/api/v5/trade/order", `{"instId":"BTC-USDT","tdMode":"cash","clOrdId":"b15","side":"buy","ordType":"limit","px":"2.15","sz":"2"}`,
			true, "okx", "b15", "BTC-USDT", "", 0, `{"code":"0","msg":"","data":[{"clOrdId":"b15","ordId":"312269865356374016","tag":"","sCode":"0","sMsg":""}]}`, "b15", "312269865356374016", "0"},
		{"bybit", "bybit", "POST", "/v5/order/create", `{"category":"spot","symbol":"BTCUSDT","side":"Buy","orderType":"Limit","qty":"0.1","price":"15600","orderLinkId":"spot-test-postonly"}`,
			true, "bybit", "spot-test-postonly", "BTCUSDT", "", 0, `{"retCode":0,"retMsg":"OK","result":{"orderId":"1321003749386327552","orderLinkId":"spot-test-postonly"},"time":1672211918471}`, "spot-test-postonly", "1321003749386327552", "0"},
		{"kraken", "kraken", "POST", "/0/private/AddOrder", `nonce=1&ordertype=limit&type=buy&volume=1.25&pair=XBTUSD&price=27500&cl_ord_id=6d1b345e`,
			true, "kraken", "6d1b345e", "XBTUSD", "", 0, `{"error":[],"result":{"descr":{"order":"buy"},"txid":["OUF4EM-FRGI2-MQMWZD"]}}`, "", "OUF4EM-FRGI2-MQMWZD", "OK"},
		{"GET is not an order", "lab", "GET", "/api/v3/order", ``, false, "", "", "", "", 0, ``, "", "", ""},
		{"other path", "auto", "POST", "/api/v3/userDataStream", ``, false, "", "", "", "", 0, ``, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, _ := ByName(tt.profile)
			var f Fields
			ok := p.Order([]byte(tt.method), []byte(tt.target), []byte(tt.body), &f)
			if ok != tt.ok {
				t.Fatalf("Order = %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if f.Kind != Order || f.Profile != tt.prof || string(f.OrderID) != tt.id || string(f.Symbol) != tt.sym || string(f.TickFeed) != tt.tickFeed || f.TickSeq != tt.tickSeq || f.HasTick != (tt.tickFeed != "") {
				t.Fatalf("order fields %+v", f)
			}
			if tt.ack == "" {
				return
			}
			ap, _ := ByName(f.Profile)
			ap.Ack([]byte(tt.ack), &f)
			if f.Kind != Ack || string(f.OrderID) != tt.ackID || string(f.ExchOrderID) != tt.ackExch || string(f.Status) != tt.ackStatus {
				if tt.ackID != "" || tt.ackExch != "" {
					t.Fatalf("ack fields id=%q exch=%q status=%q", f.OrderID, f.ExchOrderID, f.Status)
				}
			}
		})
	}
}

func TestRFC3339MatchesTimeParse(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 20000; i++ {
		tm := time.Unix(r.Int64N(8e9)-1e9, r.Int64N(1e9)).UTC()
		for _, layout := range []string{time.RFC3339Nano, time.RFC3339, "2006-01-02T15:04:05.000000Z07:00"} {
			s := tm.In(time.FixedZone("x", int(r.IntN(24*60)-12*60)*60)).Format(layout)
			want, _ := time.Parse(time.RFC3339Nano, s)
			got, ok := rfc3339NS([]byte(s))
			if !ok || got != want.UnixNano() {
				t.Fatalf("%s: got %d %v, want %d", s, got, ok, want.UnixNano())
			}
		}
	}
	for _, bad := range []string{"", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "2026-01-01T00:00:00.Z", "2026-01-01T00:00:00+0100", "2026-01-01T00:00:00Zjunk"} {
		if _, ok := rfc3339NS([]byte(bad)); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestEpochUnits(t *testing.T) {
	const want = int64(1763776000123000000)
	for _, v := range []int64{1763776000123, 1763776000123000, 1763776000123000000} {
		if got := epochNS(v, UnitAuto); got != want {
			t.Errorf("epochNS(%d) = %d", v, got)
		}
	}
	if got := epochNS(1763776000, UnitAuto); got != 1763776000e9 {
		t.Errorf("seconds: %d", got)
	}
	if got, ok := decimalSecondsNS([]byte(`"1534614057.3215979999"`)); !ok || got != 1534614057321597999 {
		t.Errorf("decimal seconds %d %v", got, ok)
	}
}

func TestGeneric(t *testing.T) {
	p, err := Generic(GenericSpec{TS: "payload.0.t", Seq: "payload.0.n", Symbol: "sym", Unit: "us"})
	if err != nil {
		t.Fatal(err)
	}
	var f Fields
	if !p.Feed([]byte(`{"sym":"X","payload":[{"t":1763776000123456,"n":"77"}]}`), &f) || f.ExchNS != 1763776000123456000 || f.Seq != 77 || string(f.Symbol) != "X" {
		t.Fatalf("%+v", f)
	}
	for _, spec := range []GenericSpec{{}, {TS: "a", Unit: "fortnights"}} {
		if _, err := Generic(spec); err == nil {
			t.Errorf("%+v accepted", spec)
		}
	}
	if _, err := ByName("nasdaq"); err == nil {
		t.Error("unknown profile accepted")
	}
}

func TestFeedDoesNotAllocate(t *testing.T) {
	msgs := [][]byte{
		[]byte(`{"stream":"btcusdt@trade","data":{"e":"trade","E":1763776000123,"s":"BTCUSDT","t":12345,"p":"64000.30","q":"0.015","T":1763776000122,"m":true,"M":true}}`),
		[]byte(`{"type":"ticker","sequence":37475248783,"product_id":"BTC-USD","price":"64000.30","time":"2026-11-22T02:06:58.123456789Z"}`),
		[]byte(`{"topic":"publicTrade.BTCUSDT","type":"snapshot","ts":1672304486868,"data":[{"T":1672304486865,"s":"BTCUSDT","seq":1783284617}]}`),
	}
	var f Fields
	for _, m := range msgs {
		n := testing.AllocsPerRun(200, func() { auto.feed(m, &f) })
		if n != 0 {
			t.Errorf("%.40s: %v allocs", m, n)
		}
	}
}

func FuzzFeed(f *testing.F) {
	for _, s := range []string{
		`{"type":"tick","stream":"btcusdt@tick","seq":123,"ts_ns":1763776000123456789,"symbol":"BTCUSDT"}`,
		`{"stream":"a","data":{"e":"trade","E":1,"s":"B","t":2}}`,
		`[0,[["1","2","3.4","s","l",""]],"trade","XBT/USD"]`,
		`{"arg":{"channel":"books"},"data":[{"ts":"1","seqId":2}]}`,
		`{"channel":"market_trades","events":[{"trades":[{"time":"2023-02-09T20:19:35.396Z"}]}]}`,
		`{"a":"\"}`, `[[[[`, `{"e":`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fl Fields
		for _, n := range Names() {
			p, _ := ByName(n)
			p.Feed(b, &fl)
			p.Order([]byte("POST"), []byte("/api/v3/order?"+strconv.Quote(string(b))), b, &fl)
			p.Ack(b, &fl)
		}
	})
}

func BenchmarkFeedAuto(b *testing.B) {
	m := []byte(`{"e":"trade","E":1763776000123,"s":"BTCUSDT","t":12345,"p":"64000.30","q":"0.01500000","T":1763776000122,"m":true,"M":true}`)
	var f Fields
	b.ReportAllocs()
	b.SetBytes(int64(len(m)))
	for i := 0; i < b.N; i++ {
		auto.Feed(m, &f)
	}
}

// A garbage timestamp that would overflow int64 ns is no exchange time.
func TestEpochOverflow(t *testing.T) {
	var f Fields
	p, _ := ByName("binance")
	if p.Feed([]byte(`{"e":"trade","E":95000000000,"s":"X","t":1}`), &f) && f.HasExch {
		t.Fatalf("overflowing E accepted as %d", f.ExchNS)
	}
	if _, ok := decimalSecondsNS([]byte(`"9999999999999.5"`)); ok {
		t.Fatal("13-digit seconds accepted")
	}
}
