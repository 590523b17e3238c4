package feed

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	cws "github.com/coder/websocket"
	gws "github.com/gorilla/websocket"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/internal/schedstat"
)

// testServer is a feed server on a loopback port with real TLS.
type testServer struct {
	s      *Server
	addr   string
	pool   *x509.CertPool
	cancel context.CancelFunc
	done   chan error
}

// checkGoroutines fails the test if goroutines started during it are still
// running at cleanup (after the server's own cleanup, which runs first).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				t.Fatalf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:n])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}

func startServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	checkGoroutines(t)
	s, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{s: s, addr: ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	if s.tls != nil {
		ts.pool = x509.NewCertPool()
		ts.pool.AddCert(s.tls.Certificates[0].Leaf)
	}
	go func() { ts.done <- s.Run(ctx, ln) }()
	t.Cleanup(func() { ts.stop(t) })
	return ts
}

// stop shuts the server down and checks Run's result (idempotent).
func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ts.cancel()
	select {
	case err, ok := <-ts.done:
		if ok && err != nil {
			t.Errorf("Run: %v", err)
		}
		if ok {
			close(ts.done)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return 10 s after cancel")
	}
}

func (ts *testServer) url(path string) string {
	if ts.pool == nil {
		return "ws://" + ts.addr + path
	}
	return "wss://" + ts.addr + path
}

func (ts *testServer) tlsConfig() *tls.Config {
	return &tls.Config{RootCAs: ts.pool, ServerName: "127.0.0.1"}
}

// gorilla dials with gorilla/websocket: the standard client, not ours.
// rcvbuf > 0 shrinks the client's socket receive buffer.
func (ts *testServer) gorilla(t *testing.T, path string, compress bool, rcvbuf int) (*gws.Conn, *http.Response) {
	t.Helper()
	d := gws.Dialer{
		TLSClientConfig:   ts.tlsConfig(),
		EnableCompression: compress,
		HandshakeTimeout:  5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			d := net.Dialer{}
			if rcvbuf > 0 {
				// Before connect, so that the window scale stays small.
				d.Control = func(_, _ string, rc syscall.RawConn) error {
					var serr error
					err := rc.Control(func(fd uintptr) {
						serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
					})
					if err != nil {
						return err
					}
					return serr
				}
			}
			return d.DialContext(ctx, network, addr)
		},
	}
	c, resp, err := d.Dial(ts.url(path), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.Close() })
	return c, resp
}

// coder dials with github.com/coder/websocket.
func (ts *testServer) coder(t *testing.T, path string, mode cws.CompressionMode) (*cws.Conn, *http.Response) {
	t.Helper()
	tr := &http.Transport{TLSClientConfig: ts.tlsConfig()}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := cws.Dial(ctx, ts.url(path), &cws.DialOptions{HTTPClient: &http.Client{Transport: tr}, CompressionMode: mode})
	if err != nil {
		t.Fatalf("dial %s: %v", path, err)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, resp
}

func readJSON(t *testing.T, c *gws.Conn) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return msg
}

// checker verifies per-stream contiguous sequence numbers and a
// non-decreasing exchange time per connection.
type checker struct {
	t      *testing.T
	seq    map[string]uint64
	lastNS int64
	n      int
}

func newChecker(t *testing.T) *checker { return &checker{t: t, seq: map[string]uint64{}} }

func (ck *checker) tick(msg []byte, f format.Format) format.Tick {
	ck.t.Helper()
	var tk format.Tick
	if err := format.Parse(f, msg, &tk); err != nil {
		ck.t.Fatalf("message %d does not parse as %v: %v\n%s", ck.n, f, err, msg)
	}
	if prev, ok := ck.seq[tk.Stream]; ok && tk.Seq != prev+1 {
		ck.t.Fatalf("%s: seq %d after %d\n%s", tk.Stream, tk.Seq, prev, msg)
	}
	ck.seq[tk.Stream] = tk.Seq
	if tk.ExchNS < ck.lastNS {
		ck.t.Fatalf("exchange time went back: %d after %d\n%s", tk.ExchNS, ck.lastNS, msg)
	}
	if d := time.Since(time.Unix(0, tk.ExchNS)); d < -time.Second || d > 5*time.Second {
		ck.t.Fatalf("exchange time %v is %v away from now", time.Unix(0, tk.ExchNS), d)
	}
	ck.lastNS = tk.ExchNS
	ck.n++
	return tk
}

