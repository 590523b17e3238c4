package orderapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/internal/dist"
	"github.com/cloudpcap/cloudpcap/orderapi/sign"
	"github.com/labstack/echo/v4"
)

const testKey, testSecret = "test-key", "test-secret"

// testServer is a running server on a loopback port with a trusting client.
type testServer struct {
	srv    *Server
	url    string
	client *http.Client
}

// startServer runs a server for cfg (key and secret filled in) on
// 127.0.0.1:0 until the test ends, then checks that Run returned nil and that
// no goroutine outlived it.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	before := runtime.NumGoroutine()
	if cfg.APIKey == "" {
		cfg.APIKey, cfg.APISecret = testKey, testSecret
	}
	srv, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	ts := &testServer{srv: srv, url: "https://" + ln.Addr().String(), client: newClient(t, srv, false)}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(ShutdownGrace + 5*time.Second):
			t.Fatal("Run did not return after cancel")
		}
		ts.client.CloseIdleConnections()
		checkGoroutines(t, before)
	})
	return ts
}

// newClient trusts srv's certificate; h2 offers h2 in ALPN as browsers do.
func newClient(t testing.TB, srv *Server, h2 bool) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(srv.TLSConfig().Certificates[0].Leaf)
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
		ForceAttemptHTTP2:   h2,
		MaxIdleConnsPerHost: 4,
		// One connection per client: otherwise net/http may dial a second
		// one when a request starts before the previous connection is back
		// in its idle pool, and connection counts would not show whether
		// the server kept the connection alive.
		MaxConnsPerHost: 1,
	}
	if h2 {
		tr.TLSClientConfig.NextProtos = []string{"h2", "http/1.1"}
	}
	c := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return c
}

// checkGoroutines polls until the goroutine count is back to before.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Errorf("goroutine leak: %d before, %d after\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
			return
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
}

type reqOpts struct {
	key, secret string
	ts          int64 // 0: now
	noKey       bool
	noTS        bool
	noSig       bool
	sig         string // overrides the computed signature
	path        string
}

// post sends a signed (per o) POST of body and returns status, headers and body.
func (ts *testServer) post(t *testing.T, body string, o reqOpts) (int, http.Header, []byte) {
	t.Helper()
	if o.key == "" {
		o.key, o.secret = testKey, testSecret
	}
	if o.ts == 0 {
		o.ts = sign.Timestamp(time.Now())
	}
	if o.path == "" {
		o.path = PathOrder
	}
	req, err := http.NewRequest("POST", ts.url+o.path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sig := o.sig
	if sig == "" {
		sig = sign.Sign(o.secret, o.ts, "POST", o.path, []byte(body))
	}
	sign.SetHeaders(req.Header, o.key, o.ts, sig)
	if o.noKey {
		req.Header.Del(sign.HeaderKey)
	}
	if o.noTS {
		req.Header.Del(sign.HeaderTimestamp)
	}
	if o.noSig {
		req.Header.Del(sign.HeaderSignature)
	}
	req.Header.Set("Content-Type", "application/json")
	return ts.do(t, req)
}

func (ts *testServer) do(t *testing.T, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := ts.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Proto != "HTTP/1.1" {
		t.Errorf("response protocol %s, want HTTP/1.1", resp.Proto)
	}
	return resp.StatusCode, resp.Header, b
}

func decodeAck(t *testing.T, b []byte) Ack {
	t.Helper()
	var a Ack
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("ack %s: %v", b, err)
	}
	return a
}

func decodeError(t *testing.T, b []byte) errorBody {
	t.Helper()
	var e errorBody
	if err := json.Unmarshal(b, &e); err != nil || e.Code >= 0 || e.Msg == "" {
		t.Fatalf("error body %s: %v", b, err)
	}
	return e
}

