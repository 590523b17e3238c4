// Package feed is the mock exchange's market-data feed: a TLS WebSocket
// server (Echo v4 + github.com/coder/websocket) that streams generated or
// replayed ticks in the lab, Binance or Coinbase wire format (see
// feed/format).
//
// # Subscribing
//
//   - Binance raw streams by path: /ws/btcusdt@trade, /ws/btcusdt@trade/ethusdt@bookTicker
//     (payloads unwrapped).
//   - Binance combined streams: /stream?streams=btcusdt@trade/ethusdt@bookTicker
//     (payloads wrapped as {"stream":..,"data":..}).
//   - By message on /ws, /stream or /: {"method":"SUBSCRIBE","params":[...],"id":1}
//     answered {"result":null,"id":1}; UNSUBSCRIBE; LIST_SUBSCRIPTIONS answered
//     {"result":[...],"id":N}. Coinbase style {"type":"subscribe","product_ids":[..],
//     "channels":["ticker"]} (or channels as {"name":"ticker","product_ids":[..]})
//     answered {"type":"subscriptions","channels":[...]}; "unsubscribe" likewise.
//   - ?timeUnit=MICROSECOND makes Binance E and T microseconds.
//
// Stream names: lab "<symbol lowercase>@tick"; Binance "<symbol lowercase>@trade"
// and "@bookTicker"; Coinbase "<PRODUCT-ID>@ticker" (subscribed by product
// and channel "ticker"). An unknown stream, product, channel or method, or a
// message that is not JSON, is answered with an error message (Binance
// {"error":{"code":2,"msg":".."},"id":N}, code 3 for bad JSON; Coinbase
// {"type":"error","message":"..","reason":".."}), never silence. Unknown
// streams in a path are refused with HTTP 400 before the upgrade.
//
// # Rate patterns (Config.Pattern, --pattern)
//
// Every symbol has one price process and one schedule; each scheduled event
// is one message on every stream of that symbol (so Binance trade and
// bookTicker streams of a symbol both run at the symbol's rate).
//
//   - constant          evenly spaced at Config.Rate msgs/s (default)
//   - poisson           exponential gaps with mean 1/Rate
//   - burst:N/T@P       N messages evenly spread over T, every P (for example
//     burst:100/1ms@100ms); Rate is ignored
//   - staged:R@D,R@D..  constant R msgs/s for D, then the next stage, looping
//     (for example staged:500@10s,2000@5s); Rate is ignored
//
// Events are due at start+offset(k) computed from the schedule, not from the
// previous wake-up: a late timer (Go timers overshoot by ~1 ms) makes the
// generator emit every event already due in one batch, so the long-run rate
// never drifts.
//
// # Timestamps
//
// The exchange timestamp is set by each client's writer goroutine right
// before the WebSocket write, so the feed latency a monitor measures is
// network plus client, not server queueing. Two clients therefore see
// different timestamps for the same sequence number.
//
// # Replay and record files
//
// --record FILE writes every generated event as one lab-format line
// (format.AppendLab: type, stream, seq, ts_ns, symbol, bid, ask, last, size,
// bid_size, ask_size, side), ts_ns being the scheduled time. --replay FILE
// reads such lines (any lab-format tick lines; blank lines and lines starting
// with '#' are skipped; a symbol's ts_ns must not go back; lines are
// ordered by ts_ns, stable) and, from the first
// subscription on (so a client that connects after the start loses nothing;
// the replay starts once every stream of that first request is subscribed),
// publishes them at their original spacing divided by Config.Speed, keeping
// their seq, symbol and prices; the symbols are those of the file. The replay
// ends after the last line; the server stays up.
//
// # Slow consumers
//
// Each client has a bounded queue (Config.Queue ticks; it starts at 64 and
// doubles as a backlog builds). When it is full the slow policy applies:
// drop-oldest discards the oldest queued tick and counts it; disconnect
// closes the connection with status 1008. Memory per client is bounded by
// the queue length (about 120 bytes a tick). The server pings every PingInterval and
// closes a connection whose pong does not come within PingTimeout.
//
// # Buffers
//
// The generator owns the ticks it makes and hands copies (by value) to the
// clients' queues; each client's writer owns its queue and its encode buffer.
// Nothing the server hands out refers to internal storage.
package feed

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
)

// Slow-consumer policies.
const (
	DropOldest = "drop-oldest"
	Disconnect = "disconnect"
)

