package pipeline_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline/internal/session"
)

// checkGoroutines fails the test when goroutines started during it are
// still running once its cleanups are done (servers must stop).
func checkGoroutines(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<16)
				t.Errorf("%d goroutines leaked:\n%s", runtime.NumGoroutine()-base, buf[:runtime.Stack(buf, true)])
				return
			}
			time.Sleep(5 * time.Millisecond) // polling for goroutines to finish
		}
	})
}

// TestIntegrationTsharkOracle captures real Go TLS stacks on lo with
// dumpcap, decodes the capture with tshark and with the pipeline, and
// requires the same WebSocket and HTTP messages at the same frame times,
// each way; then checks latencies against the session's ground truth and
// tshark's frame times.
func TestIntegrationTsharkOracle(t *testing.T) {
	needRoot(t)
	cases := []struct {
		name string
		opts session.Options
	}{
		{"tls13-aes128-big", session.Options{TLS: "1.3", Ticks: 30, BigEvery: 10}},
		{"tls12-aes128gcm-deflate", session.Options{TLS: "1.2", Cipher: "aes128gcm", Deflate: true, Ticks: 30, BigEvery: 15}},
		{"tls12-aes256gcm-fragments", session.Options{TLS: "1.2", Cipher: "aes256gcm", WS: "coder", Fragment: true, Ticks: 30, BigEvery: 10}},
		{"tls12-chacha20-deflate-takeover", session.Options{TLS: "1.2", Cipher: "chacha20", WS: "coder", Deflate: true, ContextTakeover: true, Ticks: 30, BigEvery: 12}},
		{"tls13-coder-fragments-deflate-takeover", session.Options{TLS: "1.3", WS: "coder", Fragment: true, Deflate: true, ContextTakeover: true, Ticks: 30}},
		{"tls13-coder-plain-fragments", session.Options{TLS: "1.3", WS: "coder", Fragment: true, Ticks: 20, BigEvery: 10}},
	}
	total := map[string]int{}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			var keys bytes.Buffer
			o := tc.opts
			o.KeyLog, o.Seed, o.OrderEvery = &keys, int64(i+1), 3
			s, err := session.Start(o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			fp, op := s.FeedAddr().Port, s.OrderAddr().Port
			capt := startCapture(t, fp, op)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			truth, err := s.Run(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			path := capt.stop()
			keyPath := filepath.Join(t.TempDir(), "keys.log")
			if err := os.WriteFile(keyPath, keys.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if t.Failed() {
					keep(t, path, keyPath)
				}
			})
			theirs := tsharkMsgs(t, path, keyPath, []int{fp, op})
			a := analyzeFile(t, path, keys.Bytes(), "binance", true)
			// Run on a live capture: when tshark, reading the same file,
			// agrees with us exactly, a message neither of us has was not in
			// the file (dumpcap lost it on a loaded machine), so the check
			// against what the peers sent takes the shortfall as a capture loss.
			before := t.Failed()
			compareMsgs(t, tc.name, theirs, a.msgs())
			a.captureShort = !t.Failed() && !before
			checkTruth(t, a, truth, theirs)
			for _, m := range theirs {
				total[m.What]++
			}
		})
	}
	t.Logf("in all, tshark and the pipeline agree on %v", total)
}

// keep copies a failing capture and key log to $CLOUDPCAP_KEEP (when set)
// for a look with wireshark.
func keep(t *testing.T, paths ...string) {
	dir := os.Getenv("CLOUDPCAP_KEEP")
	if dir == "" {
		return
	}
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			dst := filepath.Join(dir, filepath.Base(filepath.Dir(p))+"-"+filepath.Base(p))
			os.WriteFile(dst, b, 0o600)
			t.Logf("kept %s", dst)
		}
	}
}
