package trader

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/orderapi"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// Deflate modes offered to the feed (the server decides).
const (
	DeflateContext   = "context"   // offer permessage-deflate with context takeover (default)
	DeflateNoContext = "nocontext" // offer it without context takeover
	DeflateOff       = "off"       // do not offer it
)

// Config is the plain-data configuration of a trader process (all of its
// clients). Field comments name the command-line flag.
type Config struct {
	Feeds     []string      // --feed: ws:// or wss:// URLs; the path may subscribe (/ws/btcusdt@trade)
	Subscribe []string      // --subscribe: text messages sent on every (re)connect to every feed
	Format    format.Format // --format: Auto detects per connection from its first ticks
	Deflate   string        // --deflate: context (default), nocontext or off

	Orders    string // --orders: base URL of the order API (https://host:port)
	APIKey    string // --api-key (env CLOUDPCAP_API_KEY); empty with APISecret empty: the lab's default
	APISecret string // --api-secret (env CLOUDPCAP_API_SECRET); never logged

	Strategy string            // --strategy
	Params   map[string]string // --param k=v

	Insecure   bool   // --insecure: accept any server certificate (the lab's self-signed ones)
	CAFile     string // --ca: PEM file of trusted roots (instead of the system's)
	TLSVersion string // --tls: highest TLS version offered: "" or "1.3" (1.2 and 1.3), "1.2"

	KeyLogFile     string // --keylog: NSS key log of every TLS connection
	TimestampsFile string // --timestamps: application-side timestamps, JSONL

	Duration   time.Duration // --duration: 0 runs until the context ends
	Clients    int           // --clients: independent clients (own connections, strategy, id prefix); 0 means 1
	OrderConns int           // --order-conns: order connections per client, each with one request in flight; 0 means 1
	TickQueue  int           // --tick-queue: ticks waiting for the strategy, per client; 0 means 4096
	OrderQueue int           // --order-queue: orders waiting for a connection, per client; 0 means 1024
	IDPrefix   string        // --id-prefix: client order ids are <prefix><client>-<n>; empty means "t"
	Seed       uint64        // --seed: reconnect jitter (strategies take their own seed param)

	ReconnectMin time.Duration // --reconnect-min: first backoff; 0 means 50ms
	ReconnectMax time.Duration // --reconnect-max: backoff cap; 0 means 5s
	NoWarmup     bool          // --no-warmup: do not open order connections (GET /healthz) before the first order
}

// Limits of Config values.
const (
	MaxClients    = 1000
	MaxOrderConns = 256
	MaxQueue      = 1 << 20
	maxIDLen      = 36 // orderapi's client_order_id limit
)

// ConfigError is a bad Config field; Flag names the command-line flag
// (without dashes) so the command can report it as such.
type ConfigError struct {
	Flag string
	Msg  string
}

func (e *ConfigError) Error() string { return "--" + e.Flag + ": " + e.Msg }

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.APIKey == "" && c.APISecret == "" {
		c.APIKey, c.APISecret = orderapi.DefaultAPIKey, orderapi.DefaultAPISecret
	}
	if c.Deflate == "" {
		c.Deflate = DeflateContext
	}
	if c.Clients == 0 {
		c.Clients = 1
	}
	if c.OrderConns == 0 {
		c.OrderConns = 1
	}
	if c.TickQueue == 0 {
		c.TickQueue = 4096
	}
	if c.OrderQueue == 0 {
		c.OrderQueue = 1024
	}
	if c.IDPrefix == "" {
		c.IDPrefix = "t"
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = 50 * time.Millisecond
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = 5 * time.Second
	}
	return c
}