func TestServeFormats(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		path    string
		send    string // subscription message, if any
		first   string // expected first (control) message
		streams []string
		micro   bool
	}{
		{name: "lab raw path", cfg: Config{Format: format.Lab, Rate: 2000}, path: "/ws/btcusdt@tick", streams: []string{"btcusdt@tick"}},
		{name: "binance raw two streams", cfg: Config{Format: format.Binance, Rate: 2000}, path: "/ws/btcusdt@trade/ethusdt@bookTicker",
			streams: []string{"btcusdt@trade", "ethusdt@bookTicker"}},
		{name: "binance combined micro tls12 chacha", cfg: Config{Format: format.Binance, Rate: 2000, TLS: tlsOpts("1.2", "chacha20")},
			path: "/stream?streams=btcusdt@trade/BTCUSDT@bookTicker&timeUnit=MICROSECOND", streams: []string{"btcusdt@trade", "btcusdt@bookTicker"}, micro: true},
		{name: "binance subscribe message", cfg: Config{Format: format.Binance, Rate: 2000, Symbols: []string{"SOLUSDT"}}, path: "/ws",
			send: `{"method":"SUBSCRIBE","params":["solusdt@trade"],"id":7}`, first: `{"result":null,"id":7}`, streams: []string{"solusdt@trade"}},
		{name: "coinbase subscribe", cfg: Config{Format: format.Coinbase, Rate: 2000}, path: "/",
			send:  `{"type":"subscribe","product_ids":["BTC-USD"],"channels":["ticker"]}`,
			first: `{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["BTC-USD"]}]}`, streams: []string{"BTC-USD@ticker"}},
		{name: "poisson lab", cfg: Config{Format: format.Lab, Rate: 3000, Pattern: "poisson", Seed: 3}, path: "/ws/ethusdt@tick", streams: []string{"ethusdt@tick"}},
		{name: "burst lab", cfg: Config{Format: format.Lab, Pattern: "burst:50/2ms@20ms"}, path: "/ws/ethusdt@tick", streams: []string{"ethusdt@tick"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, tt.cfg)
			c, _ := ts.gorilla(t, tt.path, false, 0)
			if tls, ok := c.NetConn().(*tls.Conn); ok && tt.cfg.TLS.Version == "1.2" {
				st := tls.ConnectionState()
				if st.Version != 0x0303 || !strings.Contains(tlsSuiteName(st.CipherSuite), "CHACHA20") {
					t.Fatalf("negotiated %x %s, want TLS 1.2 with ChaCha20", st.Version, tlsSuiteName(st.CipherSuite))
				}
			}
			if tt.send != "" {
				if err := c.WriteMessage(gws.TextMessage, []byte(tt.send)); err != nil {
					t.Fatal(err)
				}
				if got := readJSON(t, c); string(got) != tt.first {
					t.Fatalf("first message %s, want %s", got, tt.first)
				}
			}
			ck := newChecker(t)
			seen := map[string]int{}
			for ck.n < 200 {
				tk := ck.tick(readJSON(t, c), tt.cfg.Format)
				seen[tk.Stream]++
				if tt.micro && tk.ExchNS%1000 != 0 {
					t.Fatalf("micro time unit: ExchNS %d has sub-µs digits", tk.ExchNS)
				}
				if !tt.micro && tt.cfg.Format == format.Binance && tk.ExchNS%1e6 != 0 {
					t.Fatalf("ms time unit: ExchNS %d has sub-ms digits", tk.ExchNS)
				}
			}
			for _, s := range tt.streams {
				if seen[s] == 0 {
					t.Errorf("no message on %s (saw %v)", s, seen)
				}
			}
			if len(seen) != len(tt.streams) {
				t.Errorf("streams %v, want only %v", seen, tt.streams)
			}
		})
	}
}

func tlsSuiteName(id uint16) string { return tls.CipherSuiteName(id) }

