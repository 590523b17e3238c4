package keywriter

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
)

func TestModeAndAppend(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keys.log")
	if err := os.WriteFile(p, []byte("# earlier\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	if _, err := w.Write([]byte("CLIENT_RANDOM 00 11\n")); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != Mode {
		t.Errorf("mode %v, want %v", st.Mode().Perm(), Mode)
	}
	b, _ := os.ReadFile(p)
	if string(b) != "# earlier\nCLIENT_RANDOM 00 11\n" {
		t.Errorf("content %q", b)
	}
	w.Close()
	if _, err := w.Write([]byte("x\n")); !errors.Is(err, os.ErrClosed) {
		t.Errorf("write after close: %v", err)
	}
	fresh := filepath.Join(dir, "new.log")
	w2, err := Open(fresh)
	if err != nil {
		t.Fatal(err)
	}
	w2.Close()
	if st, _ := os.Stat(fresh); st.Mode().Perm() != Mode {
		t.Errorf("new file mode %v", st.Mode().Perm())
	}
	if _, err := Open(filepath.Join(dir, "missing", "k.log")); err == nil || !strings.Contains(err.Error(), "missing/k.log") {
		t.Errorf("bad dir: %v", err)
	}
}

// TestHandshakes runs concurrent TLS 1.2 and 1.3 handshakes through one
// Writer and checks that every client random is present, with the labels of
// its version, each on its own well-formed line.
func TestHandshakes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "keys.log")
	w, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	cert, err := tlsconf.SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	srvCfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ver := uint16(tls.VersionTLS13)
			if i%2 == 0 {
				ver = tls.VersionTLS12
			}
			c1, c2 := net.Pipe()
			defer c1.Close()
			defer c2.Close()
			cfg := &tls.Config{InsecureSkipVerify: true, KeyLogWriter: w, MaxVersion: ver}
			srv := tls.Server(c2, srvCfg)
			go srv.Handshake()
			cli := tls.Client(c1, cfg)
			if err := cli.Handshake(); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			done++
			mu.Unlock()
		}()
	}
	wg.Wait()
	b, _ := os.ReadFile(p)
	labels := map[string]int{}
	randoms := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 {
			t.Fatalf("malformed line with %d fields", len(f))
		}
		if r, err := hex.DecodeString(f[1]); err != nil || len(r) != 32 {
			t.Fatalf("bad client random in %s line", f[0])
		}
		labels[f[0]]++
		randoms[f[1]] = true
	}
	if labels["CLIENT_RANDOM"] != 8 {
		t.Errorf("%d CLIENT_RANDOM lines, want 8", labels["CLIENT_RANDOM"])
	}
	for _, l := range []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} {
		if labels[l] != 8 {
			t.Errorf("%d %s lines, want 8", labels[l], l)
		}
	}
	if len(randoms) != 16 || done != 16 {
		t.Errorf("%d distinct client randoms for %d handshakes", len(randoms), done)
	}
	if uint64(bytes.Count(b, []byte("\n"))) != w.Lines() {
		t.Errorf("Lines %d, file has %d", w.Lines(), bytes.Count(b, []byte("\n")))
	}
}
