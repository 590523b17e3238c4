package trader

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed"
	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/orderapi"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// TestEveryKnownTickCount: a replay of 200 ticks, every n=5, gives exactly
// 40 orders, each acked and counted by the order API, each naming the 5th,
// 10th, ... tick of the feed connection it came from.
func TestEveryKnownTickCount(t *testing.T) {
	checkGoroutines(t)
	os_ := startOrderAPI(t, orderapi.Config{})
	fd := startFeed(t, feed.Config{Format: format.Lab, Symbols: []string{"BTCUSDT"}, Replay: writeReplay(t, "BTCUSDT", 1, 200, nil)}, "")
	stamps := filepath.Join(t.TempDir(), "ts.jsonl")
	cfg := baseConfig(os_, "wss://"+fd.addr+"/ws/btcusdt@tick")
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "5"}
	cfg.TimestampsFile = stamps
	cfg.OrderConns = 2
	r := startTrader(t, cfg)
	waitFor(t, "200 ticks and 40 acks", 20*time.Second, func() bool {
		s := r.tr.Stats()
		return s.Ticks == 200 && s.Acked == 40
	})
	st := r.stop()
	if st.Ticks != 200 || st.Orders != 40 || st.Sent != 40 || st.Acked != 40 || st.ErrorCount() != 0 ||
		st.Gaps != 0 || st.TickDrops != 0 || st.OrderDrops != 0 || st.Statuses["NEW"]+st.Statuses["FILLED"] != 40 {
		t.Fatalf("stats %+v", st)
	}
	if as := os_.srv.Stats(); as.Accepted != 40 || as.Symbols["BTCUSDT"] != 40 {
		t.Fatalf("order API stats %+v, want 40 accepted BTCUSDT orders", as)
	}
	if st.TickToDecision.Count != 40 || st.OrderToAck.Count != 40 || st.TickToWire.Count != 40 {
		t.Errorf("latency counts %+v %+v %+v", st.TickToDecision, st.TickToWire, st.OrderToAck)
	}
	lines := readStamps(t, stamps)
	var ticks, orders int
	seqs := map[uint64]bool{}
	var feedConn string
	for _, l := range lines {
		switch l.Kind {
		case "tick":
			ticks++
			if l.Stream != "btcusdt@tick" || l.Symbol != "BTCUSDT" || l.Seq%5 != 0 || l.RecvNS == 0 || l.DecideNS < l.RecvNS {
				t.Errorf("tick line %+v", l)
			}
			feedConn = l.Conn
		case "order":
			orders++
			seqs[l.TickSeq] = true
			if l.TickSeq%5 != 0 || l.Status == "" || l.HTTPStatus != 200 || !strings.HasPrefix(l.OrderID, "t0-") ||
				!(l.RecvNS <= l.DecideNS && l.DecideNS <= l.SendNS && l.SendNS <= l.WroteNS && l.WroteNS <= l.AckNS) {
				t.Errorf("order line %+v", l)
			}
			if !strings.HasSuffix(l.OrderConn, "-"+strings.TrimPrefix(os_.url, "https://")) {
				t.Errorf("order_conn %q does not end at the order API", l.OrderConn)
			}
		default:
			t.Errorf("line kind %q", l.Kind)
		}
	}
	if ticks != 40 || orders != 40 || len(seqs) != 40 {
		t.Errorf("%d tick lines, %d order lines, %d distinct tick seqs; want 40 each", ticks, orders, len(seqs))
	}
	// tick_feed is the feed connection, client first.
	local, remote, ok := strings.Cut(feedConn, "-")
	if !ok || remote != fd.addr || !strings.HasPrefix(local, "127.0.0.1:") || local == remote {
		t.Errorf("tick conn %q, want 127.0.0.1:PORT-%s", feedConn, fd.addr)
	}
	for _, l := range lines {
		if l.Kind == "order" && l.TickConn != feedConn {
			t.Errorf("order %s names tick conn %q, want %q", l.OrderID, l.TickConn, feedConn)
		}
	}
}