func TestServerSignedOrder(t *testing.T) {
	ts := startServer(t, Config{})
	before := time.Now().UnixNano()
	status, h, b := ts.post(t, validBody, reqOpts{})
	after := time.Now().UnixNano()
	if status != 200 || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s: %s", status, h.Get("Content-Type"), b)
	}
	a := decodeAck(t, b)
	if a.OrderID != 1 || a.ClientOrderID != "t1-000001" || a.Symbol != "BTCUSDT" || a.Side != "BUY" || a.Type != "LIMIT" ||
		a.Status != StatusNew || a.Reason != "" || a.TickFeed != "feed0" || a.TickSeq == nil || *a.TickSeq != 42 {
		t.Errorf("ack %+v", a)
	}
	if !(before <= a.RecvNS && a.RecvNS <= a.AckNS && a.AckNS <= after) {
		t.Errorf("times: sent %d, recv %d, ack %d, got back %d", before, a.RecvNS, a.AckNS, after)
	}
	// A MARKET order with the binance client id field is FILLED, no tick fields.
	status, _, b = ts.post(t, `{"symbol":"ETHUSDT","side":"SELL","type":"MARKET","quantity":1,"newClientOrderId":"bn-1"}`, reqOpts{})
	if status != 200 {
		t.Fatalf("status %d: %s", status, b)
	}
	if a := decodeAck(t, b); a.OrderID != 2 || a.Status != StatusFilled || a.ClientOrderID != "bn-1" || a.TickSeq != nil || a.TickFeed != "" {
		t.Errorf("ack %+v", a)
	}
	st := ts.srv.Stats()
	if st.Accepted != 2 || st.Filled != 1 || st.Symbols["BTCUSDT"] != 1 || st.Symbols["ETHUSDT"] != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestServerAuthFailures(t *testing.T) {
	ts := startServer(t, Config{})
	now := sign.Timestamp(time.Now())
	cases := []struct {
		name     string
		o        reqOpts
		wantCode int
		wantMsg  string
	}{
		{"missing key", reqOpts{noKey: true}, CodeMissingParam, sign.HeaderKey},
		{"missing timestamp", reqOpts{noTS: true}, CodeMissingParam, sign.HeaderTimestamp},
		{"missing signature", reqOpts{noSig: true}, CodeMissingParam, sign.HeaderSignature},
		{"bad key", reqOpts{key: "other", secret: testSecret}, CodeBadAPIKey, "unknown API key"},
		{"bad signature", reqOpts{key: testKey, secret: "wrong-secret"}, CodeBadSignature, "signature does not match"},
		{"garbage signature", reqOpts{sig: "not-hex"}, CodeBadSignature, "signature does not match"},
		{"stale timestamp", reqOpts{ts: now - 6000}, CodeBadTimestamp, "outside the allowed window"},
		{"future timestamp", reqOpts{ts: now + 60000}, CodeBadTimestamp, "outside the allowed window"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, _, b := ts.post(t, validBody, c.o)
			if status != http.StatusUnauthorized {
				t.Fatalf("status %d: %s", status, b)
			}
			e := decodeError(t, b)
			if e.Code != c.wantCode || !strings.Contains(e.Msg, c.wantMsg) {
				t.Errorf("got %+v, want code %d with %q", e, c.wantCode, c.wantMsg)
			}
			if strings.Contains(string(b), testSecret) {
				t.Errorf("secret in the response: %s", b)
			}
			if got := ts.srv.Stats().Rejected[ReasonAuth]; got != uint64(i+1) {
				t.Errorf("auth rejections %d, want %d", got, i+1)
			}
		})
	}
	if st := ts.srv.Stats(); st.Accepted != 0 {
		t.Errorf("accepted %d unauthorised orders", st.Accepted)
	}
}

func TestServerBadBodies(t *testing.T) {
	ts := startServer(t, Config{})
	n := 0
	for _, c := range orderCases {
		if c.wantCode == 0 {
			continue
		}
		n++
		t.Run(c.name, func(t *testing.T) {
			status, _, b := ts.post(t, c.body, reqOpts{})
			if status != http.StatusBadRequest {
				t.Fatalf("status %d: %s", status, b)
			}
			e := decodeError(t, b)
			if e.Code != c.wantCode || !strings.Contains(e.Msg, c.wantField) {
				t.Errorf("got %+v, want code %d naming %q", e, c.wantCode, c.wantField)
			}
		})
	}
	if got := ts.srv.Stats().Rejected[ReasonBadRequest]; got != uint64(n) {
		t.Errorf("bad_request count %d, want %d", got, n)
	}
}