func TestSubscriptionErrors(t *testing.T) {
	ts := startServer(t, Config{Format: format.Binance, Rate: 500})
	c, _ := ts.gorilla(t, "/ws", false, 0)
	steps := []struct{ send, want string }{
		{`{"method":"SUBSCRIBE","params":["btcusdt@trade","dogeusdt@trade"],"id":1}`, `{"error":{"code":2,"msg":"Invalid request: unknown stream \"dogeusdt@trade\""},"id":1}`},
		{`{"method":"SUBSCRIBE","params":"btcusdt@trade","id":2}`, `{"error":{"code":3,"msg":"Invalid JSON: json: cannot unmarshal string into Go struct field .params of type []json.RawMessage"},"id":null}`},
		{`not json`, `{"error":{"code":3,"msg":"Invalid JSON: want an object"},"id":null}`},
		{`{"method":"SUBSCRIBE","params":[],"id":"a"}`, `{"error":{"code":2,"msg":"Invalid request: no streams given"},"id":"a"}`},
		{`{"method":"FLY","id":3}`, `{"error":{"code":2,"msg":"Invalid request: unknown method \"FLY\""},"id":3}`},
		{`{"params":["x"],"id":4}`, `{"error":{"code":2,"msg":"Invalid request: want \"method\" (Binance) or \"type\" (Coinbase)"},"id":4}`},
		{`{"type":"subscribe","product_ids":["BTC-USD"],"channels":["ticker"]}`, `{"type":"error","message":"Failed to subscribe","reason":"\"BTC-USD\" is not a valid product"}`},
		{`{"type":"subscribe","product_ids":["BTC-USD"],"channels":["level2"]}`, `{"type":"error","message":"Failed to subscribe","reason":"channel \"level2\" is not supported (only ticker)"}`},
		{`{"method":"LIST_SUBSCRIPTIONS","id":5}`, `{"result":[],"id":5}`},
	}
	for _, st := range steps {
		if err := c.WriteMessage(gws.TextMessage, []byte(st.send)); err != nil {
			t.Fatal(err)
		}
		if got := readJSON(t, c); string(got) != st.want {
			t.Errorf("sent %s\n got %s\nwant %s", st.send, got, st.want)
		}
	}
	// Nothing was subscribed by the failed requests: subscribe one stream,
	// list, then unsubscribe; no tick may follow the UNSUBSCRIBE reply
	// except those already queued, and LIST must come back empty.
	send := func(s string) {
		if err := c.WriteMessage(gws.TextMessage, []byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"method":"SUBSCRIBE","params":["ethusdt@bookTicker"],"id":6}`)
	if got := readJSON(t, c); string(got) != `{"result":null,"id":6}` {
		t.Fatalf("subscribe reply %s", got)
	}
	send(`{"method":"LIST_SUBSCRIPTIONS","id":7}`)
	for {
		got := readJSON(t, c)
		if string(got) == `{"result":["ethusdt@bookTicker"],"id":7}` {
			break
		}
		var tk format.Tick
		if err := format.ParseBinance(got, &tk); err != nil || tk.Stream != "ethusdt@bookTicker" {
			t.Fatalf("unexpected %s (%v)", got, err)
		}
	}
	send(`{"method":"UNSUBSCRIBE","params":["ethusdt@bookTicker"],"id":8}`)
	send(`{"method":"LIST_SUBSCRIPTIONS","id":9}`)
	for {
		got := readJSON(t, c)
		if string(got) == `{"result":[],"id":9}` {
			break
		}
		if !strings.Contains(string(got), "bookTicker") && string(got) != `{"result":null,"id":8}` {
			t.Fatalf("unexpected %s", got)
		}
	}

	// Unknown streams in the path are refused before the upgrade.
	d := gws.Dialer{TLSClientConfig: ts.tlsConfig()}
	_, resp, err := d.Dial(ts.url("/ws/btcusdt@depth"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown path stream: err %v resp %v, want HTTP 400", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `unknown stream \"btcusdt@depth\"`) {
		t.Errorf("400 body %s does not name the stream", body)
	}
	_, resp, err = d.Dial(ts.url("/ws/btcusdt@trade?timeUnit=NANOSECOND"), nil)
	if err == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad timeUnit: err %v, want HTTP 400", err)
	}
	resp.Body.Close()
}

func TestCoinbaseErrors(t *testing.T) {
	ts := startServer(t, Config{Format: format.Coinbase, Rate: 500})
	c, _ := ts.gorilla(t, "/", false, 0)
	steps := []struct{ send, want string }{
		{`{"type":"subscribe","product_ids":["BTC-XYZ"],"channels":["ticker"]}`, `{"type":"error","message":"Failed to subscribe","reason":"\"BTC-XYZ\" is not a valid product"}`},
		{`{"type":"subscribe","channels":["ticker"]}`, `{"type":"error","message":"Failed to parse message","reason":"channel \"ticker\" without product_ids"}`},
		{`{bad`, `{"type":"error","message":"Failed to parse message","reason":"Invalid JSON: invalid character 'b' looking for beginning of object key string"}`},
		{`{"type":"hello"}`, `{"type":"error","message":"Failed to subscribe","reason":"unknown message type \"hello\""}`},
		{`{"type":"subscribe","channels":[{"name":"ticker","product_ids":["ETH-USD"]}]}`, `{"type":"subscriptions","channels":[{"name":"ticker","product_ids":["ETH-USD"]}]}`},
	}
	for _, st := range steps {
		if err := c.WriteMessage(gws.TextMessage, []byte(st.send)); err != nil {
			t.Fatal(err)
		}
		if got := readJSON(t, c); string(got) != st.want {
			t.Errorf("sent %s\n got %s\nwant %s", st.send, got, st.want)
		}
	}
	ck := newChecker(t)
	for ck.n < 20 {
		if tk := ck.tick(readJSON(t, c), format.Coinbase); tk.Symbol != "ETH-USD" {
			t.Fatalf("tick for %s", tk.Symbol)
		}
	}
}