// TestStrategiesEndToEnd runs each built-in against a generated feed and
// checks that what the trader says it sent is what the order API accepted.
func TestStrategiesEndToEnd(t *testing.T) {
	cases := []struct {
		strategy string
		params   map[string]string
		feeds    int
	}{
		{"every", map[string]string{"n": "3", "think": "uniform:10us-50us"}, 1},
		{"threshold", map[string]string{"level": "64000", "type": "market"}, 1},
		{"momentum", map[string]string{"fast": "2", "slow": "5"}, 1},
		{"arb", map[string]string{"bps": "0.5"}, 2},
	}
	for _, c := range cases {
		t.Run(c.strategy, func(t *testing.T) {
			checkGoroutines(t)
			os_ := startOrderAPI(t, orderapi.Config{})
			var urls []string
			for i := range c.feeds {
				fd := startFeed(t, feed.Config{Format: format.Binance, Symbols: []string{"BTCUSDT"}, Rate: 1000, Seed: int64(1 + i)}, "")
				urls = append(urls, "wss://"+fd.addr+"/ws/btcusdt@trade")
			}
			cfg := baseConfig(os_, urls...)
			cfg.Strategy, cfg.Params = c.strategy, c.params
			r := startTrader(t, cfg)
			waitFor(t, "5 acks", 20*time.Second, func() bool { return r.tr.Stats().Acked >= 5 })
			st := r.stop()
			as := os_.srv.Stats()
			if st.ErrorCount() != 0 || st.OrderDrops != 0 || st.Acked != st.Sent || as.Accepted != st.Acked || st.Bad != 0 {
				t.Fatalf("trader %+v\norder API %+v", st, as)
			}
		})
	}
}

// TestArbFollowsTheLeader: two feeds replay the same prices, which step
// between 100 and 101 every 30 ticks (300 ms); one feed reaches the
// trader 15 ms late (and starts later: its handshakes are delayed too). Every step shows first on the leading feed, so each of the 5 steps
// makes exactly one order, triggered by a leader tick, in the direction of
// the step, at the lagging feed's stale price.
func TestArbFollowsTheLeader(t *testing.T) {
	checkGoroutines(t)
	os_ := startOrderAPI(t, orderapi.Config{})
	replay := writeReplay(t, "BTCUSDT", 1, 240, func(i int) float64 { return 100 + float64(i/60%2) })
	cfgF := feed.Config{Format: format.Lab, Symbols: []string{"BTCUSDT"}, Replay: replay, Speed: 0.1} // 10 ms apart
	lead := startFeed(t, cfgF, "")
	lag := startFeed(t, cfgF, "")
	slow := startProxy(t, lag.addr, 15*time.Millisecond)
	stamps := filepath.Join(t.TempDir(), "ts.jsonl")
	cfg := baseConfig(os_, "wss://"+lead.addr+"/ws/btcusdt@tick", "wss://"+slow.addr()+"/ws/btcusdt@tick")
	cfg.Strategy, cfg.Params = "arb", map[string]string{"bps": "50"}
	cfg.TimestampsFile = stamps
	r := startTrader(t, cfg)
	waitFor(t, "all 480 ticks", 30*time.Second, func() bool { return r.tr.Stats().Ticks == 480 })
	waitFor(t, "3 acks", 10*time.Second, func() bool { return r.tr.Stats().Acked >= 3 })
	st := r.stop()
	if st.ErrorCount() != 0 || st.Orders != 3 || st.Acked != 3 {
		t.Fatalf("stats %+v", st)
	}
	var sides []string
	for _, l := range readStamps(t, stamps) {
		if l.Kind != "order" {
			continue
		}
		sides = append(sides, l.Side)
		if _, remote, _ := strings.Cut(l.TickConn, "-"); remote != lead.addr {
			t.Errorf("order %s triggered on %s, want the leading feed %s", l.OrderID, remote, lead.addr)
		}
		if want := uint64(60 * len(sides)); l.TickSeq != want+1 {
			t.Errorf("order %s triggered by seq %d, want the step at %d", l.OrderID, l.TickSeq, want+1)
		}
	}
	if got := strings.Join(sides, " "); got != "BUY SELL BUY" {
		t.Errorf("sides %s", got)
	}
}

