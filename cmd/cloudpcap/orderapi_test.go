package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/orderapi"
	"github.com/cloudpcap/cloudpcap/orderapi/sign"
)

func TestOrderAPIBadFlags(t *testing.T) {
	cases := []struct {
		args []string
		want string // substring of the usage error
	}{
		{[]string{"--nope"}, "-nope"},
		{[]string{"--ack-delay", "2xs"}, "-ack-delay"},
		{[]string{"--ack-delay", "uniform:3ms-1ms"}, "low bound"},
		{[]string{"--ack-delay", "2m"}, "--ack-delay"},
		{[]string{"--reject-rate", "1.5"}, "--reject-rate"},
		{[]string{"--reject-rate", "x"}, "-reject-rate"},
		{[]string{"--rate-limit", "-3"}, "--rate-limit"},
		{[]string{"--burst", "-1"}, "--burst"},
		{[]string{"--max-body", "12QB"}, "-max-body"},
		{[]string{"--max-body", "0"}, "-max-body"},
		{[]string{"--max-body", "1GiB"}, "-max-body"},
		{[]string{"--max-body", "100MiB"}, "--max-body"},
		{[]string{"--tls", "1.1"}, "--tls"},
		{[]string{"--tls", "1.3", "--cipher", "chacha20"}, "--cipher"},
		{[]string{"--tls", "1.2", "--cipher", "rc4"}, "--cipher"},
		{[]string{"--cert", "c.pem"}, "--cert and --key"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"extra"}, `unexpected argument "extra"`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), append([]string{"orderapi"}, c.args...), io.Discard, &stderr)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a usage error containing %q", err, c.want)
			}
			if code := exitCode(err, io.Discard); code != 2 {
				t.Errorf("exit code %d", code)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestOrderAPICommand runs the subcommand on port 0 with the secret from the
// environment, finds the address in its log, sends a signed order and stops
// it by cancelling the context. It listens on 127.0.0.2 (loopback) to see
// that the self-signed certificate names the listen host.
func TestOrderAPICommand(t *testing.T) {
	const secret = "env-secret-7f3a9c"
	t.Setenv(envAPISecret, secret)
	t.Setenv(envAPIKey, "")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"orderapi", "--listen", "127.0.0.2:0", "--ack-delay", "uniform:100us-200us", "--tls", "1.2", "--cipher", "aes256gcm"}, io.Discard, &stderr)
	}()
	addrRE := regexp.MustCompile(`msg=listening addr=(\S+)`)
	var addr string
	deadline := time.Now().Add(10 * time.Second)
	for addr == "" {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("orderapi exited early: %v\n%s", err, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no listening line in log:\n%s", stderr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}

	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} // self-signed lab certificate
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := `{"symbol":"BTCUSDT","side":"BUY","type":"LIMIT","quantity":"1","price":"100","client_order_id":"cli-1","tick_seq":9}`
	ts := sign.Timestamp(time.Now())
	req, _ := http.NewRequest("POST", "https://"+addr+orderapi.PathOrder, strings.NewReader(body))
	sign.SetHeaders(req.Header, orderapi.DefaultAPIKey, ts, sign.Sign(secret, ts, "POST", orderapi.PathOrder, []byte(body)))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var ack orderapi.Ack
	if err := json.Unmarshal(b, &ack); resp.StatusCode != 200 || err != nil || ack.Status != orderapi.StatusNew || ack.AckNS-ack.RecvNS < 100_000 {
		t.Fatalf("order: %d %s (%v)", resp.StatusCode, b, err)
	}
	if leaf := resp.TLS.PeerCertificates[0]; leaf.VerifyHostname("127.0.0.2") != nil {
		t.Errorf("self-signed certificate does not name the listen host: %v", leaf.IPAddresses)
	}
	if resp.TLS.Version != tls.VersionTLS12 || !strings.Contains(tls.CipherSuiteName(resp.TLS.CipherSuite), "AES_256_GCM") {
		t.Errorf("TLS %x %s", resp.TLS.Version, tls.CipherSuiteName(resp.TLS.CipherSuite))
	}
	tr.CloseIdleConnections()

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("orderapi: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("orderapi did not stop after cancel")
	}
	log := stderr.String()
	if strings.Contains(log, secret) || strings.Contains(log, orderapi.DefaultAPISecret) {
		t.Errorf("the secret is in the log:\n%s", log)
	}
	if !strings.Contains(log, "api_key="+orderapi.DefaultAPIKey) || !strings.Contains(log, "msg=\"orderapi stopped\"") {
		t.Errorf("log lacks the key or the stop line:\n%s", log)
	}
}

func TestOrderAPIListenError(t *testing.T) {
	err := run(context.Background(), []string{"orderapi", "--listen", "256.0.0.1:1"}, io.Discard, io.Discard)
	var ue *usageError
	if err == nil || errors.As(err, &ue) || !strings.Contains(err.Error(), "--listen 256.0.0.1:1") {
		t.Fatalf("got %v, want a run error naming --listen", err)
	}
}