// countingConn counts the bytes a client reads off the socket.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// deflateRun reads 300 lab ticks (about 200 bytes: coder/websocket's
// BestSpeed compressor sends messages under 128 bytes Huffman-only, without
// the history that context takeover keeps) with a gorilla or coder client and returns
// the bytes read off the TCP socket, the payload bytes and the negotiated
// extension header.
func deflateRun(t *testing.T, cfg Config, client string) (wire, payload int64, ext string) {
	ts := startServer(t, cfg)
	var n atomic.Int64
	dialTLS := func(ctx context.Context, network, addr string) (net.Conn, error) {
		raw, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		tc := tls.Client(countingConn{raw, &n}, ts.tlsConfig())
		return tc, tc.HandshakeContext(ctx)
	}
	ck := newChecker(t)
	switch client {
	case "gorilla":
		d := gws.Dialer{EnableCompression: true, NetDialTLSContext: dialTLS}
		c, resp, err := d.Dial(ts.url("/ws/btcusdt@tick"), nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		ext = resp.Header.Get("Sec-WebSocket-Extensions")
		n.Store(0)
		for ck.n < 300 {
			msg := readJSON(t, c)
			payload += int64(len(msg))
			ck.tick(msg, format.Lab)
		}
	case "coder":
		tr := &http.Transport{DialTLSContext: dialTLS}
		t.Cleanup(tr.CloseIdleConnections)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, resp, err := cws.Dial(ctx, ts.url("/ws/btcusdt@tick"), &cws.DialOptions{HTTPClient: &http.Client{Transport: tr}, CompressionMode: cws.CompressionContextTakeover})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.CloseNow() })
		ext = resp.Header.Get("Sec-WebSocket-Extensions")
		n.Store(0)
		for ck.n < 300 {
			_, msg, err := c.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			payload += int64(len(msg))
			ck.tick(msg, format.Lab)
		}
	}
	return n.Load(), payload, ext
}

// TestDeflate: permessage-deflate is negotiated with and without context
// takeover, with a client that wants takeover (coder) and one that refuses
// it (gorilla), the messages decode, and the bytes on the wire shrink
// against an uncompressed baseline (a lot with takeover, some without).
func TestDeflate(t *testing.T) {
	bw, bp, bext := deflateRun(t, Config{Format: format.Lab, Rate: 3000}, "gorilla")
	if bext != "" {
		t.Fatalf("server without --deflate negotiated %q", bext)
	}
	base := float64(bw) / float64(bp)
	tests := []struct {
		name     string
		noCtx    bool // server --deflate-no-context-takeover
		client   string
		wantExt  string
		notExt   string
		maxRatio float64 // wire/payload relative to the baseline
	}{
		{"takeover both ways", false, "coder", "permessage-deflate", "no_context_takeover", 0.65},
		{"takeover server, gorilla refuses it", false, "gorilla", "server_no_context_takeover", "", 0.9},
		{"no takeover server, coder wants it", true, "coder", "server_no_context_takeover", "", 0.9},
		{"no takeover both", true, "gorilla", "client_no_context_takeover", "", 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, p, ext := deflateRun(t, Config{Format: format.Lab, Rate: 3000, Deflate: true, DeflateNoContextTakeover: tt.noCtx}, tt.client)
			if !strings.Contains(ext, tt.wantExt) || (tt.notExt != "" && strings.Contains(ext, tt.notExt)) {
				t.Fatalf("Sec-WebSocket-Extensions %q, want %q and not %q", ext, tt.wantExt, tt.notExt)
			}
			r := float64(w) / float64(p) / base
			t.Logf("%s: %d wire bytes for %d payload bytes, %.2f of the uncompressed baseline", ext, w, p, r)
			if r > tt.maxRatio {
				t.Errorf("wire/payload is %.2f of the uncompressed baseline, want under %.2f", r, tt.maxRatio)
			}
		})
	}
}

func writeReplayFile(t *testing.T, n int, gap time.Duration) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("# test replay: two symbols, alternating\n\n")
	t0 := int64(1763776000000000000)
	for i := 0; i < n; i++ {
		sym := []string{"BTCUSDT", "ETHUSDT"}[i%2]
		tk := format.Tick{Stream: strings.ToLower(sym) + "@tick", Symbol: sym, Seq: uint64(i/2 + 1), ExchNS: t0 + int64(i)*int64(gap),
			Bid: 100, Ask: 100.5, Last: 100.25, Size: 1, Side: format.SideBuy}
		b.Write(format.AppendLab(nil, &tk))
		b.WriteByte('\n')
	}
	p := filepath.Join(t.TempDir(), "replay.jsonl")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestReplayPacing: 100 ticks 10 ms apart (990 ms) at --speed 2 are
