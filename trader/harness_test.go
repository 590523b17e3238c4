package trader

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed"
	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/orderapi"
)

// Test servers: the real feed and order API, in-process on loopback ports
// with TLS on (self-signed certificates, so the trader runs --insecure).

const testKey, testSecret = "trader-test-key", "trader-test-secret"

// checkGoroutines fails the test when goroutines started during it are
// still running shortly after it (polling with a deadline).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<20)
			t.Errorf("%d goroutines leaked:\n%s", n-before, buf[:runtime.Stack(buf, true)])
		}
	})
}

type orderServer struct {
	srv *orderapi.Server
	url string
}

func startOrderAPI(t testing.TB, cfg orderapi.Config) *orderServer {
	t.Helper()
	if cfg.APIKey == "" {
		cfg.APIKey, cfg.APISecret = testKey, testSecret
	}
	srv, err := orderapi.New(cfg, nil)
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
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("orderapi Run: %v", err)
		}
	})
	return &orderServer{srv: srv, url: "https://" + ln.Addr().String()}
}

type feedServer struct {
	srv  *feed.Server
	addr string
	stop func() // stops the server and waits for Run
}

// startFeed runs a feed server on addr ("" picks a port).
func startFeed(t testing.TB, cfg feed.Config, addr string) *feedServer {
	t.Helper()
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	if cfg.PingInterval == 0 {
		cfg.PingInterval = -1
	}
	srv, err := feed.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // the port of a just-stopped server
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("feed Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return &feedServer{srv: srv, addr: ln.Addr().String(), stop: stop}
}

// writeReplay writes n lab ticks of symbol with seqs from first, 1ms apart,
// prices from price (nil: a small saw-tooth around 100).
func writeReplay(t *testing.T, symbol string, first uint64, n int, price func(i int) float64) string {
	t.Helper()
	var b []byte
	px := 100.0
	for i := range n {
		px += float64(i%7-3) * 0.01
		if price != nil {
			px = price(i)
		}
		tk := format.Tick{Stream: strings.ToLower(symbol) + "@tick", Symbol: symbol, Seq: first + uint64(i),
			ExchNS: 1_700_000_000_000_000_000 + int64(i)*int64(time.Millisecond), Bid: px - 0.01, Ask: px + 0.01, Last: px, Size: 1}
		b = format.AppendLab(b, &tk)
		b = append(b, '\n')
	}
	p := filepath.Join(t.TempDir(), "replay.jsonl")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// baseConfig is a trader config for the given servers.
func baseConfig(os *orderServer, feeds ...string) Config {
	return Config{
		Feeds: feeds, Orders: os.url, APIKey: testKey, APISecret: testSecret, Insecure: true,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 200 * time.Millisecond,
	}
}

// running is a trader started by startTrader.
type running struct {
	tr   *Trader
	stop func() Stats // cancels, waits for Run and returns the final stats
}

func startTrader(t testing.TB, cfg Config) *running {
	t.Helper()
	var log *slog.Logger
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	tr, err := New(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	var once sync.Once
	var final Stats
	stop := func() Stats {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("trader Run: %v", err)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("trader Run did not return 15s after cancel")
			}
			final = tr.Stats()
		})
		return final
	}
	t.Cleanup(func() { stop() })
	return &running{tr: tr, stop: stop}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stampLine is a line of the --timestamps file.
type stampLine struct {
	Kind       string `json:"kind"`
	Client     int    `json:"client"`
	Conn       string `json:"conn"`
	Stream     string `json:"stream"`
	Symbol     string `json:"symbol"`
	Seq        uint64 `json:"seq"`
	OrderID    string `json:"order_id"`
	Side       string `json:"side"`
	TickConn   string `json:"tick_conn"`
	TickSeq    uint64 `json:"tick_seq"`
	OrderConn  string `json:"order_conn"`
	ExchNS     int64  `json:"exch_ns"`
	RecvNS     int64  `json:"recv_ns"`
	DecideNS   int64  `json:"decide_ns"`
	SendNS     int64  `json:"send_ns"`
	WroteNS    int64  `json:"wrote_ns"`
	AckNS      int64  `json:"ack_ns"`
	HTTPStatus int    `json:"http_status"`
	Status     string `json:"status"`
	Error      string `json:"error"`
}

func readStamps(t *testing.T, path string) []stampLine {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []stampLine
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var l stampLine
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("timestamps line %q: %v", sc.Text(), err)
		}
		out = append(out, l)
	}
	return out
}

// proxy forwards TCP to target, records the client random of each
// connection's ClientHello (an oracle independent of the trader) and can
// delay the server-to-client direction or be killed.
type proxy struct {
	ln     net.Listener
	target string
	delay  time.Duration

	mu      sync.Mutex
	randoms []string
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup
}

func startProxy(t *testing.T, target string, delay time.Duration) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, delay: delay, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c) || !p.track(s) {
			c.Close()
			s.Close()
			return
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.clientToServer(c, s) }()
		go func() { defer p.wg.Done(); p.serverToClient(s, c) }()
	}
}

func (p *proxy) clientToServer(c, s net.Conn) {
	defer s.Close()
	// The first TLS record is the ClientHello: type 22, then handshake
	// type 1, length (3), version (2) and the 32-byte client random.
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(c, hdr); err != nil {
		return
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(c, body); err != nil {
		return
	}
	if hdr[0] == 22 && len(body) >= 38 && body[0] == 1 {
		p.mu.Lock()
		p.randoms = append(p.randoms, hex.EncodeToString(body[6:38]))
		p.mu.Unlock()
	}
	if _, err := s.Write(append(hdr, body...)); err != nil {
		return
	}
	io.Copy(s, c)
}

func (p *proxy) serverToClient(s, c net.Conn) {
	defer c.Close()
	if p.delay == 0 {
		io.Copy(c, s)
		return
	}
	type chunk struct {
		at time.Time
		b  []byte
	}
	ch := make(chan chunk, 4096)
	go func() {
		defer close(ch)
		for {
			buf := make([]byte, 32<<10)
			n, err := s.Read(buf)
			if n > 0 {
				ch <- chunk{time.Now().Add(p.delay), buf[:n]}
			}
			if err != nil {
				return
			}
		}
	}()
	for k := range ch {
		time.Sleep(time.Until(k.at)) // link emulation, not synchronisation
		if _, err := c.Write(k.b); err != nil {
			s.Close()
			for range ch {
			}
			return
		}
	}
}

// kill closes the listener and every connection.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) clientRandoms() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.randoms...)
}

// selfSignedFiles writes a fresh self-signed certificate and key for
// 127.0.0.1, to serve with --cert/--key and trust with --ca.
func selfSignedFiles(t *testing.T) (certFile, keyFile string) {
	t.Helper()
	dir := t.TempDir()
	cert, err := tlsconf.SelfSigned("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

func tlsOptions(cert, key string) tlsconf.Options {
	return tlsconf.Options{CertFile: cert, KeyFile: key}
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
