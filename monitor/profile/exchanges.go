package profile

// The message formats of each exchange, as documented by the exchanges and
// as cloudpcap's own feed writes them (lab, and its binance and coinbase
// emulations). Each feed function checks the keys that identify its format
// first, so that auto can try them in turn.

func init() {
	register(&Profile{name: "lab", feed: labFeed, order: labOrder, ack: labAck})
	register(&Profile{name: "binance", feed: binanceFeed, order: binanceOrder, ack: binanceAck})
	register(&Profile{name: "coinbase", feed: coinbaseFeed, order: coinbaseOrder, ack: coinbaseAck})
	register(&Profile{name: "okx", feed: okxFeed, order: okxOrder, ack: okxAck})
	register(&Profile{name: "bybit", feed: bybitFeed, order: bybitOrder, ack: bybitAck})
	register(&Profile{name: "kraken", feed: krakenFeed, order: krakenOrder, ack: krakenAck})
}

// lab: {"type":"tick","stream":"btcusdt@tick","seq":1,"ts_ns":...,"symbol":"BTCUSDT",...}
func labFeed(m []byte, f *Fields) bool {
	if v, ok := field(m, "type"); !ok || !isString(v, "tick") {
		return false
	}
	v, ok := field(m, "ts_ns")
	setEpoch(f, v, ok, UnitNS)
	v, ok = field(m, "seq")
	setUint(&f.Seq, &f.HasSeq, v, ok)
	f.Contiguous = f.HasSeq
	v, ok = field(m, "stream")
	setStr(&f.Stream, v, ok)
	v, ok = field(m, "symbol")
	setStr(&f.Symbol, v, ok)
	return f.HasExch
}

func labOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/api/v3/order") {
		return false
	}
	f.OrderID, _ = jsonOrForm(target, body, "client_order_id")
	if f.OrderID == nil {
		f.OrderID, _ = jsonOrForm(target, body, "newClientOrderId")
	}
	f.Symbol, _ = jsonOrForm(target, body, "symbol")
	return true
}

func labAck(b []byte, f *Fields) {
	v, ok := field(b, "client_order_id")
	setStr(&f.OrderID, v, ok)
	v, ok = field(b, "order_id")
	setStr(&f.ExchOrderID, v, ok)
	v, ok = field(b, "status")
	setStr(&f.Status, v, ok)
	v, ok = field(b, "symbol")
	setStr(&f.Symbol, v, ok)
	if f.Status == nil {
		if v, ok := field(b, "msg"); ok { // an error body {"code":..,"msg":..}
			_ = v
			f.Status = []byte("ERROR")
		}
	}
}

// binance: raw {"e":"trade","E":..,"s":..,"t":..}, combined
// {"stream":"btcusdt@trade","data":{...}}, spot bookTicker without "e".
func binanceFeed(m []byte, f *Fields) bool {
	d := m
	if v, ok := field(m, "data"); ok {
		if s, ok := field(m, "stream"); ok {
			setStr(&f.Stream, s, true)
			d = v
		}
	}
	e, hasE := field(d, "e")
	if !hasE {
		// Spot bookTicker: {"u":..,"s":..,"b":..,"B":..,"a":..,"A":..}
		if _, ok := field(d, "b"); !ok {
			return false
		}
		v, ok := field(d, "u")
		if !ok {
			return false
		}
		setUint(&f.Seq, &f.HasSeq, v, ok)
		v, ok = field(d, "s")
		setStr(&f.Symbol, v, ok)
		if f.Stream == nil {
			f.Stream = []byte("bookTicker")
		}
		v, ok = field(d, "E")
		setEpoch(f, v, ok, UnitAuto)
		return f.HasSeq
	}
	if f.Stream == nil {
		setStr(&f.Stream, e, true)
	}
	v, ok := field(d, "E")
	setEpoch(f, v, ok, UnitAuto)
	v, ok = field(d, "s")
	setStr(&f.Symbol, v, ok)
	switch {
	case isString(e, "trade"):
		v, ok = field(d, "t")
		f.Contiguous = true
	case isString(e, "aggTrade"):
		v, ok = field(d, "a")
		f.Contiguous = true
	case isString(e, "depthUpdate"), isString(e, "bookTicker"):
		v, ok = field(d, "u")
	default:
		v, ok = nil, false
	}
	setUint(&f.Seq, &f.HasSeq, v, ok)
	f.Contiguous = f.Contiguous && f.HasSeq
	return f.HasExch || f.HasSeq
}

func binanceOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/api/v3/order", "/api/v3/order/test", "/fapi/v1/order", "/dapi/v1/order") {
		return false
	}
	f.OrderID, _ = jsonOrForm(target, body, "newClientOrderId")
	if f.OrderID == nil {
		f.OrderID, _ = jsonOrForm(target, body, "client_order_id")
	}
	f.Symbol, _ = jsonOrForm(target, body, "symbol")
	return true
}

func binanceAck(b []byte, f *Fields) {
	labAck(b, f) // cloudpcap's order API answers in the lab shape
	if v, ok := field(b, "clientOrderId"); ok {
		setStr(&f.OrderID, v, ok)
	}
	if v, ok := field(b, "orderId"); ok {
		setStr(&f.ExchOrderID, v, ok)
	}
	if v, ok := field(b, "status"); ok {
		setStr(&f.Status, v, ok)
	}
}

// coinbase Exchange feed {"type":"ticker","sequence":..,"product_id":..,"time":..}
// and Advanced Trade {"channel":"market_trades","timestamp":..,"sequence_num":..,"events":[...]}.
func coinbaseFeed(m []byte, f *Fields) bool {
	if t, ok := field(m, "type"); ok {
		p, ok := field(m, "product_id")
		if !ok {
			return false
		}
		setStr(&f.Stream, t, true)
		setStr(&f.Symbol, p, true)
		v, ok := field(m, "sequence")
		setUint(&f.Seq, &f.HasSeq, v, ok)
		v, ok = field(m, "time")
		setRFC3339(f, v, ok)
		return f.HasExch
	}
	ch, ok := field(m, "channel")
	if !ok {
		return false
	}
	if _, ok := field(m, "events"); !ok {
		return false
	}
	if isString(ch, "subscriptions") || isString(ch, "heartbeats") {
		return false
	}
	setStr(&f.Stream, ch, true)
	v, ok := field(m, "sequence_num")
	setUint(&f.Seq, &f.HasSeq, v, ok)
	f.Contiguous = f.HasSeq // sequence_num counts every message of the connection
	if v, ok := path(m, "events", "[0]", "trades", "[0]", "time"); ok {
		setRFC3339(f, v, true)
		v, ok = path(m, "events", "[0]", "trades", "[0]", "product_id")
		setStr(&f.Symbol, v, ok)
	}
	if !f.HasExch {
		v, ok = field(m, "timestamp")
		setRFC3339(f, v, ok)
	}
	if f.Symbol == nil {
		for _, k := range []string{"tickers", "updates"} {
			if v, ok := path(m, "events", "[0]", k, "[0]", "product_id"); ok {
				setStr(&f.Symbol, v, true)
				break
			}
		}
		if v, ok := path(m, "events", "[0]", "product_id"); ok && f.Symbol == nil {
			setStr(&f.Symbol, v, true)
		}
	}
	return f.HasExch
}

func coinbaseOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/api/v3/brokerage/orders", "/orders") {
		return false
	}
	f.OrderID, _ = jsonOrForm(target, body, "client_order_id")
	if f.OrderID == nil {
		f.OrderID, _ = jsonOrForm(target, body, "client_oid")
	}
	f.Symbol, _ = jsonOrForm(target, body, "product_id")
	return true
}

func coinbaseAck(b []byte, f *Fields) {
	labAck(b, f)
	if v, ok := path(b, "success_response", "order_id"); ok {
		setStr(&f.ExchOrderID, v, ok)
	}
	if v, ok := path(b, "success_response", "client_order_id"); ok {
		setStr(&f.OrderID, v, ok)
	}
	if v, ok := field(b, "success"); ok && f.Status == nil {
		setStr(&f.Status, v, ok)
	}
	if v, ok := field(b, "id"); ok && f.ExchOrderID == nil {
		setStr(&f.ExchOrderID, v, ok)
	}
}

// okx {"arg":{"channel":"trades","instId":"BTC-USDT"},"data":[{"ts":"..","seqId":..}]}
func okxFeed(m []byte, f *Fields) bool {
	arg, ok := field(m, "arg")
	if !ok {
		return false
	}
	d0, ok := path(m, "data", "[0]")
	if !ok {
		return false
	}
	v, ok := field(arg, "channel")
	setStr(&f.Stream, v, ok)
	v, ok = field(arg, "instId")
	setStr(&f.Symbol, v, ok)
	v, ok = field(d0, "ts")
	setEpoch(f, v, ok, UnitMS)
	if v, ok = field(d0, "seqId"); !ok {
		v, ok = field(d0, "tradeId")
	}
	setUint(&f.Seq, &f.HasSeq, v, ok)
	return f.HasExch
}

func okxOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/api/v5/trade/order") {
		return false
	}
	f.OrderID, _ = jsonOrForm(target, body, "clOrdId")
	f.Symbol, _ = jsonOrForm(target, body, "instId")
	return true
}