// written on their schedule, judged by the server's write times (the
// exchange time in each tick) against the replay's own time zero: none
// early, median lateness under 10 ms, the whole span within 10 %, both
// plus the time the kernel kept this process waiting for a CPU.
//
// The reference is the replay's start (Server.replayStart, also logged as
// "replay started" start_ns), not the first tick's write time: that write
// is itself late by the writer's wake-up (over a millisecond on a loaded
// machine), and measuring from it made every punctual tick after it look
// early by as much. Against the true start, earliness gets no tolerance: the
// schedule runs on the monotonic clock from a time.Now() whose wall reading
// is taken first, so a tick's wall-clock write time is at or after
// start + offset unless the clock is stepped; the only slack is the
// microsecond truncation of ?timeUnit=MICROSECOND.
//
// Lateness is the machine's as much as the feed's: on a loaded 2-core
// machine the kernel leaves a runnable thread off the CPU for hundreds of
// milliseconds, seconds at worst, and every tick due meanwhile goes out
// late. The bounds (10 ms median, 10 % = 49.5 ms on the span) are therefore
// raised by the run-queue wait of all this process's threads during the
// replay (internal/schedstat): a tick's lateness beyond the feed's own is a
// chain of such waits (timer thread, replay goroutine, writer), each
// counted there.
// A feed that drifted or ignored --speed would still fail on a quiet
// machine, and on a loaded one unless the kernel stalled it for as long.
func TestReplayPacing(t *testing.T) {
	const n, gap, speed = 100, 10 * time.Millisecond, 2.0
	path := writeReplayFile(t, n, gap)
	ts := startServer(t, Config{Format: format.Binance, Replay: path, Speed: speed})
	wait0 := runQueueWaits(t)
	c, _ := ts.gorilla(t, "/stream?streams=btcusdt@trade/ethusdt@trade&timeUnit=MICROSECOND", false, 0)
	ck := newChecker(t)
	var start int64
	late := make([]time.Duration, 0, n)
	var span time.Duration
	for i := 0; i < n; i++ {
		tk := ck.tick(readJSON(t, c), format.Binance)
		if tk.Seq != uint64(i/2+1) || tk.Symbol != []string{"BTCUSDT", "ETHUSDT"}[i%2] {
			t.Fatalf("tick %d: %s seq %d, want file order", i, tk.Symbol, tk.Seq)
		}
		if i == 0 {
			// Set before tick 0 was published, so before it was read.
			if start = ts.s.replayStart.Load(); start == 0 {
				t.Fatal("tick 0 arrived but the replay has no start time")
			}
			t.Logf("tick 0 written %v after the replay started", time.Duration(tk.ExchNS-start))
		}
		want := time.Duration(float64(time.Duration(i)*gap) / speed)
		got := time.Duration(tk.ExchNS - start)
		if earliest := (start + int64(want)) / 1000 * 1000; tk.ExchNS < earliest {
			t.Errorf("tick %d sent at +%v, before its time +%v", i, got, want)
		}
		late = append(late, got-want)
		span = got
	}
	waited := runQueueWaits(t).Since(wait0)
	want := time.Duration(float64(time.Duration(n-1)*gap) / speed)
	slices.Sort(late)
	med := late[len(late)/2]
	t.Logf("lateness median %v, p90 %v, max %v; span %v of %v; threads waited %v for a CPU",
		med, late[len(late)*9/10], late[len(late)-1], span, want, waited)
	if med > 10*time.Millisecond+waited {
		t.Errorf("median lateness %v, want under 10 ms + %v waiting for a CPU", med, waited)
	}
	if span > want+want/10+waited {
		t.Errorf("replay span %v, want %v + 10%% + %v waiting for a CPU", span, want, waited)
	}
}

