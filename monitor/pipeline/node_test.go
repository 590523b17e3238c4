package pipeline_test

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

const nodePair = "testdata/nodepair"

// nodeConfig is the JSON that server.js and client.js read.
type nodeConfig struct {
	TLS      string `json:"tls"`
	Cipher   string `json:"cipher,omitempty"`
	Deflate  bool   `json:"deflate"`
	Unit     string `json:"unit"` // E in "ms" (Binance) or "us"
	Ticks    int    `json:"ticks"`
	Big      int    `json:"big,omitempty"` // every n-th tick carries ~30 KB
	NameTick bool   `json:"nameTick"`
	// OrderDelay (ms) holds every order back so that newer ticks arrive
	// before it is sent.
	OrderDelay int    `json:"orderDelay,omitempty"`
	Cert       string `json:"cert"`
	Key        string `json:"key"`
	Keylog     string `json:"keylog"`
	FeedPort   int    `json:"feedPort,omitempty"`
	OrderPort  int    `json:"orderPort,omitempty"`
}

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// cloudpcapBinary builds cmd/cloudpcap once per test run.
func cloudpcapBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "cloudpcap-bin")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "cloudpcap")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/cloudpcap/cloudpcap/cmd/cloudpcap").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// TestIntegrationNodePair is the "not ours" check: a Node.js exchange and
// bot (ws package over Node's OpenSSL TLS, server-side key log) captured
// with dumpcap and analysed by the built binary; every message, order and
// ack tshark decodes must be in our events, at tshark's frame times, with
// latencies computed from those times.
func TestIntegrationNodePair(t *testing.T) {
	needRoot(t)
	haveTool(t, "node")
	if _, err := os.Stat(filepath.Join(nodePair, "node_modules", "ws")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("testdata/nodepair/node_modules missing: run make deps-node")
		}
		t.Skip("testdata/nodepair/node_modules missing: run make deps-node")
	}
	bin := cloudpcapBinary(t)
	dir := t.TempDir()
	cert, err := tlsconf.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600)
	os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600)

	cases := []struct {
		name      string
		cfg       nodeConfig
		suite     string
		orderTick string // analyze --order-tick
	}{
		{"tls13-aes256gcm-deflate-ms", nodeConfig{TLS: "1.3", Cipher: "TLS_AES_256_GCM_SHA384", Deflate: true, Unit: "ms", Ticks: 24, Big: 10}, "TLS_AES_256_GCM_SHA384", ""},
		{"tls13-chacha20-us-named", nodeConfig{TLS: "1.3", Cipher: "TLS_CHACHA20_POLY1305_SHA256", Unit: "us", Ticks: 24, NameTick: true}, "TLS_CHACHA20_POLY1305_SHA256", ""},
		{"tls12-aes128gcm-deflate-us", nodeConfig{TLS: "1.2", Cipher: "ECDHE-ECDSA-AES128-GCM-SHA256", Deflate: true, Unit: "us", Ticks: 24}, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", ""},
		{"tls12-chacha20-ms-big", nodeConfig{TLS: "1.2", Cipher: "ECDHE-ECDSA-CHACHA20-POLY1305", Unit: "ms", Ticks: 24, Big: 8}, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", ""},
		// The bot's client order ids name their ticks (node-<trade id>) and
		// its orders leave after newer ticks: the rule credits each to its own.
		{"tls13-aes128-us-order-tick", nodeConfig{TLS: "1.3", Cipher: "TLS_AES_128_GCM_SHA256", Unit: "us", Ticks: 24, OrderDelay: 5}, "TLS_AES_128_GCM_SHA256", `^node-(\d+)$`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			cfg := tc.cfg
			cfg.Cert, cfg.Key, cfg.Keylog = certPath, keyPath, filepath.Join(d, "keys.log")
			srv := startNodeServer(t, d, cfg)
			cfg.FeedPort, cfg.OrderPort = srv.Feed, srv.Orders
			capt := startCapture(t, srv.Feed, srv.Orders)
			res := runNodeClient(t, d, cfg)
			srv.stop(t)
			capPath := capt.stop()
			t.Cleanup(func() {
				if t.Failed() {
					keep(t, capPath, cfg.Keylog)
				}
			})

			evPath, sumPath := filepath.Join(d, "e.jsonl"), filepath.Join(d, "s.json")
			args := []string{"analyze", "--keylog", cfg.Keylog, "--profile", "binance", "--events", evPath, "--summary", sumPath, "--payloads", "-q", capPath}
			if tc.orderTick != "" {
				args = append(args, "--order-tick", tc.orderTick)
			}
			cmd := exec.Command(bin, args...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cloudpcap analyze: %v: %s", err, out)
			}
			evb, err := os.ReadFile(evPath)
			if err != nil {
				t.Fatal(err)
			}
			a := &analysis{events: parseEvents(t, evb)}
			var sum pipeline.Summary
			sb, err := os.ReadFile(sumPath)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(sb, &sum); err != nil {
				t.Fatal(err)
			}
			theirs := tsharkMsgs(t, capPath, cfg.Keylog, []int{srv.Feed, srv.Orders})
			compareMsgs(t, tc.name, theirs, a.msgs())
			checkNode(t, a, theirs, cfg, res, tc.orderTick != "")
			tlsConns := 0
			for _, c := range sum.Connections {
				if c.Server != fmt.Sprintf("127.0.0.1:%d", srv.Feed) && c.Server != fmt.Sprintf("127.0.0.1:%d", srv.Orders) {
					continue // the capture's marker connections
				}
				tlsConns++
				if c.TLS == nil || c.TLS.Suite != tc.suite || c.TLS.Version != tc.cfg.TLS || c.TLS.NoKey != 0 || c.TLS.AuthFailures != 0 {
					t.Errorf("connection %s: TLS %+v, want %s %s with every record decrypted", c.Conn, c.TLS, tc.cfg.TLS, tc.suite)
				}
			}
			if tlsConns != 2 {
				t.Errorf("summary lists %d connections to the pair, want 2 (feed, orders)", tlsConns)
			}
		})
	}
}