func TestServerTooLarge(t *testing.T) {
	ts := startServer(t, Config{MaxBody: 1024})
	big := `{"symbol":"BTCUSDT","pad":"` + strings.Repeat("x", 2000) + `"}`
	status, _, b := ts.post(t, big, reqOpts{})
	if status != http.StatusRequestEntityTooLarge || decodeError(t, b).Code != CodeTooLarge {
		t.Fatalf("status %d: %s", status, b)
	}
	// Without Content-Length (chunked) the limit holds while reading.
	ts2 := sign.Timestamp(time.Now())
	req, _ := http.NewRequest("POST", ts.url+PathOrder, io.MultiReader(strings.NewReader(big)))
	sign.SetHeaders(req.Header, testKey, ts2, sign.Sign(testSecret, ts2, "POST", PathOrder, []byte(big)))
	status, _, b = ts.do(t, req)
	if status != http.StatusRequestEntityTooLarge || req.ContentLength != 0 && req.ContentLength != -1 {
		t.Fatalf("chunked: status %d (content length %d): %s", status, req.ContentLength, b)
	}
	// A body of exactly the limit is read (and here rejected as bad JSON, not too large).
	exact := strings.Repeat(" ", 1024)
	if status, _, b = ts.post(t, exact, reqOpts{}); status != http.StatusBadRequest {
		t.Fatalf("exact limit: status %d: %s", status, b)
	}
	if got := ts.srv.Stats().Rejected[ReasonTooLarge]; got != 2 {
		t.Errorf("too_large %d, want 2", got)
	}
	// The server still works.
	if status, _, b = ts.post(t, validBody, reqOpts{}); status != 200 {
		t.Fatalf("after 413: %d %s", status, b)
	}
}

func TestServerRateLimit(t *testing.T) {
	const rate = 5
	ts := startServer(t, Config{RateLimit: rate})
	start := time.Now()
	var ok, limited int
	for i := range 20 {
		status, h, b := ts.post(t, validBody, reqOpts{})
		switch status {
		case 200:
			ok++
		case http.StatusTooManyRequests:
			limited++
			if e := decodeError(t, b); e.Code != CodeTooManyRequests {
				t.Errorf("429 code %d", e.Code)
			}
			if ra, err := strconv.Atoi(h.Get("Retry-After")); err != nil || ra < 1 {
				t.Errorf("request %d: Retry-After %q", i, h.Get("Retry-After"))
			}
		default:
			t.Fatalf("status %d: %s", status, b)
		}
	}
	elapsed := time.Since(start)
	maxOK := rate + int(elapsed.Seconds()*rate) + 1
	if ok < rate || ok > maxOK || limited == 0 {
		t.Errorf("%d ok, %d limited in %v; want %d..%d ok", ok, limited, elapsed, rate, maxOK)
	}
	if st := ts.srv.Stats(); st.Rejected[ReasonRateLimited] != uint64(limited) || st.Accepted != uint64(ok) {
		t.Errorf("stats %+v", st)
	}
}

func TestServerRejectRate(t *testing.T) {
	const n, rate = 600, 0.2
	run := func(seed uint64) []bool {
		ts := startServer(t, Config{RejectRate: rate, Seed: seed})
		var rejected []bool
		for range n {
			status, _, b := ts.post(t, validBody, reqOpts{})
			if status != 200 {
				t.Fatalf("status %d: %s", status, b)
			}
			a := decodeAck(t, b)
			if a.Status == StatusRejected && !strings.Contains(a.Reason, "reject") {
				t.Fatalf("rejection without reason: %s", b)
			}
			rejected = append(rejected, a.Status == StatusRejected)
		}
		st := ts.srv.Stats()
		count := uint64(0)
		for _, r := range rejected {
			if r {
				count++
			}
		}
		if st.Rejected[ReasonBusiness] != count || st.Accepted != n-count {
			t.Errorf("stats %+v vs %d rejected", st, count)
		}
		return rejected
	}
	a := run(7)
	k := 0
	for _, r := range a {
		if r {
			k++
		}
	}
	// Binomial(600, 0.2): mean 120, sd 9.8; allow 5 sd.
	if k < 120-49 || k > 120+49 {
		t.Errorf("%d of %d rejected at rate %v", k, n, rate)
	}
	if b := run(7); !slices.Equal(a, b) {
		t.Error("same seed gave a different rejection sequence")
	}
}

// TestServerAckDelay: no ack comes before its delay, and the fastest quarter
// of acks is close to the distribution's lower quartile. A timer-only wait
// fails this (300us became 1.1ms, every time); CPU contention from other
// processes only delays some acks, so the lower quartile stays honest, and a
// round spoilt by it is retried (at most 3 rounds).
func TestServerAckDelay(t *testing.T) {
	cases := []struct {
		dist  string
		n     int
		floor time.Duration // no ack before this
		p25   time.Duration // the distribution's lower quartile
		slack time.Duration
	}{
		{"300us", 40, 300 * time.Microsecond, 300 * time.Microsecond, 200 * time.Microsecond},
		{"3ms", 16, 3 * time.Millisecond, 3 * time.Millisecond, 300 * time.Microsecond},
		{"uniform:1ms-2ms", 40, time.Millisecond, 1250 * time.Microsecond, 300 * time.Microsecond},
	}
	for _, c := range cases {
		t.Run(c.dist, func(t *testing.T) {
			ts := startServer(t, Config{AckDelay: dist.MustParse(c.dist)})
			var ds []time.Duration
			for round := 1; round <= 3; round++ {
				ds = ds[:0]
				for range c.n {
					status, _, b := ts.post(t, validBody, reqOpts{})
					if status != 200 {
						t.Fatalf("status %d: %s", status, b)
					}
					a := decodeAck(t, b)
					d := time.Duration(a.AckNS - a.RecvNS)
					if d < c.floor {
						t.Fatalf("ack after %v, before the %v delay", d, c.floor)
					}
					ds = append(ds, d)
				}
				slices.Sort(ds)
				q := ds[len(ds)/4]
				t.Logf("round %d: min %v p25 %v median %v max %v", round, ds[0], q, ds[len(ds)/2], ds[len(ds)-1])
				if q <= c.p25+c.slack {
					return
				}
			}
			t.Errorf("lower quartile %v, want at most %v + %v (all %v)", ds[len(ds)/4], c.p25, c.slack, ds)
		})
	}
}

