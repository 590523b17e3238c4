package format

import (
	"strconv"
	"time"
)

// EncodeOptions are per-connection choices that change the encoding.
type EncodeOptions struct {
	// Micro writes Binance E and T in microseconds (?timeUnit=MICROSECOND)
	// instead of milliseconds.
	Micro bool
	// Combined wraps lab and Binance messages in {"stream":..,"data":..}
	// (the /stream?streams= endpoint). Coinbase ignores it.
	Combined bool
}

// Append appends t encoded in format f to dst and returns the extended
// buffer. For Binance, t.Kind picks the message: KindBook gives bookTicker,
// anything else a trade. Auto encodes as Lab.
func Append(dst []byte, f Format, t *Tick, o EncodeOptions) []byte {
	switch f {
	case Binance:
		return AppendBinance(dst, t, o)
	case Coinbase:
		return AppendCoinbase(dst, t)
	}
	if o.Combined {
		dst = appendEnvelope(dst, t.Stream)
		dst = AppendLab(dst, t)
		return append(dst, '}')
	}
	return AppendLab(dst, t)
}

func appendEnvelope(dst []byte, stream string) []byte {
	dst = append(dst, `{"stream":`...)
	dst = strconv.AppendQuote(dst, stream)
	return append(dst, `,"data":`...)
}

func appendFloat(dst []byte, v float64) []byte { return strconv.AppendFloat(dst, v, 'f', -1, 64) }