// checkNode checks the latencies of our events against tshark's frame
// times and the exchange times in the payloads.
func checkNode(t *testing.T, a *analysis, theirs []msg, cfg nodeConfig, res *nodeResult, rule bool) {
	t.Helper()
	ticks, orders, acks := a.kind("tick"), a.kind("order"), a.kind("ack")
	if len(ticks) != cfg.Ticks || len(orders) != len(res.Orders) || len(acks) != len(res.Orders) {
		t.Fatalf("decoded %d ticks, %d orders, %d acks; the pair sent %d, %d, %d", len(ticks), len(orders), len(acks), cfg.Ticks, len(res.Orders), len(res.Orders))
	}
	unit := int64(1e6)
	if cfg.Unit == "us" {
		unit = 1e3
	}
	var tickTimes []int64 // tshark's, in order
	tickAt := map[uint64]int64{}
	for _, e := range ticks {
		var m struct {
			Ev string `json:"e"` // Go's JSON matches keys case-insensitively:
			E  int64  `json:"E"` // e/E and t/T each need a field
			T  uint64 `json:"t"`
			TT int64  `json:"T"`
		}
		if e.Payload == nil || json.Unmarshal([]byte(*e.Payload), &m) != nil {
			t.Fatalf("tick without a JSON payload: %+v", e)
		}
		if e.Seq == nil || *e.Seq != m.T || e.ExchNS != m.E*unit || e.FeedLatencyNS == nil || *e.FeedLatencyNS != e.WireNS-m.E*unit {
			t.Errorf("tick %d: seq %v exch %d latency %v; payload E %d", m.T, e.Seq, e.ExchNS, e.FeedLatencyNS, m.E)
		}
		if l := *e.FeedLatencyNS; l < 0 || l > int64(time.Second) {
			t.Errorf("tick %d: feed latency %d ns on loopback", m.T, l)
		}
		tickTimes = append(tickTimes, e.WireNS)
		tickAt[m.T] = e.WireNS
	}
	at := map[string]int64{} // payload → tshark frame time
	for _, m := range theirs {
		at[m.Payload] = m.NS
	}
	orderAt := map[string]int64{}
	newer := 0 // orders named after a tick older than the last one before them
	for i, e := range orders {
		want := res.Orders[i]
		ow, ok := at[*e.Payload]
		if !ok || e.OrderID != want.ID {
			t.Errorf("order %d: id %s (want %s), tshark has it: %v", i, e.OrderID, want.ID, ok)
			continue
		}
		// The tick the order must be tied to, from tshark's times.
		var tw int64
		if cfg.NameTick || rule {
			tw = tickAt[want.Tick]
			if e.Match != "explicit" || e.TickSeq != want.Tick {
				t.Errorf("order %s: match %s tick %d, want explicit %d", e.OrderID, e.Match, e.TickSeq, want.Tick)
			}
			if last := lastBefore(tickTimes, ow); last != tw {
				newer++
			}
		} else {
			tw = lastBefore(tickTimes, ow)
			if e.Match != "last_tick" {
				t.Errorf("order %s: match %s, want last_tick", e.OrderID, e.Match)
			}
		}
		if e.TickWireNS != tw || e.TickToTradeNS == nil || *e.TickToTradeNS != ow-tw {
			t.Errorf("order %s: tick wire %d, tick_to_trade %v; tshark: tick %d, order %d", e.OrderID, e.TickWireNS, e.TickToTradeNS, tw, ow)
		}
		orderAt[e.OrderID] = ow
	}
	for i, e := range acks {
		aw, ok := at[*e.Payload]
		if !ok || e.OrderID != res.Orders[i].ID || e.Status != res.Orders[i].Status || e.OrderToAckNS == nil || *e.OrderToAckNS != aw-orderAt[e.OrderID] {
			t.Errorf("ack %d: %+v; tshark ack at %d, order at %d", i, e, aw, orderAt[e.OrderID])
		}
	}
	if rule && newer == 0 {
		t.Errorf("no order left after a newer tick: the order-tick case proves nothing (raise orderDelay)")
	}
	t.Logf("%d ticks, %d orders (%d sent after newer ticks), %d acks: latencies equal tshark's frame-time differences", len(ticks), len(orders), newer, len(acks))
}

