package format

import "strings"

// Channel is one stream a format publishes for each symbol.
type Channel struct {
	Name string // "trade", "bookTicker", "ticker", "tick"
	Kind Kind
}

// Channels lists the format's channels per symbol, the main one first:
// Binance trade and bookTicker, Coinbase ticker, the lab's tick.
func (f Format) Channels() []Channel {
	switch f {
	case Binance:
		return []Channel{{"trade", KindTrade}, {"bookTicker", KindBook}}
	case Coinbase:
		return []Channel{{"ticker", KindQuote}}
	}
	return []Channel{{"tick", KindQuote}}
}

// StreamName is the name of symbol's stream on a channel:
// lowercase(symbol)@channel, except Coinbase, which keeps the product id
// upper-case (BTC-USD@ticker).
func (f Format) StreamName(symbol, channel string) string {
	if f == Coinbase {
		return strings.ToUpper(symbol) + "@" + channel
	}
	return strings.ToLower(symbol) + "@" + channel
}

// MainStream is symbol's stream on the format's main channel, the one a
// client subscribes to by default (btcusdt@trade, BTC-USD@ticker,
// btcusdt@tick).
func (f Format) MainStream(symbol string) string {
	return f.StreamName(symbol, f.Channels()[0].Name)
}