func TestServerKeepAliveAndHTTP11(t *testing.T) {
	ts := startServer(t, Config{})
	for range 30 {
		if status, _, b := ts.post(t, validBody, reqOpts{}); status != 200 {
			t.Fatalf("status %d: %s", status, b)
		}
	}
	if st := ts.srv.Stats(); st.Connections != 1 || st.OpenConnections != 1 {
		t.Errorf("30 sequential orders used %d connections (%d open), want 1", st.Connections, st.OpenConnections)
	}
	// A client offering h2 still gets HTTP/1.1 (ALPN http/1.1 only).
	h2 := newClient(t, ts.srv, true)
	resp, err := h2.Get(ts.url + PathHealthz)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.Proto != "HTTP/1.1" || resp.TLS == nil || resp.TLS.NegotiatedProtocol != "http/1.1" {
		t.Errorf("h2 client got %s, ALPN %q", resp.Proto, resp.TLS.NegotiatedProtocol)
	}
	h2.CloseIdleConnections()
	// Closed connections are counted as closed (poll: ConnState runs on the server side).
	deadline := time.Now().Add(5 * time.Second)
	ts.client.CloseIdleConnections()
	for ts.srv.Stats().OpenConnections != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open connections %d after the clients closed", ts.srv.Stats().OpenConnections)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := ts.srv.Stats(); st.Connections != 2 {
		t.Errorf("connections %d, want 2", st.Connections)
	}
}

func TestServerTLS12Cipher(t *testing.T) {
	ts := startServer(t, Config{TLS: tlsconf.Options{Version: "1.2", Cipher: "chacha20"}})
	resp, err := ts.client.Get(ts.url + PathHealthz)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.TLS.Version != tls.VersionTLS12 || resp.TLS.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 {
		t.Errorf("negotiated %x %s", resp.TLS.Version, tls.CipherSuiteName(resp.TLS.CipherSuite))
	}
}

func TestServerRoutesAndStats(t *testing.T) {
	ts := startServer(t, Config{})
	get := func(path string) (int, []byte) {
		req, _ := http.NewRequest("GET", ts.url+path, nil)
		s, _, b := ts.do(t, req)
		return s, b
	}
	if s, b := get("/nope"); s != 404 || decodeError(t, b).Code != CodeUnsupported {
		t.Errorf("404: %d %s", s, b)
	}
	if s, b := get(PathOrder); s != 405 || decodeError(t, b).Code != CodeUnsupported {
		t.Errorf("405: %d %s", s, b)
	}
	if s, b := get(PathHealthz); s != 200 || string(b) != `{"status":"ok"}` {
		t.Errorf("healthz: %d %s", s, b)
	}
	ts.post(t, validBody, reqOpts{})
	ts.post(t, "{", reqOpts{})
	s, b := get(PathStats)
	var st Stats
	if err := json.Unmarshal(b, &st); s != 200 || err != nil {
		t.Fatalf("stats: %d %s %v", s, b, err)
	}
	want := map[string]uint64{ReasonAuth: 0, ReasonBadRequest: 1, ReasonRateLimited: 0, ReasonTooLarge: 0, ReasonBusiness: 0}
	if st.Accepted != 1 || st.Symbols["BTCUSDT"] != 1 || fmt.Sprint(st.Rejected) != fmt.Sprint(want) || st.Connections != 1 {
		t.Errorf("stats %s", b)
	}
}