// lastBefore is the last of the sorted times ts before t (0 for none).
func lastBefore(ts []int64, t int64) int64 {
	var last int64
	for _, x := range ts {
		if x < t {
			last = x
		}
	}
	return last
}

type nodeServer struct {
	Feed, Orders int
	cmd          *exec.Cmd
	stdin        interface{ Close() error }
	stderr       *bytes.Buffer
}

func writeNodeConfig(t *testing.T, dir, name string, cfg nodeConfig) string {
	b, _ := json.Marshal(cfg)
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func startNodeServer(t *testing.T, dir string, cfg nodeConfig) *nodeServer {
	t.Helper()
	s := &nodeServer{stderr: new(bytes.Buffer)}
	s.cmd = exec.Command("node", "server.js", writeNodeConfig(t, dir, "server.json", cfg))
	s.cmd.Dir = nodePair
	s.cmd.Stderr = s.stderr
	stdin, err := s.cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	s.stdin = stdin
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			s.cmd.Process.Kill()
			s.cmd.Wait()
		}
	})
	line := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			line <- sc.Text()
		}
		close(line)
	}()
	select {
	case l, ok := <-line:
		if !ok || json.Unmarshal([]byte(l), s) != nil || s.Feed == 0 {
			t.Fatalf("node server.js did not start: %q %s", l, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("node server.js did not start in 20 s: %s", s.stderr)
	}
	return s
}

// stop closes the server's stdin and waits for it to exit.
func (s *nodeServer) stop(t *testing.T) {
	t.Helper()
	s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("node server.js: %v: %s", err, s.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("node server.js did not exit in 20 s")
	}
}

type nodeResult struct {
	Ticks  int `json:"ticks"`
	Orders []struct {
		ID     string `json:"id"`
		Tick   uint64 `json:"tick"`
		Status string `json:"status"`
	} `json:"orders"`
}

func runNodeClient(t *testing.T, dir string, cfg nodeConfig) *nodeResult {
	t.Helper()
	cmd := exec.Command("node", "client.js", writeNodeConfig(t, dir, "client.json", cfg))
	cmd.Dir = nodePair
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan struct{})
	timer := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer timer.Stop()
	out, err := cmd.Output()
	close(done)
	if err != nil {
		t.Fatalf("node client.js: %v: %s", err, stderr.String())
	}
	var r nodeResult
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil || r.Ticks != cfg.Ticks {
		t.Fatalf("node client.js: %v: %s %s", err, out, stderr.String())
	}
	if !strings.Contains(string(out), "node-") && cfg.Ticks >= 4 {
		t.Fatalf("node client.js sent no orders: %s", out)
	}
	return &r
}