// Config is the plain-data configuration of a feed server.
type Config struct {
	Format  format.Format // Lab, Binance or Coinbase
	Symbols []string      // empty: BTCUSDT,ETHUSDT (Coinbase: BTC-USD,ETH-USD)
	Rate    float64       // msgs/s per stream for the constant and poisson patterns
	Pattern string        // see the package doc; empty means "constant"
	Seed    int64         // seeds the price process and the poisson schedule

	TLS   tlsconf.Options
	NoTLS bool // plain ws:// (debugging only; the lab always uses TLS)

	Deflate                  bool // offer permessage-deflate
	DeflateNoContextTakeover bool // and reset the compressor after every message
	DeflateThreshold         int  // compress messages of at least this many bytes; 0 means 1

	Queue        int           // per-client queue length in ticks; 0 means 4096
	SlowPolicy   string        // DropOldest (default) or Disconnect
	PingInterval time.Duration // 0 means 20s; negative disables pings
	PingTimeout  time.Duration // 0 means 10s

	Replay string  // lab-format JSONL file to replay instead of generating
	Speed  float64 // replay speed factor; 0 means 1
	Record string  // write generated ticks here (lab-format JSONL)
}

// withDefaults returns c with zero fields replaced by their defaults.
func (c Config) withDefaults() Config {
	if len(c.Symbols) == 0 {
		if c.Format == format.Coinbase {
			c.Symbols = []string{"BTC-USD", "ETH-USD"}
		} else {
			c.Symbols = []string{"BTCUSDT", "ETHUSDT"}
		}
	}
	if c.Pattern == "" {
		c.Pattern = "constant"
	}
	if c.DeflateThreshold == 0 {
		c.DeflateThreshold = 1
	}
	if c.Queue == 0 {
		c.Queue = 4096
	}
	if c.SlowPolicy == "" {
		c.SlowPolicy = DropOldest
	}
	if c.PingInterval == 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 10 * time.Second
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	return c
}

// maxQueue bounds the per-client queue so that a typo cannot ask for
// gigabytes per connection.
const maxQueue = 1 << 20

// Validate checks c (after defaults) and names the offending flag.
func (c Config) Validate() error {
	c = c.withDefaults()
	switch c.Format {
	case format.Lab, format.Binance, format.Coinbase:
	default:
		return fmt.Errorf("--format %q: want lab, binance or coinbase", c.Format)
	}
	seen := map[string]bool{}
	for _, s := range c.Symbols {
		if err := checkSymbol(c.Format, s); err != nil {
			return err
		}
		k := strings.ToLower(s)
		if seen[k] {
			return fmt.Errorf("--symbols: %q given twice", s)
		}
		seen[k] = true
	}
	if c.Rate < 0 || c.Rate > 1e6 {
		return fmt.Errorf("--rate %v: want 0 to 1000000 msgs/s per stream", c.Rate)
	}
	if _, err := parsePattern(c.Pattern, c.Rate); err != nil {
		return err
	}
	if !c.NoTLS {
		if err := c.TLS.Validate(); err != nil {
			return err
		}
	}
	if c.DeflateNoContextTakeover && !c.Deflate {
		return errors.New("--deflate-no-context-takeover needs --deflate")
	}
	if c.DeflateThreshold < 0 {
		return fmt.Errorf("--deflate-threshold %d: want 0 or more bytes", c.DeflateThreshold)
	}
	if c.Queue < 1 || c.Queue > maxQueue {
		return fmt.Errorf("--queue %d: want 1 to %d ticks", c.Queue, maxQueue)
	}
	if c.SlowPolicy != DropOldest && c.SlowPolicy != Disconnect {
		return fmt.Errorf("--slow-policy %q: want %s or %s", c.SlowPolicy, DropOldest, Disconnect)
	}
	if c.PingInterval > 0 && c.PingTimeout <= 0 {
		return fmt.Errorf("--ping-timeout %v: want a positive duration", c.PingTimeout)
	}
	if c.Speed <= 0 || c.Speed > 1e6 {
		return fmt.Errorf("--speed %v: want a factor above 0", c.Speed)
	}
	if c.Speed != 1 && c.Replay == "" {
		return errors.New("--speed applies to --replay only")
	}
	if c.Replay != "" && c.Record != "" {
		return errors.New("--replay and --record cannot be combined")
	}
	if c.Replay == "" && c.Pattern != "" && c.Rate == 0 && (c.Pattern == "constant" || c.Pattern == "poisson") {
		return fmt.Errorf("--rate 0 with --pattern %s: nothing to send (give --rate N)", c.Pattern)
	}
	return nil
}

// checkSymbol accepts Binance-style symbols (letters and digits) for the lab
// and Binance formats and Coinbase product ids (BASE-QUOTE) for Coinbase.
func checkSymbol(f format.Format, s string) error {
	if s == "" || len(s) > 32 {
		return fmt.Errorf("--symbols: %q: want 1 to 32 characters", s)
	}
	dashes := 0
	for _, r := range s {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r >= '0' && r <= '9':
		case r == '-' && f == format.Coinbase:
			dashes++
		default:
			if f == format.Coinbase {
				return fmt.Errorf("--symbols: %q: want a product id such as BTC-USD", s)
			}
			return fmt.Errorf("--symbols: %q: want letters and digits such as BTCUSDT", s)
		}
	}
	if f == format.Coinbase && (dashes != 1 || s[0] == '-' || s[len(s)-1] == '-') {
		return fmt.Errorf("--symbols: %q: want a product id such as BTC-USD", s)
	}
	return nil
}