// AppendLab appends the lab's tick:
//
//	{"type":"tick","stream":"btcusdt@tick","seq":123,"ts_ns":1763776000123456789,"symbol":"BTCUSDT","bid":64000.12,"ask":64000.55,"last":64000.3,"size":0.015,"side":"buy"}
//
// "bid_size" and "ask_size" follow "size" when either is non-zero; "side"
// comes last and is left out when unknown.
func AppendLab(dst []byte, t *Tick) []byte {
	dst = append(dst, `{"type":"tick","stream":`...)
	dst = strconv.AppendQuote(dst, t.Stream)
	dst = append(dst, `,"seq":`...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	dst = append(dst, `,"ts_ns":`...)
	dst = strconv.AppendInt(dst, t.ExchNS, 10)
	dst = append(dst, `,"symbol":`...)
	dst = strconv.AppendQuote(dst, t.Symbol)
	dst = append(dst, `,"bid":`...)
	dst = appendFloat(dst, t.Bid)
	dst = append(dst, `,"ask":`...)
	dst = appendFloat(dst, t.Ask)
	dst = append(dst, `,"last":`...)
	dst = appendFloat(dst, t.Last)
	dst = append(dst, `,"size":`...)
	dst = appendFloat(dst, t.Size)
	if t.BidSize != 0 || t.AskSize != 0 {
		dst = append(dst, `,"bid_size":`...)
		dst = appendFloat(dst, t.BidSize)
		dst = append(dst, `,"ask_size":`...)
		dst = appendFloat(dst, t.AskSize)
	}
	if t.Side != SideUnknown {
		dst = append(dst, `,"side":"`...)
		dst = append(dst, t.Side.String()...)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}

func binanceTime(ns int64, micro bool) int64 {
	if micro {
		return ns / 1e3
	}
	return ns / 1e6
}

func appendDecString(dst []byte, v float64, dec int) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendFloat(dst, v, 'f', dec, 64)
	return append(dst, '"')
}

// AppendBinance appends a Binance trade (t.Kind != KindBook):
//
//	{"e":"trade","E":1763776000123,"s":"BTCUSDT","t":123,"p":"64000.30","q":"0.01500000","T":1763776000123,"m":true,"M":true}
//
// or bookTicker (t.Kind == KindBook, futures style so it carries time):
//
//	{"e":"bookTicker","u":123,"E":1763776000123,"T":1763776000123,"s":"BTCUSDT","b":"64000.12","B":"1.50000000","a":"64000.55","A":"2.00000000"}
//
// E and T both come from t.ExchNS. m (buyer is maker) is true when the taker
// sold. With o.Combined the message is wrapped in {"stream":..,"data":..}.
func AppendBinance(dst []byte, t *Tick, o EncodeOptions) []byte {
	if o.Combined {
		dst = appendEnvelope(dst, t.Stream)
	}
	ts := binanceTime(t.ExchNS, o.Micro)
	if t.Kind == KindBook {
		dst = append(dst, `{"e":"bookTicker","u":`...)
		dst = strconv.AppendUint(dst, t.Seq, 10)
		dst = append(dst, `,"E":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"T":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"s":`...)
		dst = strconv.AppendQuote(dst, t.Symbol)
		dst = append(dst, `,"b":`...)
		dst = appendDecString(dst, t.Bid, 2)
		dst = append(dst, `,"B":`...)
		dst = appendDecString(dst, t.BidSize, 8)
		dst = append(dst, `,"a":`...)
		dst = appendDecString(dst, t.Ask, 2)
		dst = append(dst, `,"A":`...)
		dst = appendDecString(dst, t.AskSize, 8)
		dst = append(dst, '}')
	} else {
		dst = append(dst, `{"e":"trade","E":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		dst = append(dst, `,"s":`...)
		dst = strconv.AppendQuote(dst, t.Symbol)
		dst = append(dst, `,"t":`...)
		dst = strconv.AppendUint(dst, t.Seq, 10)
		dst = append(dst, `,"p":`...)
		dst = appendDecString(dst, t.Last, 2)
		dst = append(dst, `,"q":`...)
		dst = appendDecString(dst, t.Size, 8)
		dst = append(dst, `,"T":`...)
		dst = strconv.AppendInt(dst, ts, 10)
		if t.Side == SideSell {
			dst = append(dst, `,"m":true,"M":true}`...)
		} else {
			dst = append(dst, `,"m":false,"M":true}`...)
		}
	}
	if o.Combined {
		dst = append(dst, '}')
	}
	return dst
}

// coinbaseTimeLayout is RFC 3339 with all nine fractional digits.
const coinbaseTimeLayout = "2006-01-02T15:04:05.000000000Z07:00"

// AppendCoinbase appends a Coinbase ticker:
//
//	{"type":"ticker","sequence":123,"product_id":"BTC-USD","price":"64000.3","best_bid":"64000.12","best_bid_size":"1.5","best_ask":"64000.55","best_ask_size":"2","side":"buy","time":"2026-11-22T02:06:58.123456789Z","trade_id":123,"last_size":"0.015"}
//
// trade_id repeats the sequence number.
func AppendCoinbase(dst []byte, t *Tick) []byte {
	dst = append(dst, `{"type":"ticker","sequence":`...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	dst = append(dst, `,"product_id":`...)
	dst = strconv.AppendQuote(dst, t.Symbol)
	dst = append(dst, `,"price":"`...)
	dst = appendFloat(dst, t.Last)
	dst = append(dst, `","best_bid":"`...)
	dst = appendFloat(dst, t.Bid)
	dst = append(dst, `","best_bid_size":"`...)
	dst = appendFloat(dst, t.BidSize)
	dst = append(dst, `","best_ask":"`...)
	dst = appendFloat(dst, t.Ask)
	dst = append(dst, `","best_ask_size":"`...)
	dst = appendFloat(dst, t.AskSize)
	dst = append(dst, `","side":"`...)
	if t.Side == SideSell {
		dst = append(dst, "sell"...)
	} else {
		dst = append(dst, "buy"...)
	}
	dst = append(dst, `","time":"`...)
	dst = time.Unix(0, t.ExchNS).UTC().AppendFormat(dst, coinbaseTimeLayout)
	dst = append(dst, `","trade_id":`...)
	dst = strconv.AppendUint(dst, t.Seq, 10)
	dst = append(dst, `,"last_size":"`...)
	dst = appendFloat(dst, t.Size)
	return append(dst, `"}`...)
}