// Validate checks c (after defaults). Strategy errors are *strategy.Error;
// the rest *ConfigError.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(flag, format string, args ...any) error {
		return &ConfigError{Flag: flag, Msg: fmt.Sprintf(format, args...)}
	}
	if len(c.Feeds) == 0 {
		return bad("feed", "at least one feed URL is required (e.g. wss://127.0.0.1:8443/ws/btcusdt@trade)")
	}
	for _, f := range c.Feeds {
		if _, err := checkURL(f, "wss", "ws"); err != nil {
			return bad("feed", "%v", err)
		}
	}
	if c.Orders == "" {
		return bad("orders", "the order API base URL is required (e.g. https://127.0.0.1:8444)")
	}
	if u, err := checkURL(c.Orders, "https", "http"); err != nil {
		return bad("orders", "%v", err)
	} else if u.RawQuery != "" || u.Fragment != "" {
		return bad("orders", "%q: a base URL has no query or fragment", c.Orders)
	}
	switch {
	case c.APIKey == "":
		return bad("api-key", "empty while --api-secret is set")
	case c.APISecret == "":
		return bad("api-secret", "empty while --api-key is set")
	}
	if c.Strategy == "" {
		return bad("strategy", "required (one of %s)", strings.Join(strategy.Names(), ", "))
	}
	if _, err := strategy.New(c.Strategy, c.Params, strategy.Env{Feeds: len(c.Feeds)}); err != nil {
		return err
	}
	switch c.Deflate {
	case DeflateContext, DeflateNoContext, DeflateOff:
	default:
		return bad("deflate", "%q: want context, nocontext or off", c.Deflate)
	}
	switch c.TLSVersion {
	case "", "1.2", "1.3":
	default:
		return bad("tls", "%q: want 1.2 or 1.3", c.TLSVersion)
	}
	if c.Insecure && c.CAFile != "" {
		return bad("ca", "--insecure and --ca exclude each other (--ca verifies, --insecure does not)")
	}
	switch {
	case c.Duration < 0:
		return bad("duration", "%v is negative", c.Duration)
	case c.Clients < 1 || c.Clients > MaxClients:
		return bad("clients", "%d is outside [1, %d]", c.Clients, MaxClients)
	case c.OrderConns < 1 || c.OrderConns > MaxOrderConns:
		return bad("order-conns", "%d is outside [1, %d]", c.OrderConns, MaxOrderConns)
	case c.TickQueue < 1 || c.TickQueue > MaxQueue:
		return bad("tick-queue", "%d is outside [1, %d]", c.TickQueue, MaxQueue)
	case c.OrderQueue < 1 || c.OrderQueue > MaxQueue:
		return bad("order-queue", "%d is outside [1, %d]", c.OrderQueue, MaxQueue)
	case c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin:
		return bad("reconnect-max", "%v must be at least --reconnect-min %v", c.ReconnectMax, c.ReconnectMin)
	}
	for i := 0; i < len(c.IDPrefix); i++ {
		if !isIDByte(c.IDPrefix[i]) {
			return bad("id-prefix", "%q: want A-Z a-z 0-9 . : / _ -", c.IDPrefix)
		}
	}
	// Longest id: prefix, client number, '-', 20 digits of order number.
	if n := len(c.IDPrefix) + len(fmt.Sprint(c.Clients-1)) + 1 + 20; n > maxIDLen {
		return bad("id-prefix", "%q is too long: ids could reach %d bytes (the order API takes %d)", c.IDPrefix, n, maxIDLen)
	}
	return nil
}

func isIDByte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' ||
		c == '.' || c == ':' || c == '/' || c == '_' || c == '-'
}

// checkURL parses s and checks its scheme and host.
func checkURL(s string, schemes ...string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("%q is not a URL", s)
	}
	ok := false
	for _, sc := range schemes {
		ok = ok || u.Scheme == sc
	}
	if !ok {
		return nil, fmt.Errorf("%q: scheme must be %s", s, strings.Join(schemes, " or "))
	}
	if u.Host == "" || u.Port() == "" && strings.HasSuffix(u.Host, ":") {
		return nil, fmt.Errorf("%q: no host", s)
	}
	return u, nil
}