// TestReplayStartsAfterWholeSubscription: a replay waits until its first
// subscriber's whole request is in place, not just its first stream, or the
// first ticks of the other streams go to nobody. The second stream's lock
// is held so the request stops half done; the replay must not start then.
func TestReplayStartsAfterWholeSubscription(t *testing.T) {
	s, err := New(Config{Format: format.Binance, Replay: writeReplayFile(t, 4, time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	btc, eth := s.lookup("btcusdt@trade"), s.lookup("ethusdt@trade")
	c := &client{s: s}
	eth.mu.Lock()
	done := make(chan struct{})
	go func() { defer close(done); c.subscribe([]*stream{btc, eth}) }()
	for deadline := time.Now().Add(5 * time.Second); btc.subs.Load() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			eth.mu.Unlock()
			t.Fatal("the first stream has no subscriber 5 s after subscribing")
		}
	}
	select {
	case <-s.firstSub:
		t.Error("the replay may start with one of two streams subscribed")
	default:
	}
	eth.mu.Unlock()
	<-done
	select {
	case <-s.firstSub:
	default:
		t.Error("the replay may not start after the whole subscription is in place")
	}
}

func TestReplayFileErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(body), 0o644)
		return p
	}
	tests := []struct {
		name, body, wantErr string
		f                   format.Format
	}{
		{"empty", "# nothing\n", "no ticks", format.Lab},
		{"bad", `{"type":"tick","seq":1,"ts_ns":1,"symbol":"A"}` + "\n{oops\n", "bad.jsonl:2: format lab: byte 1: want a member name", format.Lab},
		{"backwards", `{"type":"tick","seq":1,"ts_ns":5,"symbol":"A"}` + "\n" + `{"type":"tick","seq":2,"ts_ns":4,"symbol":"A"}` + "\n", "backwards.jsonl:2: A: ts_ns 4 goes back in time", format.Lab},
		{"control", `{"result":null,"id":1}` + "\n", "control.jsonl:1: not a lab tick line", format.Lab},
		{"symbol for coinbase", `{"type":"tick","seq":1,"ts_ns":1,"symbol":"BTCUSDT"}` + "\n", "symbol not usable with --format coinbase", format.Coinbase},
	}
	for _, tt := range tests {
		p := write(tt.name+".jsonl", tt.body)
		_, err := New(Config{Format: tt.f, Replay: p}, nil)
		if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.wantErr)
		}
	}
	if _, err := New(Config{Format: format.Lab, Replay: filepath.Join(dir, "missing")}, nil); err == nil || !strings.Contains(err.Error(), "--replay") {
		t.Errorf("missing file: %v", err)
	}
}