// TestFeedRestart: the feed dies after seq 100 and comes back on the same
// port continuing at seq 151. The trader reconnects with backoff,
// resubscribes (the URL path) and reports one gap of 50.
func TestFeedRestart(t *testing.T) {
	checkGoroutines(t)
	os_ := startOrderAPI(t, orderapi.Config{})
	first := startFeed(t, feed.Config{Format: format.Lab, Symbols: []string{"ETHUSDT"}, Replay: writeReplay(t, "ETHUSDT", 1, 100, nil)}, "")
	cfg := baseConfig(os_, "wss://"+first.addr+"/ws/ethusdt@tick")
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "10"}
	r := startTrader(t, cfg)
	waitFor(t, "100 ticks", 20*time.Second, func() bool { return r.tr.Stats().Ticks == 100 })
	first.stop()
	waitFor(t, "a failed reconnect", 10*time.Second, func() bool { return r.tr.Stats().DialErrors >= 1 })
	second := startFeed(t, feed.Config{Format: format.Lab, Symbols: []string{"ETHUSDT"}, Replay: writeReplay(t, "ETHUSDT", 151, 100, nil)}, first.addr)
	waitFor(t, "200 ticks", 20*time.Second, func() bool { return r.tr.Stats().Ticks == 200 })
	waitFor(t, "20 acks", 10*time.Second, func() bool { return r.tr.Stats().Acked == 20 })
	st := r.stop()
	if st.Connects != 2 || st.Reconnects != 1 || st.Gaps != 1 || st.Missing != 50 || st.Resets != 0 {
		t.Fatalf("connects %d reconnects %d gaps %d missing %d resets %d (dial errors %d)",
			st.Connects, st.Reconnects, st.Gaps, st.Missing, st.Resets, st.DialErrors)
	}
	if c := second.srv.Stats().Connections; c != 1 {
		t.Errorf("second feed saw %d connections", c)
	}
	var sum bytes.Buffer
	st.WriteSummary(&sum)
	for _, want := range []string{"200 ticks", "1 gaps (50 seq missing)", "1 reconnects", "20 acked"} {
		if !strings.Contains(sum.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, sum.String())
		}
	}
}

// TestKeyLogCoversEveryConnection: with two clients and two order
// connections each, every handshake's client random (seen by sniffing
// proxies, not by the trader) has its secrets in the key log, with the
// labels of the negotiated version; the file is 0600 even if it existed
// with a wider mode.
func TestKeyLogCoversEveryConnection(t *testing.T) {
	for _, ver := range []string{"1.3", "1.2"} {
		t.Run("tls"+ver, func(t *testing.T) {
			checkGoroutines(t)
			// The servers pin their version (tlsconf: 1.3 means 1.3 only).
			tlsOpts := tlsconf.Options{Version: ver}
			os_ := startOrderAPI(t, orderapi.Config{TLS: tlsOpts})
			fd := startFeed(t, feed.Config{Format: format.Coinbase, Symbols: []string{"BTC-USD"}, Rate: 500, Deflate: true, TLS: tlsOpts}, "")
			fp := startProxy(t, fd.addr, 0)
			op := startProxy(t, strings.TrimPrefix(os_.url, "https://"), 0)
			kl := filepath.Join(t.TempDir(), "keys.log")
			if err := os.WriteFile(kl, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			cfg := baseConfig(&orderServer{url: "https://" + op.addr()}, "wss://"+fp.addr()+"/ws/BTC-USD@ticker")
			cfg.Strategy, cfg.Params = "every", map[string]string{"n": "2"}
			cfg.Clients, cfg.OrderConns = 2, 2
			cfg.KeyLogFile = kl
			if ver == "1.2" {
				cfg.TLSVersion = "1.2"
			}
			r := startTrader(t, cfg)
			waitFor(t, "10 acks", 20*time.Second, func() bool { return r.tr.Stats().Acked >= 10 })
			st := r.stop()
			if st.ErrorCount() != 0 || st.Bad != 0 || st.OrderConns != 4 || st.Connects != 2 {
				t.Fatalf("stats %+v", st)
			}
			fi, err := os.Stat(kl)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("key log mode %v, %v", fi.Mode(), err)
			}
			labels := parseKeyLog(t, kl)
			randoms := append(fp.clientRandoms(), op.clientRandoms()...)
			if len(randoms) != 2+4 {
				t.Errorf("%d handshakes through the proxies, want 6", len(randoms))
			}
			want := []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}
			if ver == "1.2" {
				want = []string{"CLIENT_RANDOM"}
			}
			for _, cr := range randoms {
				for _, l := range want {
					if !labels[cr][l] {
						t.Errorf("client random %s…: no %s line", cr[:8], l)
					}
				}
			}
		})
	}
}

