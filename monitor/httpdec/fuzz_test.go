package httpdec_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// fixtureDirs returns the client and server bytes of each recording in
// monitor/ws/testdata (format: "wsrec1\n", then per piece direction byte,
// 8-byte time, 4-byte length, bytes).
func fixtureDirs(t testing.TB) [][2][]byte {
	paths, _ := filepath.Glob(filepath.Join("..", "ws", "testdata", "*.wsrec"))
	if len(paths) == 0 {
		t.Fatal("no recordings in ../ws/testdata")
	}
	var out [][2][]byte
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimPrefix(b, []byte("wsrec1\n"))
		var dirs [2][]byte
		for len(b) >= 13 {
			n := int(binary.BigEndian.Uint32(b[9:]))
			dirs[b[0]&1] = append(dirs[b[0]&1], b[13:13+n]...)
			b = b[13+n:]
		}
		out = append(out, dirs)
	}
	return out
}

func fuzzRun(req, resp []byte, step int) string {
	l := &lines{}
	c := httpdec.NewConn(httpdec.Config{MaxHeaderBytes: 4096, MaxBody: 1 << 16, MaxPipeline: 8, MaxPending: 4096, WS: ws.Config{MaxMessage: 1 << 16}}, l)
	for _, p := range []struct {
		dir stream.Dir
		b   []byte
	}{{stream.ClientToServer, req}, {stream.ServerToClient, resp}} {
		for i := 0; i < len(p.b); i += step {
			c.Feed(p.dir, p.b[i:min(len(p.b), i+step)], stream.Span{FirstNS: 1, LastNS: 2})
		}
	}
	c.Close(3)
	st := c.Stats()
	var errText string
	if err := c.Err(); err != nil {
		errText = err.Error()
	}
	return strings.Join(l.out, "\n") + "\nerr=" + errText + " skipped=" + string(rune('0'+min(9, st.SkippedBytes)))
}

// FuzzConn checks that no input panics the HTTP decoder (or the WebSocket
// decoder behind an upgrade) and that cutting the input differently never
// changes what is decoded.
func FuzzConn(f *testing.F) {
	for _, d := range fixtureDirs(f) {
		f.Add(d[0], d[1], uint8(0))
		f.Add(d[0], d[1], uint8(6))
	}
	f.Add([]byte("GET /a HTTP/1.1\r\n\r\nHEAD /b HTTP/1.1\r\n\r\n"), []byte("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), uint8(2))
	f.Add([]byte("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x\r\nabc\r\n0\r\nT: 1\r\n\r\n"), []byte("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\nbody"), uint8(1))
	f.Add([]byte("CONNECT a:1 HTTP/1.1\r\n\r\n\x16\x03"), []byte("HTTP/1.1 407 No\r\nContent-Length: 0\r\n\r\n"), uint8(4))
	f.Fuzz(func(t *testing.T, req, resp []byte, step uint8) {
		whole := fuzzRun(req, resp, len(req)+len(resp)+1)
		split := fuzzRun(req, resp, 1+int(step))
		if whole != split {
			t.Fatalf("cut into %d-byte pieces:\n%s\nwhole:\n%s", 1+int(step), split, whole)
		}
	})
}