// TestRecordReplay: a recording has contiguous per-symbol seqs and
// non-decreasing times, and replays as the same ticks.
func TestRecordReplay(t *testing.T) {
	rec := filepath.Join(t.TempDir(), "rec.jsonl")
	ts := startServer(t, Config{Format: format.Lab, Rate: 2000, Seed: 9, Record: rec})
	deadline := time.Now().Add(5 * time.Second)
	// Each symbol has its own generator: wait for both (under load one
	// lags the other by a few ticks).
	for st := ts.s.Stats(); st.Streams["ethusdt@tick"].Generated < 100 || st.Streams["btcusdt@tick"].Generated < 100; st = ts.s.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("generator made fewer than 100 ticks in 5 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	ts.stop(t)
	ticks, syms, err := loadReplay(rec, format.Lab)
	if err != nil {
		t.Fatal(err)
	}
	if len(syms) != 2 || len(ticks) < 200 {
		t.Fatalf("recorded %d ticks of %v", len(ticks), syms)
	}
	seq := map[string]uint64{}
	for i, tk := range ticks {
		if tk.Seq != seq[tk.Symbol]+1 {
			t.Fatalf("line %d: %s seq %d after %d", i+1, tk.Symbol, tk.Seq, seq[tk.Symbol])
		}
		seq[tk.Symbol] = tk.Seq
		if !(tk.Bid < tk.Ask) || tk.Side == format.SideUnknown || tk.BidSize == 0 {
			t.Fatalf("line %d: incomplete tick %+v", i+1, tk)
		}
	}

	ts2 := startServer(t, Config{Format: format.Lab, Replay: rec, Speed: 4})
	c, _ := ts2.gorilla(t, "/ws/btcusdt@tick", false, 0)
	var want []format.Tick
	for _, tk := range ticks {
		if tk.Symbol == "BTCUSDT" {
			want = append(want, tk)
		}
	}
	for i := 0; i < 50; i++ {
		var got format.Tick
		if err := format.ParseLab(readJSON(t, c), &got); err != nil {
			t.Fatal(err)
		}
		w := want[i]
		if got.Seq != w.Seq || got.Bid != w.Bid || got.Ask != w.Ask || got.Last != w.Last || got.Size != w.Size || got.Side != w.Side {
			t.Fatalf("replayed tick %d = %+v, recorded %+v", i, got, w)
		}
	}
}

// TestPacing: at 5000 msgs/s the generator never runs ahead of its
// schedule, and whatever the timer overshoot or CPU contention, it is back on
// the exact scheduled count (no drift) within 250 ms of any moment.
func TestPacing(t *testing.T) {
	const rate = 5000
	ts := startServer(t, Config{Format: format.Lab, Rate: rate, Symbols: []string{"BTCUSDT"}})
	gen := func() uint64 { return ts.s.Stats().Streams["btcusdt@tick"].Generated }
	waitFor(t, "the first tick", func() bool { return gen() > 0 })
	start := ts.s.start // written before the generator started
	due := func(at time.Time) uint64 { return uint64(at.Sub(start).Seconds()*rate) + 1 }
	maxLag := uint64(0)
	for t0 := time.Now(); time.Since(t0) < time.Second; time.Sleep(7 * time.Millisecond) {
		before := due(time.Now())
		g := gen()
		after := due(time.Now())
		if g > after {
			t.Fatalf("generator ahead of schedule: %d generated, %d due", g, after)
		}
		if g < before && before-g > maxLag {
			maxLag = before - g
		}
	}
	end := due(time.Now())
	deadline := time.Now().Add(250 * time.Millisecond)
	for gen() < end {
		if time.Now().After(deadline) {
			t.Fatalf("generator %d behind its schedule 250 ms later", end-gen())
		}
		time.Sleep(time.Millisecond)
	}
	t.Logf("largest lag seen: %d messages (%.1f ms)", maxLag, float64(maxLag)/rate*1e3)
}

// runQueueWaits is schedstat.Read for a test: how long each of this
// process's threads has waited for a CPU.
func runQueueWaits(t *testing.T) schedstat.Waits {
	t.Helper()
	w, err := schedstat.Read()
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestSlowConsumerDropOldest(t *testing.T) {
	ts := startServer(t, Config{Format: format.Binance, Rate: 10000, Symbols: []string{"BTCUSDT"}, Queue: 16, SlowPolicy: DropOldest})
	c, _ := ts.gorilla(t, "/ws/btcusdt@trade", false, 4096)
	// Not reading: the socket buffers fill, then the queue, then drops.
	waitFor(t, "drops", func() bool { return ts.s.Stats().Dropped > 100 })
	st := ts.s.Stats()
	if st.Streams["btcusdt@trade"].Dropped == 0 || st.Clients != 1 || st.SlowDisconnects != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Reading again: the connection is alive and shows the gap.
	var tk format.Tick
	var prev uint64
	gap := false
	for i := 0; i < 200000 && !gap; i++ {
		if err := format.ParseBinance(readJSON(t, c), &tk); err != nil {
			t.Fatal(err)
		}
		gap = prev != 0 && tk.Seq != prev+1
		prev = tk.Seq
	}
	if !gap {
		t.Fatal("no sequence gap seen after drops")
	}
}

func TestSlowConsumerDisconnect(t *testing.T) {
	ts := startServer(t, Config{Format: format.Binance, Rate: 10000, Symbols: []string{"BTCUSDT"}, Queue: 16, SlowPolicy: Disconnect})
	c, _ := ts.gorilla(t, "/ws/btcusdt@trade", false, 4096)
	waitFor(t, "slow disconnect", func() bool { return ts.s.Stats().SlowDisconnects == 1 })
	// Drain what was buffered; the connection ends with a 1008 close.
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *gws.CloseError
		if !errors.As(err, &ce) || ce.Code != gws.ClosePolicyViolation || !strings.Contains(ce.Text, "slow consumer") {
			t.Fatalf("connection ended with %v, want close 1008 slow consumer", err)
		}
		break
	}
	waitFor(t, "client removed", func() bool { return ts.s.Stats().Clients == 0 })
	if ts.s.Stats().Dropped != 0 {
		t.Errorf("disconnect policy counted drops: %+v", ts.s.Stats())
	}
}

// TestPingTimeout: a client that never reads never answers pings and is
// disconnected; one that reads stays.
func TestPingTimeout(t *testing.T) {
	ts := startServer(t, Config{Format: format.Lab, Rate: 10, PingInterval: 50 * time.Millisecond, PingTimeout: 250 * time.Millisecond})
	ts.gorilla(t, "/ws/btcusdt@tick", false, 0) // never read
	good, _ := ts.gorilla(t, "/ws/ethusdt@tick", false, 0)
	stop := make(chan struct{})
	readerDone := make(chan error, 1)
	go func() {
		for {
			good.SetReadDeadline(time.Now().Add(5 * time.Second))
			if _, _, err := good.ReadMessage(); err != nil {
				readerDone <- err
				return
			}
			select {
			case <-stop:
				readerDone <- nil
				return
			default:
			}
		}
	}()
	waitFor(t, "both clients to register", func() bool { return ts.s.Stats().Connections == 2 })
	waitFor(t, "the silent client to be dropped", func() bool { return ts.s.Stats().Clients == 1 })
	// The reader keeps answering pings for several more intervals.
	t0 := time.Now()
	for time.Since(t0) < 600*time.Millisecond {
		if ts.s.Stats().Clients != 1 {
			t.Fatal("reading client was disconnected")
		}
		time.Sleep(10 * time.Millisecond)
	}
	close(stop)
	if err := <-readerDone; err != nil {
		t.Fatalf("reading client: %v", err)
	}
}

// TestGracefulShutdown: every client gets a 1001 close frame, Run returns
// nil, and no goroutine is left (checked by startServer's cleanup).
func TestGracefulShutdown(t *testing.T) {
	ts := startServer(t, Config{Format: format.Binance, Rate: 1000, Deflate: true})
	g1, _ := ts.gorilla(t, "/ws/btcusdt@trade", true, 0)
	g2, _ := ts.gorilla(t, "/stream?streams=ethusdt@bookTicker", false, 0)
	cc, _ := ts.coder(t, "/ws/btcusdt@bookTicker", cws.CompressionContextTakeover)
	for _, g := range []*gws.Conn{g1, g2} {
		readJSON(t, g)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := cc.Read(ctx); err != nil {
		t.Fatal(err)
	}
	// Readers must keep reading so the close handshake completes.
	errs := make(chan error, 3)
	for _, g := range []*gws.Conn{g1, g2} {
		go func() {
			for {
				g.SetReadDeadline(time.Now().Add(10 * time.Second))
				if _, _, err := g.ReadMessage(); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	go func() {
		for {
			if _, _, err := cc.Read(ctx); err != nil {
				errs <- err
				return
			}
		}
	}()
	ts.stop(t)
	for i := 0; i < 3; i++ {
		err := <-errs
		var ge *gws.CloseError
		if errors.As(err, &ge) && ge.Code == gws.CloseGoingAway {
			continue
		}
		if cws.CloseStatus(err) == cws.StatusGoingAway {
			continue
		}
		t.Errorf("client ended with %v, want close 1001", err)
	}
}

func TestHealthzStats(t *testing.T) {
	ts := startServer(t, Config{Format: format.Coinbase, Rate: 1000})
	c, _ := ts.gorilla(t, "/ws/BTC-USD@ticker", false, 0)
	for i := 0; i < 10; i++ {
		readJSON(t, c)
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: ts.tlsConfig()}}
	t.Cleanup(cl.CloseIdleConnections)
	get := func(path string) []byte {
		resp, err := cl.Get("https://" + ts.addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %s", path, resp.Status)
		}
		return b
	}
	if b := get("/healthz"); string(b) != "ok\n" {
		t.Errorf("/healthz %q", b)
	}
	// A message is counted sent once its write returns, which can be after
	// the client has read it: poll until the counters catch up.
	var st Stats
	var s StreamStats
	for deadline := time.Now().Add(5 * time.Second); ; {
		if err := json.Unmarshal(get("/stats"), &st); err != nil {
			t.Fatal(err)
		}
		s = st.Streams["BTC-USD@ticker"]
		if st.Sent >= 10 && s.Sent >= 10 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond) // polling with a deadline
	}
	if st.Clients != 1 || st.Sent < 10 || s.Sent < 10 || s.Subscribers != 1 || s.Generated < s.Sent || s.LastSeq < 10 {
		t.Errorf("/stats %+v", st)
	}
	if _, ok := st.Streams["ETH-USD@ticker"]; !ok {
		t.Errorf("/stats lacks ETH-USD@ticker: %+v", st)
	}
}

func tlsOpts(v, c string) tlsconf.Options { return tlsconf.Options{Version: v, Cipher: c} }

// TestQueue: the ring keeps order across growth and wrap-around, drops the
// oldest when full, and queuing allocates nothing once grown.
func TestQueue(t *testing.T) {
	s := &Server{cfg: Config{SlowPolicy: DropOldest}}
	st := &stream{name: "x@tick"}
	c := &client{s: s, ring: make([]qitem, 4), max: 16, notify: make(chan struct{}, 1)}
	tk := format.Tick{}
	for i := uint64(1); i <= 40; i++ {
		tk.Seq = i
		c.push(st, &tk)
		if i%3 == 0 { // pop one now and then so head wraps
			b := c.popBatch(make([]qitem, 0, 1))
			if len(b) != 1 {
				t.Fatal("pop returned nothing")
			}
		}
	}
	got := c.popBatch(make([]qitem, 0, 64))
	if len(got) != 16 || len(c.ring) != 16 {
		t.Fatalf("queue holds %d (ring %d), want 16", len(got), len(c.ring))
	}
	for i, it := range got {
		if it.t.Seq != uint64(25+i) {
			t.Fatalf("item %d has seq %d, want %d (oldest dropped, order kept)", i, it.t.Seq, 25+i)
		}
	}
	if d := st.dropped.Load(); d != 40-13-16 {
		t.Errorf("dropped %d, want %d", d, 40-13-16)
	}
	if n := testing.AllocsPerRun(1000, func() { c.push(st, &tk) }); n != 0 {
		t.Errorf("push allocates %v times", n)
	}
}