// parseKeyLog returns client random -> labels present.
func parseKeyLog(t *testing.T, path string) map[string]map[string]bool {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("key log line %d: %d fields", n, len(f))
		}
		if r, err := hex.DecodeString(f[1]); err != nil || len(r) != 32 {
			t.Fatalf("key log line %d: bad client random", n)
		}
		if s, err := hex.DecodeString(f[2]); err != nil || len(s) < 32 {
			t.Fatalf("key log line %d: bad secret", n)
		}
		if out[f[1]] == nil {
			out[f[1]] = map[string]bool{}
		}
		out[f[1]][f[0]] = true
	}
	return out
}

// TestFormatsDetected: Binance combined streams and Coinbase subscriptions
// by message are decoded without --format; an explicit wrong --format makes
// every message undecodable (counted, not fatal).
func TestFormatsDetected(t *testing.T) {
	checkGoroutines(t)
	os_ := startOrderAPI(t, orderapi.Config{})
	bn := startFeed(t, feed.Config{Format: format.Binance, Symbols: []string{"BTCUSDT"}, Rate: 500}, "")
	cb := startFeed(t, feed.Config{Format: format.Coinbase, Symbols: []string{"ETH-USD"}, Rate: 500}, "")
	cfg := baseConfig(os_, "wss://"+bn.addr+"/stream?streams=btcusdt@trade/btcusdt@bookTicker", "wss://"+cb.addr+"/")
	cfg.Subscribe = []string{`{"type":"subscribe","product_ids":["ETH-USD"],"channels":["ticker"]}`}
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "50"}
	r := startTrader(t, cfg)
	waitFor(t, "ticks from both feeds", 20*time.Second, func() bool { return r.tr.Stats().Ticks >= 300 })
	st := r.stop()
	// The Binance connection answers the Coinbase subscription with an
	// error message, the Coinbase one with a subscriptions message: both
	// are control messages.
	if st.Bad != 0 || st.Control < 2 || st.Gaps != 0 {
		t.Fatalf("stats %+v", st)
	}

	wrong := baseConfig(os_, "wss://"+bn.addr+"/ws/btcusdt@trade")
	wrong.Format = format.Coinbase
	wrong.Strategy = "every"
	r2 := startTrader(t, wrong)
	waitFor(t, "undecodable messages", 10*time.Second, func() bool { return r2.tr.Stats().Bad >= 10 })
	if st := r2.stop(); st.Ticks != 0 {
		t.Errorf("ticks %d with the wrong format", st.Ticks)
	}
}

// TestVerifiedTLS: --ca trusts a feed and order API serving a given
// certificate; without --ca and --insecure the connection is refused.
func TestVerifiedTLS(t *testing.T) {
	checkGoroutines(t)
	certFile, keyFile := selfSignedFiles(t)
	os_ := startOrderAPI(t, orderapi.Config{TLS: tlsOptions(certFile, keyFile)})
	fd := startFeed(t, feed.Config{Format: format.Lab, Rate: 500, TLS: tlsOptions(certFile, keyFile)}, "")
	cfg := baseConfig(os_, "wss://"+fd.addr+"/ws/btcusdt@tick")
	cfg.Insecure, cfg.CAFile = false, certFile
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "5"}
	r := startTrader(t, cfg)
	waitFor(t, "3 acks", 20*time.Second, func() bool { return r.tr.Stats().Acked >= 3 })
	if st := r.stop(); st.ErrorCount() != 0 {
		t.Fatalf("errors with --ca: %v", st.Errors)
	}

	cfg.CAFile = ""
	cfg.NoWarmup = true
	r2 := startTrader(t, cfg)
	waitFor(t, "refused handshakes", 10*time.Second, func() bool { return r2.tr.Stats().DialErrors >= 2 })
	if st := r2.stop(); st.Connects != 0 {
		t.Errorf("connected without trusting the certificate: %+v", st)
	}
}

