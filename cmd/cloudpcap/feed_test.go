package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

func TestFeedBadFlags(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
	}{
		{[]string{"--format", "okx"}, `--format "okx"`},
		{[]string{"--format", "auto"}, `--format "auto"`},
		{[]string{"--rate", "-1"}, "--rate -1"},
		{[]string{"--rate", "fast"}, `invalid value "fast" for flag -rate`},
		{[]string{"--tls", "1.1"}, `--tls "1.1"`},
		{[]string{"--cipher", "aes128gcm"}, "--cipher applies to --tls 1.2 only"},
		{[]string{"--tls", "1.2", "--cipher", "rc4"}, `--cipher "rc4"`},
		{[]string{"--cert", "c.pem"}, "--cert and --key go together"},
		{[]string{"--pattern", "staged:10@1q"}, `--pattern "staged:10@1q"`},
		{[]string{"--slow-policy", "wait"}, `--slow-policy "wait"`},
		{[]string{"--symbols", "BTC-USD"}, `--symbols: "BTC-USD"`},
		{[]string{"--format", "coinbase", "--symbols", "BTCUSD"}, `--symbols: "BTCUSD"`},
		{[]string{"--speed", "3"}, "--speed applies to --replay only"},
		{[]string{"--deflate-no-context-takeover"}, "--deflate-no-context-takeover needs --deflate"},
		{[]string{"--listen", "nohost"}, `--listen "nohost"`},
		{[]string{"--log-level", "loud"}, `--log-level "loud"`},
		{[]string{"--queue", "-1"}, "--queue -1"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"--nope"}, "flag provided but not defined: -nope"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := runFeed(context.Background(), tt.args, &bytes.Buffer{}, &stderr)
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("feed %v: error %v, want a usage error containing %q", tt.args, err, tt.wantErr)
		}
	}
}

func TestFeedMissingReplayFile(t *testing.T) {
	err := runFeed(context.Background(), []string{"--replay", t.TempDir() + "/none.jsonl", "--listen", "127.0.0.1:0"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "--replay") {
		t.Fatalf("error %v, want one naming --replay", err)
	}
}

// feedLog is a stderr that the test reads while runFeed writes it.
type feedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *feedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *feedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFeedCommand runs the command as a user would (TLS 1.2, AES-256-GCM,
// Binance at 500 msgs/s), finds the port in the "listening addr=" log line
// and reads trades with gorilla/websocket: contiguous t, non-decreasing E.
func TestFeedCommand(t *testing.T) {
	var stderr feedLog
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- runFeed(ctx, []string{"--listen", "127.0.0.1:0", "--format", "binance", "--rate", "500",
			"--tls", "1.2", "--cipher", "aes256gcm", "--seed", "5", "--symbols", "BTCUSDT"}, &bytes.Buffer{}, &stderr)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("feed returned %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("feed did not stop 10 s after cancel")
		}
	})
	re := regexp.MustCompile(`msg=listening addr=(\S+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := re.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("feed stopped: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in 10 s:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The certificate is self-signed and made at start; the test trusts it
	// blindly but checks the negotiated suite.
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial("wss://"+addr+"/ws/btcusdt@trade", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.NetConn().(*tls.Conn).ConnectionState(); st.CipherSuite != tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 {
		t.Fatalf("negotiated %s, want ECDHE-ECDSA AES-256-GCM", tls.CipherSuiteName(st.CipherSuite))
	}
	var tk format.Tick
	var prevT uint64
	var prevE int64
	for i := 0; i < 100; i++ {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, msg, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if err := format.ParseBinance(msg, &tk); err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		if tk.Kind != format.KindTrade || tk.Symbol != "BTCUSDT" {
			t.Fatalf("not a BTCUSDT trade: %s", msg)
		}
		if i > 0 && (tk.Seq != prevT+1 || tk.ExchNS < prevE) {
			t.Fatalf("t %d after %d, E %d after %d", tk.Seq, prevT, tk.ExchNS, prevE)
		}
		prevT, prevE = tk.Seq, tk.ExchNS
	}
}