func okxAck(b []byte, f *Fields) {
	v, ok := path(b, "data", "[0]", "clOrdId")
	setStr(&f.OrderID, v, ok)
	v, ok = path(b, "data", "[0]", "ordId")
	setStr(&f.ExchOrderID, v, ok)
	v, ok = path(b, "data", "[0]", "sCode")
	if !ok {
		v, ok = field(b, "code")
	}
	setStr(&f.Status, v, ok)
}

// bybit v5 {"topic":"publicTrade.BTCUSDT","ts":..,"data":[{"s":..,"seq":..}]}
// or {"topic":"orderbook.50.BTCUSDT","ts":..,"data":{"s":..,"u":..,"seq":..},"cts":..}.
// The exchange time is "ts", when the system generated the push (cts, the
// matching engine's time, is earlier and measures more than the feed).
func bybitFeed(m []byte, f *Fields) bool {
	topic, ok := field(m, "topic")
	if !ok {
		return false
	}
	setStr(&f.Stream, topic, true)
	v, ok := field(m, "ts")
	setEpoch(f, v, ok, UnitMS)
	d, ok := field(m, "data")
	if !ok {
		return false
	}
	if d0, ok := index(d, 0); ok {
		d = d0
	}
	for _, k := range []string{"s", "symbol"} {
		if v, ok := field(d, k); ok {
			setStr(&f.Symbol, v, true)
			break
		}
	}
	for _, k := range []string{"seq", "u"} {
		if v, ok := field(d, k); ok {
			setUint(&f.Seq, &f.HasSeq, v, true)
			break
		}
	}
	if !f.HasSeq {
		v, ok = field(m, "cs")
		setUint(&f.Seq, &f.HasSeq, v, ok)
	}
	return f.HasExch
}

func bybitOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/v5/order/create") {
		return false
	}
	f.OrderID, _ = jsonOrForm(target, body, "orderLinkId")
	f.Symbol, _ = jsonOrForm(target, body, "symbol")
	return true
}

func bybitAck(b []byte, f *Fields) {
	v, ok := path(b, "result", "orderLinkId")
	setStr(&f.OrderID, v, ok)
	v, ok = path(b, "result", "orderId")
	setStr(&f.ExchOrderID, v, ok)
	v, ok = field(b, "retCode")
	setStr(&f.Status, v, ok)
}

// kraken v2 {"channel":"trade","type":"update","data":[{"symbol":..,"timestamp":..,"trade_id":..}]}
// and v1 [channelID, [["price","vol","time",...],...], "trade", "XBT/USD"].
func krakenFeed(m []byte, f *Fields) bool {
	i := skipWS(m, 0)
	if i < len(m) && m[i] == '[' {
		name, ok := index(m, 2)
		if !ok {
			return false
		}
		pair, _ := index(m, 3)
		setStr(&f.Stream, name, true)
		setStr(&f.Symbol, pair, pair != nil)
		payload, _ := index(m, 1)
		var t []byte
		switch {
		case isString(name, "trade"):
			t, ok = path(payload, "[0]", "[2]")
		case isString(name, "spread"):
			t, ok = index(payload, 2)
		default:
			return false
		}
		if ok {
			f.ExchNS, f.HasExch = decimalSecondsNS(t)
		}
		return f.HasExch
	}
	ch, ok := field(m, "channel")
	if !ok {
		return false
	}
	d0, ok := path(m, "data", "[0]")
	if !ok {
		return false
	}
	setStr(&f.Stream, ch, true)
	v, ok := field(d0, "symbol")
	setStr(&f.Symbol, v, ok)
	v, ok = field(d0, "timestamp")
	setRFC3339(f, v, ok)
	v, ok = field(d0, "trade_id")
	setUint(&f.Seq, &f.HasSeq, v, ok)
	return f.HasExch || f.HasSeq
}

func krakenOrder(_, target, body []byte, f *Fields) bool {
	if !pathIs(target, "/0/private/AddOrder") {
		return false
	}
	if f.OrderID, _ = jsonOrForm(target, body, "cl_ord_id"); f.OrderID == nil {
		f.OrderID, _ = jsonOrForm(target, body, "userref")
	}
	f.Symbol, _ = jsonOrForm(target, body, "pair")
	return true
}

func krakenAck(b []byte, f *Fields) {
	v, ok := path(b, "result", "txid", "[0]")
	setStr(&f.ExchOrderID, v, ok)
	if e, ok := field(b, "error"); ok {
		if _, nonEmpty := index(e, 0); nonEmpty {
			f.Status = []byte("ERROR")
		} else {
			f.Status = []byte("OK")
		}
	}
}