func TestConfigValidate(t *testing.T) {
	ok := func() Config {
		return Config{Feeds: []string{"wss://127.0.0.1:8443/ws/btcusdt@trade"}, Orders: "https://127.0.0.1:8444", Strategy: "every"}
	}
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"ok", func(*Config) {}, ""},
		{"no feed", func(c *Config) { c.Feeds = nil }, "--feed: at least one feed URL is required"},
		{"feed scheme", func(c *Config) { c.Feeds = []string{"https://x:1/ws"} }, `--feed: "https://x:1/ws": scheme must be wss or ws`},
		{"feed url", func(c *Config) { c.Feeds = []string{"wss://[::1"} }, `--feed: "wss://[::1" is not a URL`},
		{"feed host", func(c *Config) { c.Feeds = []string{"wss:///ws"} }, `--feed: "wss:///ws": no host`},
		{"no orders", func(c *Config) { c.Orders = "" }, "--orders: the order API base URL is required"},
		{"orders scheme", func(c *Config) { c.Orders = "wss://x:1" }, `--orders: "wss://x:1": scheme must be https or http`},
		{"orders query", func(c *Config) { c.Orders = "https://x:1/?a=b" }, "--orders: \"https://x:1/?a=b\": a base URL has no query"},
		{"key only", func(c *Config) { c.APIKey = "k" }, "--api-secret: empty while --api-key is set"},
		{"secret only", func(c *Config) { c.APISecret = "s" }, "--api-key: empty while --api-secret is set"},
		{"no strategy", func(c *Config) { c.Strategy = "" }, "--strategy: required (one of " + strings.Join(strategy.Names(), ", ") + ")"},
		{"bad strategy", func(c *Config) { c.Strategy = "hodl" }, `strategy "hodl": unknown strategy`},
		{"bad param", func(c *Config) { c.Params = map[string]string{"n": "-2"} }, "strategy every: param n: -2 is below 1"},
		{"unknown param", func(c *Config) { c.Params = map[string]string{"level": "3"} }, "strategy every: param level: unknown parameter"},
		{"arb one feed", func(c *Config) { c.Strategy = "arb" }, "strategy arb: param a: arb needs two feeds"},
		{"deflate", func(c *Config) { c.Deflate = "yes" }, `--deflate: "yes": want context, nocontext or off`},
		{"tls", func(c *Config) { c.TLSVersion = "1.1" }, `--tls: "1.1": want 1.2 or 1.3`},
		{"insecure and ca", func(c *Config) { c.Insecure, c.CAFile = true, "ca.pem" }, "--ca: --insecure and --ca exclude each other"},
		{"duration", func(c *Config) { c.Duration = -time.Second }, "--duration: -1s is negative"},
		{"clients", func(c *Config) { c.Clients = 1001 }, "--clients: 1001 is outside [1, 1000]"},
		{"order conns", func(c *Config) { c.OrderConns = -1 }, "--order-conns: -1 is outside [1, 256]"},
		{"tick queue", func(c *Config) { c.TickQueue = -5 }, "--tick-queue: -5 is outside"},
		{"order queue", func(c *Config) { c.OrderQueue = MaxQueue + 1 }, "--order-queue: 1048577 is outside"},
		{"backoff", func(c *Config) { c.ReconnectMin, c.ReconnectMax = time.Second, time.Millisecond }, "--reconnect-max: 1ms must be at least --reconnect-min 1s"},
		{"id chars", func(c *Config) { c.IDPrefix = "a b" }, `--id-prefix: "a b": want A-Z a-z 0-9 . : / _ -`},
		{"id length", func(c *Config) { c.IDPrefix = "abcdefghijklmnop" }, `--id-prefix: "abcdefghijklmnop" is too long`},
	}
	for _, c := range cases {
		cfg := ok()
		c.mod(&cfg)
		err := cfg.Validate()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
		var ce *ConfigError
		var se *strategy.Error
		if err != nil && !errors.As(err, &ce) && !errors.As(err, &se) {
			t.Errorf("%s: error %T is neither *ConfigError nor *strategy.Error", c.name, err)
		}
	}
	// Files that cannot be opened are named.
	cfg := ok()
	cfg.KeyLogFile = filepath.Join(t.TempDir(), "no", "keys.log")
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--keylog") {
		t.Errorf("bad --keylog: %v", err)
	}
	cfg = ok()
	cfg.CAFile = filepath.Join(t.TempDir(), "missing.pem")
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--ca") {
		t.Errorf("bad --ca: %v", err)
	}
	cfg = ok()
	cfg.TimestampsFile = filepath.Join(t.TempDir(), "no", "ts.jsonl")
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "--timestamps") {
		t.Errorf("bad --timestamps: %v", err)
	}
}