func TestServerRecoversPanic(t *testing.T) {
	ts := startServer(t, Config{})
	ts.srv.echo.GET("/panic", func(echo.Context) error { panic("boom") })
	req, _ := http.NewRequest("GET", ts.url+"/panic", nil)
	if s, _, b := ts.do(t, req); s != 500 || decodeError(t, b).Code != CodeInternal {
		t.Errorf("panic route: %d %s", s, b)
	}
	if s, _, b := ts.post(t, validBody, reqOpts{}); s != 200 {
		t.Errorf("after panic: %d %s", s, b)
	}
}

// TestSymbolsBounded: distinct symbols past maxSymbols share one counter, so
// a client inventing symbols cannot grow the server's memory.
func TestSymbolsBounded(t *testing.T) {
	c := counters{symbols: map[string]*atomic.Uint64{}}
	for i := range maxSymbols + 500 {
		c.symbol("S" + strconv.Itoa(i))
	}
	c.symbol("S0")
	st := c.snapshot()
	if len(st.Symbols) != maxSymbols+1 || st.Symbols[OtherSymbols] != 500 || st.Symbols["S0"] != 2 {
		t.Errorf("%d symbols, other %d, S0 %d", len(st.Symbols), st.Symbols[OtherSymbols], st.Symbols["S0"])
	}
}

// TestServerGracefulShutdown: an order in flight when the context ends still
// gets its ack; then Run returns and nothing leaks (checked by startServer).
func TestServerGracefulShutdown(t *testing.T) {
	before := runtime.NumGoroutine()
	srv, err := New(Config{APIKey: testKey, APISecret: testSecret, AckDelay: dist.Constant(300 * time.Millisecond)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	ts := &testServer{srv: srv, url: "https://" + ln.Addr().String(), client: newClient(t, srv, false)}

	var wg sync.WaitGroup
	var status int
	var body []byte
	wg.Add(1)
	go func() {
		defer wg.Done()
		now := sign.Timestamp(time.Now())
		req, _ := http.NewRequest("POST", ts.url+PathOrder, strings.NewReader(validBody))
		sign.SetHeaders(req.Header, testKey, now, sign.Sign(testSecret, now, "POST", PathOrder, []byte(validBody)))
		resp, err := ts.client.Do(req)
		if err != nil {
			status = -1
			body = []byte(err.Error())
			return
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}()
	// Cancel once the order is being processed (its symbol was counted).
	deadline := time.Now().Add(5 * time.Second)
	for srv.Stats().Symbols["BTCUSDT"] == 0 {
		if time.Now().After(deadline) {
			t.Fatal("order never arrived")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(ShutdownGrace + 5*time.Second):
		t.Fatal("Run did not return")
	}
	wg.Wait()
	if status != 200 {
		t.Fatalf("in-flight order: %d %s", status, body)
	}
	// New connections are refused after shutdown.
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepting after shutdown")
	}
	ts.client.CloseIdleConnections()
	checkGoroutines(t, before)
}

// TestServerConcurrent: many clients at once (run with -race): order ids are
// unique and the counters add up.
func TestServerConcurrent(t *testing.T) {
	const clients, each = 6, 40
	ts := startServer(t, Config{RejectRate: 0.1, AckDelay: dist.MustParse("uniform:0s-200us"), Seed: 3})
	var mu sync.Mutex
	ids := map[uint64]bool{}
	rejected := 0
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := newClient(t, ts.srv, false)
			for i := range each {
				body := strings.Replace(validBody, "t1-000001", fmt.Sprintf("c%d-%d", c, i), 1)
				now := sign.Timestamp(time.Now())
				req, _ := http.NewRequest("POST", ts.url+PathOrder, strings.NewReader(body))
				sign.SetHeaders(req.Header, testKey, now, sign.Sign(testSecret, now, "POST", PathOrder, []byte(body)))
				resp, err := cl.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var a Ack
				if err := json.Unmarshal(b, &a); err != nil || resp.StatusCode != 200 || a.ClientOrderID != fmt.Sprintf("c%d-%d", c, i) {
					t.Errorf("%d %s %v", resp.StatusCode, b, err)
					return
				}
				mu.Lock()
				if ids[a.OrderID] {
					t.Errorf("order id %d twice", a.OrderID)
				}
				ids[a.OrderID] = true
				if a.Status == StatusRejected {
					rejected++
				}
				mu.Unlock()
			}
			cl.CloseIdleConnections()
		}()
	}
	wg.Wait()
	st := ts.srv.Stats()
	if len(ids) != clients*each || st.Accepted+st.Rejected[ReasonBusiness] != clients*each ||
		st.Rejected[ReasonBusiness] != uint64(rejected) || st.Symbols["BTCUSDT"] != clients*each || st.Connections != clients {
		t.Errorf("%d ids, %d rejected, stats %+v", len(ids), rejected, st)
	}
}
