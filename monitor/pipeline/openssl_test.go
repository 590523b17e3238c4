package pipeline_test

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
)

// lockedBuffer collects a process's output for polling.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// waitOutput polls until out holds s.
func waitOutput(t *testing.T, what string, out *lockedBuffer, s string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), s) {
		if time.Now().After(deadline) {
			o := out.String()
			t.Fatalf("%s: %q not seen in 20 s; output ends: %q", what, s, o[max(0, len(o)-400):])
		}
		time.Sleep(2 * time.Millisecond) // polling another process's output
	}
}

// TestIntegrationOpenSSLKeyUpdate sends orders over TLS 1.3 between
// openssl s_client and s_server (AES-256-GCM and ChaCha20, suites Go
// cannot pin) with a KeyUpdate from each side between them, captures it
// with dumpcap and requires the pipeline to decode what tshark decodes,
// with order-to-ack equal to tshark's frame-time differences.
func TestIntegrationOpenSSLKeyUpdate(t *testing.T) {
	needRoot(t)
	haveTool(t, "openssl")
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

	for _, suite := range []string{"TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"} {
		t.Run(suite, func(t *testing.T) {
			d := t.TempDir()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := ln.Addr().(*net.TCPAddr).Port
			ln.Close() // s_server binds it next
			tlsArgs := []string{"-tls1_3", "-ciphersuites", suite}
			var srvOut, cliOut, cliErr lockedBuffer
			srv := exec.Command("openssl", append([]string{"s_server", "-accept", "127.0.0.1:" + strconv.Itoa(port), "-naccept", "1", "-cert", certPath, "-key", keyPath}, tlsArgs...)...)
			srv.Stdout, srv.Stderr = &srvOut, &srvOut
			srvIn, err := srv.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			startProc(t, srv)
			waitOutput(t, "s_server", &srvOut, "ACCEPT")
			capt := startCapture(t, port)

			keyLog := filepath.Join(d, "keys.log")
			cli := exec.Command("openssl", append([]string{"s_client", "-connect", "127.0.0.1:" + strconv.Itoa(port), "-quiet", "-no_ign_eof", "-keylogfile", keyLog}, tlsArgs...)...)
			cli.Stdout, cli.Stderr = &cliOut, &cliErr
			cliIn, err := cli.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			startProc(t, cli)
			const orders = 3
			for i := 1; i <= orders; i++ {
				id := fmt.Sprintf("ossl-%d", i)
				body := fmt.Sprintf(`{"symbol":"BTCUSDT","side":"SELL","type":"LIMIT","quantity":"0.5","price":"61000.00","newClientOrderId":%q}`, id)
				io.WriteString(cliIn, fmt.Sprintf("POST /api/v3/order HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
				waitOutput(t, "s_server", &srvOut, id)
				ack := fmt.Sprintf(`{"symbol":"BTCUSDT","orderId":%d,"clientOrderId":%q,"transactTime":%d,"status":"NEW"}`, 9000+i, id, time.Now().UnixMilli())
				io.WriteString(srvIn, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(ack), ack))
				waitOutput(t, "s_client", &cliOut, ack)
				switch i {
				case 1:
					// Client KeyUpdate (update requested). s_client takes a
					// read that starts with K as the command: wait for it
					// before the next order.
					io.WriteString(cliIn, "K\n")
					waitOutput(t, "s_client", &cliErr, "KEYUPDATE")
				case 2:
					// Server KeyUpdate (update requested); s_server says
					// nothing unbuffered, so watch the wire.
					n := capt.sent(uint16(port))
					io.WriteString(srvIn, "K\n")
					capt.waitSent(uint16(port), n)
				}
			}
			cliIn.Close()
			waitProc(t, cli, &cliErr)
			srvIn.Close()
			waitProc(t, srv, &srvOut)
			capPath := capt.stop()
			t.Cleanup(func() {
				if t.Failed() {
					keep(t, capPath, keyLog)
				}
			})

			kl, err := os.ReadFile(keyLog)
			if err != nil {
				t.Fatal(err)
			}
			theirs := tsharkMsgs(t, capPath, keyLog, []int{port})
			a := analyzeFile(t, capPath, kl, "binance", true)
			compareMsgs(t, suite, theirs, a.msgs())
			os, as := a.kind("order"), a.kind("ack")
			if len(os) != orders || len(as) != orders {
				t.Fatalf("%d orders and %d acks decoded, want %d", len(os), len(as), orders)
			}
			at := map[string]int64{}
			for _, m := range theirs {
				at[m.Payload] = m.NS
			}
			for i := range os {
				ow, aw := at[*os[i].Payload], at[*as[i].Payload]
				if ow == 0 || aw == 0 || as[i].OrderID != os[i].OrderID || as[i].OrderToAckNS == nil || *as[i].OrderToAckNS != aw-ow {
					t.Errorf("order %s: order_to_ack %v; tshark: order %d, ack %d", os[i].OrderID, as[i].OrderToAckNS, ow, aw)
				}
			}
			dec := a.sum.Decode
			if dec.KeyUpdates < 2 || dec.RecordsNoKey != 0 || dec.AuthFailures != 0 {
				t.Errorf("key updates %d, records without key %d, auth failures %d", dec.KeyUpdates, dec.RecordsNoKey, dec.AuthFailures)
			}
			found := 0
			for _, c := range a.sum.Connections {
				if c.Server != "127.0.0.1:"+strconv.Itoa(port) {
					continue // the capture's marker connections
				}
				found++
				if c.TLS == nil || c.TLS.Suite != suite || c.TLS.Version != "1.3" {
					t.Errorf("connection %s: TLS %+v, want 1.3 %s", c.Conn, c.TLS, suite)
				}
			}
			if found != 1 {
				t.Errorf("%d connections to s_server in the summary, want 1", found)
			}
			t.Logf("%d key updates decoded; %d orders and acks at tshark's times", dec.KeyUpdates, orders)
		})
	}
}

func startProc(t *testing.T, c *exec.Cmd) {
	t.Helper()
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if c.ProcessState == nil {
			c.Process.Kill()
			c.Wait()
		}
	})
}

func waitProc(t *testing.T, c *exec.Cmd, out *lockedBuffer) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v: %.500s", c.Path, err, out.String())
		}
	case <-time.After(20 * time.Second):
		c.Process.Kill()
		<-done
		t.Fatalf("%s did not exit in 20 s: %.500s", filepath.Base(c.Path), out.String())
	}
}
