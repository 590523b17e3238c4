// Package format encodes and decodes the mock exchange's three market-data
// wire formats: the lab's own JSON tick, Binance (trade and bookTicker, raw or
// wrapped in a combined-stream envelope) and Coinbase (ticker channel).
//
// One Tick struct carries every format's fields. Encoders are append-style
// (Append, AppendLab, AppendBinance, AppendCoinbase) and write into a buffer
// the caller owns and reuses. Decoders (Parse, ParseLab, ParseBinance,
// ParseCoinbase) fill a caller-owned *Tick; they keep no reference to msg.
// Tick's string fields (Stream, Symbol) are reused when the message carries
// the same value as the Tick already holds, so decoding a steady stream into
// one Tick allocates nothing.
//
// Prices and sizes are float64. The generator rounds prices to 0.01 and
// sizes to 1e-8; Binance prints prices with 2 decimals and sizes with 8 (as
// in the examples in docs/FORMATS.md), the lab and Coinbase formats print the
// shortest decimal that round-trips.
//
// Exchange timestamps: the lab format carries ts_ns (ns since the Unix
// epoch); Binance carries E and T in milliseconds, or microseconds when the
// connection asked ?timeUnit=MICROSECOND (decoders tell them apart by
// magnitude: a value below 1e14 is milliseconds); Coinbase carries "time" in
// RFC 3339 with up to nanosecond digits.
//
// Subscription replies and other control messages ({"result":..,"id":..},
// {"error":..}, {"type":"subscriptions"}, {"type":"error"}, heartbeats) are
// reported as ErrNotTick, which is not a decoding failure. Malformed input is
// a *SyntaxError naming the format, the byte offset and what was wrong.
//
// The zero-allocation JSON scanner in scan.go is strict and deliberately not
// shared with monitor/profile's lenient one: these decoders must reject, and
// position, any malformed byte of the mock exchange's own messages (every
// member is checked, trailing data is an error), while the monitor's
// profiles must pull a few fields by path out of whatever a real exchange
// sends and ignore the rest, so one scanner would change one side's results.
package format

import (
	"errors"
	"strconv"
)

// Format names a wire format.
type Format uint8

const (
	Auto     Format = iota // detect per message (Parse only)
	Lab                    // {"type":"tick",...}
	Binance                // trade / bookTicker, raw or combined
	Coinbase               // ticker channel
)

var formatNames = [...]string{Auto: "auto", Lab: "lab", Binance: "binance", Coinbase: "coinbase"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return "format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat maps a flag value (auto, lab, binance, coinbase) to a Format.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return 0, errors.New("format " + strconv.Quote(s) + ": want auto, lab, binance or coinbase")
}

// Kind says which fields of a Tick are meaningful.
type Kind uint8

const (
	KindQuote Kind = iota // lab tick, Coinbase ticker: bid, ask, last and size
	KindTrade             // Binance trade: Last, Size, Side
	KindBook              // Binance bookTicker: Bid, BidSize, Ask, AskSize
)

var kindNames = [...]string{KindQuote: "quote", KindTrade: "trade", KindBook: "book"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Side is the taker side of the last trade.
type Side uint8

const (
	SideUnknown Side = iota
	SideBuy
	SideSell
)

func (s Side) String() string {
	switch s {
	case SideBuy:
		return "buy"
	case SideSell:
		return "sell"
	}
	return ""
}

// Tick is one market-data message in any format.
type Tick struct {
	Stream  string  // stream name: "btcusdt@trade", "btcusdt@bookTicker", "btcusdt@tick", "BTC-USD@ticker"
	Symbol  string  // "BTCUSDT" (lab, Binance) or "BTC-USD" (Coinbase)
	Kind    Kind    // which fields below are meaningful
	Seq     uint64  // per-stream sequence: lab seq, Binance t (trade) / u (bookTicker), Coinbase sequence
	ExchNS  int64   // exchange timestamp, ns since the Unix epoch (0 when the message has none)
	Bid     float64 // best bid price
	Ask     float64 // best ask price
	BidSize float64 // best bid quantity (Binance B, Coinbase best_bid_size)
	AskSize float64 // best ask quantity (Binance A, Coinbase best_ask_size)
	Last    float64 // last trade price
	Size    float64 // last trade quantity
	Side    Side    // taker side of the last trade
}

// ErrNotTick reports a well-formed message that carries no tick: a
// subscription reply, an error message from the server, a heartbeat, or an
// event type the decoder does not turn into ticks.
var ErrNotTick = errors.New("not a tick")

// SyntaxError is a message that could not be decoded.
type SyntaxError struct {
	Format Format
	Offset int    // byte offset in the message
	Msg    string // what was wrong
}

func (e *SyntaxError) Error() string {
	return "format " + e.Format.String() + ": byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}
