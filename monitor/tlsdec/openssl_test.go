package tlsdec

import (
	"bytes"
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

	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec/internal/tlstest"
)

func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("openssl binary not found (needed under CI=true): %v", err)
		}
		t.Skip("openssl binary not found; install openssl to run this test")
	}
	return path
}

// syncBuffer is a bytes.Buffer safe for one writer goroutine and polling readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond) // polling interval, not a synchronisation
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func startCmd(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
}

// TestIntegrationOpenSSL decrypts sessions between openssl s_client and
// s_server (through a recording proxy), including TLS 1.3 KeyUpdate in
// both forms, and compares with what s_client printed.
func TestIntegrationOpenSSL(t *testing.T) {
	bin := needOpenSSL(t)
	tests := []struct {
		name      string
		args      []string
		keyUpdate bool
		version   uint16
		suite     uint16
	}{
		{"tls13 aes256gcm", []string{"-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"}, true, VersionTLS13, 0x1302},
		{"tls13 chacha20", []string{"-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"}, true, VersionTLS13, 0x1303},
		{"tls12 ecdhe chacha20", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"}, false, VersionTLS12, 0xcca9},
		{"tls12 ecdhe aes256gcm", []string{"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"}, false, VersionTLS12, 0xc02c},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			_, certPEM, keyPEM, err := tlstest.Cert(tlstest.Host)
			if err != nil {
				t.Fatal(err)
			}
			certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
			os.WriteFile(certFile, certPEM, 0o600)
			os.WriteFile(keyFile, keyPEM, 0o600)
			port := freePort(t)
			srv := exec.Command(bin, append([]string{"s_server", "-accept", "127.0.0.1:" + strconv.Itoa(port),
				"-naccept", "1", "-cert", certFile, "-key", keyFile, "-rev"}, tt.args...)...)
			var srvOut syncBuffer
			srv.Stdout, srv.Stderr = &srvOut, &srvOut
			startCmd(t, srv)
			waitFor(t, "s_server ACCEPT", func() bool { return strings.Contains(srvOut.String(), "ACCEPT") })

			px, err := tlstest.NewProxy("127.0.0.1:" + strconv.Itoa(port))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(px.Close)
			keyFileLog := filepath.Join(dir, "keys.log")
			cli := exec.Command(bin, append([]string{"s_client", "-connect", px.Addr(), "-servername", tlstest.Host,
				"-quiet", "-no_ign_eof", "-keylogfile", keyFileLog}, tt.args...)...)
			stdin, err := cli.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			var cliOut, cliErr syncBuffer
			cli.Stdout, cli.Stderr = &cliOut, &cliErr
			startCmd(t, cli)

			var sent bytes.Buffer
			say := func(line string) {
				io.WriteString(stdin, line+"\n")
				sent.WriteString(line + "\n")
				rev := []byte(line)
				for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
					rev[i], rev[j] = rev[j], rev[i]
				}
				waitFor(t, "echo of "+line, func() bool { return strings.Contains(cliOut.String(), string(rev)+"\n") })
			}
			say("hello from s_client")
			if tt.keyUpdate {
				for _, cmd := range []string{"k", "K"} {
					c2s := px.Bytes(stream.ClientToServer)
					io.WriteString(stdin, cmd+"\n")
					if !px.WaitBytes(stream.ClientToServer, c2s, 10*time.Second) {
						t.Fatalf("no KeyUpdate sent for %q (stderr %s)", cmd, cliErr.String())
					}
					// OpenSSL sends its own KeyUpdate for "K" before its next
					// record, i.e. before the echo of this line.
					say("after " + cmd)
				}
			}
			say(strings.Repeat("long line ", 300))
			stdin.Close()
			if err := cli.Wait(); err != nil {
				t.Fatalf("s_client: %v: %s", err, cliErr.String())
			}
			waitFor(t, "s_server exit", func() bool { return strings.Contains(srvOut.String(), "CONNECTION CLOSED") || srv.ProcessState != nil })
			px.Close()

			kl, err := os.ReadFile(keyFileLog)
			if err != nil {
				t.Fatal(err)
			}
			st := keyring.NewStore()
			if _, w := st.Load(keyFileLog, kl); len(w) != 0 {
				t.Fatal(w)
			}
			col := &collector{}
			c := NewConn(stream.ConnKey{}, Config{Keys: st}, col)
			for _, e := range px.Events() {
				c.Data(e.Dir, e.Data, e.TS)
			}
			c.Close(0)
			s := &tlstest.Session{Plain: [2][]byte{sent.Bytes(), []byte(cliOut.String())}}
			s.Events = px.Events()
			checkSession(t, c, col, s)
			info := c.Info()
			if info.Version != tt.version || info.Suite != tt.suite || info.SNI != tlstest.Host || info.CertCN != tlstest.Host {
				t.Errorf("info: version %#x suite %s sni %q cn %q", info.Version, info.SuiteName(), info.SNI, info.CertCN)
			}
			if want := uint64(0); tt.keyUpdate {
				want = 3 // client k, client K, and the server's answer to K
				if got := c.Stats().KeyUpdates; got != want {
					t.Errorf("KeyUpdates = %d, want %d", got, want)
				}
			}
		})
	}
}