// TestOrderBodyParsesAtTheOrderAPI uses the order API's own parser as the
// oracle for the body the sender writes.
func TestOrderBodyParsesAtTheOrderAPI(t *testing.T) {
	o := orderMsg{order: strategy.Order{Side: strategy.Sell, Type: strategy.Limit, Quantity: 0.001, Price: 64123.45},
		symbol: "btc-usd", conn: "127.0.0.1:53122-127.0.0.1:8443", seq: 987654321}
	b := appendOrder(nil, &o, []byte("t3-17"))
	got, err := orderapi.ParseOrder(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	want := orderapi.Order{Symbol: "BTCUSD", Side: "SELL", Type: "LIMIT", Quantity: "0.001", Price: "64123.45",
		ClientOrderID: "t3-17", TickFeed: o.conn, TickSeq: 987654321, HasTickSeq: true}
	if got != want {
		t.Fatalf("parsed %+v\nwant   %+v", got, want)
	}
	o.order = strategy.Order{Side: strategy.Buy, Type: strategy.Market, Quantity: 2}
	b = appendOrder(b[:0], &o, []byte("x"))
	if got, err := orderapi.ParseOrder(b); err != nil || got.Price != "" || got.Type != "MARKET" {
		t.Fatalf("market order %s: %+v %v", b, got, err)
	}
	buf := make([]byte, 0, 512)
	if a := testing.AllocsPerRun(100, func() { buf = appendOrder(buf[:0], &o, []byte("t0-1")) }); a != 0 {
		t.Errorf("appendOrder: %v allocs", a)
	}
}

func TestCheckSeq(t *testing.T) {
	tr := &Trader{cfg: Config{}.withDefaults(), log: discardLog()}
	c := newClient(tr, 0, nil)
	fs := &feedState{seqs: map[string]*streamSeqs{}}
	tk := format.Tick{Stream: "a"}
	for _, s := range []uint64{5, 6, 7, 10, 11, 3, 4, 20} {
		tk.Seq = s
		c.checkSeq(fs, &tk, "c")
	}
	tk.Stream, tk.Seq = "b", 1 // another stream starts its own count
	c.checkSeq(fs, &tk, "c")
	if g, m, r := c.stats.gaps.Load(), c.stats.missing.Load(), c.stats.resets.Load(); g != 2 || m != 2+15 || r != 1 {
		t.Errorf("gaps %d missing %d resets %d, want 2, 17, 1", g, m, r)
	}
	if a := testing.AllocsPerRun(100, func() { tk.Seq++; c.checkSeq(fs, &tk, "c") }); a != 0 {
		t.Errorf("checkSeq: %v allocs", a)
	}
}

func TestStampLinesAreJSON(t *testing.T) {
	o := orderMsg{order: strategy.Order{Side: strategy.Buy}, symbol: "BTC\"USD", stream: "s\\x", conn: "c\n", seq: 3, recvNS: 1, decideNS: 2}
	b := appendTickStamp(nil, 1, &o)
	b = appendOrderStamp(b, 1, &o, []byte("t1-1"), "oc", 3, 4, 5, 200, []byte("NEW"), "")
	b = appendOrderStamp(b, 1, &o, []byte("t1-2"), "oc", 3, 0, 0, 0, nil, "timeout")
	p := filepath.Join(t.TempDir(), "s.jsonl")
	os.WriteFile(p, b, 0o644)
	lines := readStamps(t, p)
	if len(lines) != 3 || lines[0].Symbol != "BTC\"USD" || lines[0].Conn != "c\n" || lines[1].Status != "NEW" || lines[2].Error != "timeout" || lines[1].TickSeq != 3 {
		t.Fatalf("%+v", lines)
	}
}

// A sender writes the timestamp lines of every order: no allocation.
func TestStampLinesAllocs(t *testing.T) {
	o := orderMsg{order: strategy.Order{Side: strategy.Buy}, symbol: "BTCUSDT", stream: "btcusdt@trade", conn: "a:1-b:2", seq: 3}
	id, status, b := []byte("t1-1"), []byte("NEW"), make([]byte, 0, 1024)
	if a := testing.AllocsPerRun(100, func() {
		b = appendTickStamp(b[:0], 1, &o)
		b = appendOrderStamp(b, 1, &o, id, "c:3-b:4", 3, 4, 5, 200, status, "")
	}); a != 0 {
		t.Errorf("timestamp lines: %v allocs", a)
	}
}

func TestHTTPReason(t *testing.T) {
	cases := map[string]string{
		`{"code":-1003,"msg":"slow down"}`: "http 429 code -1003",
		`not json`:                         "http 429",
	}
	for body, want := range cases {
		if got := httpReason(429, []byte(body)); got != want {
			t.Errorf("%s: %q, want %q", body, got, want)
		}
	}
	if s := jsonString([]byte(`{"order_id":1,"status":"FILLED","x":2}`), `"status":"`); string(s) != "FILLED" {
		t.Errorf("status %q", s)
	}
}

// TestOrderErrorsAndDropsCounted: refused orders are counted by HTTP status
// and API code, business rejections by ack status, and a strategy slower
// than the feed drops ticks (counted) instead of blocking the reader.
func TestOrderErrorsAndDropsCounted(t *testing.T) {
	checkGoroutines(t)
	fd := startFeed(t, feed.Config{Format: format.Lab, Symbols: []string{"BTCUSDT"}, Rate: 1000}, "")
	url := "wss://" + fd.addr + "/ws/btcusdt@tick"

	limited := startOrderAPI(t, orderapi.Config{RateLimit: 5, Burst: 1, RejectRate: 0.5, Seed: 3})
	cfg := baseConfig(limited, url)
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "1"}
	r := startTrader(t, cfg)
	waitFor(t, "429s and rejections", 20*time.Second, func() bool {
		s := r.tr.Stats()
		return s.Errors["http 429 code -1003"] >= 5 && s.Statuses["REJECTED"] >= 1 && s.Statuses["NEW"] >= 1
	})
	st := r.stop()
	if got := st.Acked + st.ErrorCount(); got != st.Sent {
		t.Errorf("acked %d + errors %d != sent %d", st.Acked, st.ErrorCount(), st.Sent)
	}
	if as := limited.srv.Stats(); as.Rejected[orderapi.ReasonRateLimited] != st.Errors["http 429 code -1003"] {
		t.Errorf("order API counted %d rate-limited, trader %d", as.Rejected[orderapi.ReasonRateLimited], st.Errors["http 429 code -1003"])
	}

	plain := startOrderAPI(t, orderapi.Config{})
	cfg = baseConfig(plain, url)
	cfg.APISecret = "wrong"
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "5"}
	r = startTrader(t, cfg)
	waitFor(t, "401s", 20*time.Second, func() bool { return r.tr.Stats().Errors["http 401 code -1022"] >= 3 })
	if st := r.stop(); st.Acked != 0 {
		t.Errorf("%d orders acked with a wrong secret", st.Acked)
	}

	cfg = baseConfig(plain, url)
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "1000000", "think": "5ms"}
	cfg.TickQueue = 2
	r = startTrader(t, cfg)
	waitFor(t, "dropped ticks", 20*time.Second, func() bool { return r.tr.Stats().TickDrops >= 20 })
	st = r.stop()
	if st.Ticks != st.Decided+st.TickDrops+uint64(len(r.tr.clients[0].ticks)) {
		t.Errorf("ticks %d != decided %d + dropped %d + queued", st.Ticks, st.Decided, st.TickDrops)
	}
}
