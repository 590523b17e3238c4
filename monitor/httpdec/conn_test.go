package httpdec_test

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// lines renders every decoded message on one line, copying as it goes.
type lines struct{ out []string }

func (l *lines) HTTP(m *httpdec.Message) {
	var b strings.Builder
	if m.IsRequest {
		fmt.Fprintf(&b, "%s %s %s HTTP/%d.%d seq=%d", m.Dir, m.Method, m.Target, m.ProtoMajor, m.ProtoMinor, m.Seq)
	} else {
		fmt.Fprintf(&b, "%s HTTP/%d.%d %d %q seq=%d req=%s", m.Dir, m.ProtoMajor, m.ProtoMinor, m.StatusCode, m.Reason, m.Seq, m.RequestMethod)
		if m.Interim {
			b.WriteString(" interim")
		}
	}
	if m.Upgrade {
		b.WriteString(" upgrade")
	}
	if m.Chunked {
		b.WriteString(" chunked")
	}
	if m.Body != nil {
		fmt.Fprintf(&b, " body=%q", m.Body)
	}
	for _, f := range m.Trailer {
		fmt.Fprintf(&b, " trailer[%s=%s]", f.Name, f.Value)
	}
	fmt.Fprintf(&b, " span=%d-%d off=%d wire=%d", m.Span.FirstNS, m.Span.LastNS, m.Offset, m.WireBytes)
	l.out = append(l.out, b.String())
}

func (l *lines) WebSocket(dir stream.Dir, m *ws.Message) {
	l.out = append(l.out, fmt.Sprintf("%s ws %s %q compressed=%v span=%d-%d off=%d", dir, m.Opcode, m.Payload, m.Compressed, m.Span.FirstNS, m.Span.LastNS, m.Offset))
}

// piece is input to one direction; ts is both ends of its span.
type piece struct {
	dir  stream.Dir
	data string
	ts   int64
}

func c2s(ts int64, s string) piece { return piece{stream.ClientToServer, s, ts} }
func s2c(ts int64, s string) piece { return piece{stream.ServerToClient, s, ts} }

// run feeds the pieces, each cut into parts of at most step bytes (0:
// whole), and closes the connection.
func run(cfg httpdec.Config, in []piece, step int) ([]string, *httpdec.Conn) {
	l := &lines{}
	c := httpdec.NewConn(cfg, l)
	for _, p := range in {
		b := []byte(p.data)
		n := step
		if n == 0 {
			n = len(b)
		}
		for len(b) > 0 {
			k := min(n, len(b))
			c.Feed(p.dir, b[:k], stream.Span{FirstNS: p.ts, LastNS: p.ts})
			b = b[k:]
		}
	}
	c.Close(1 << 40)
	return l.out, c
}

func TestConn(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  httpdec.Config
		in   []piece
		want []string
		err  string // substring of Err(), "" for none
	}{
		{
			name: "content length keep-alive",
			in: []piece{
				c2s(1, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"),
				s2c(2, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhe"), s2c(3, "llo"),
				c2s(4, "POST /o HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}"),
				s2c(5, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
			},
			want: []string{
				`c2s GET /a HTTP/1.1 seq=0 span=1-1 off=0 wire=28`,
				`s2c HTTP/1.1 200 "OK" seq=0 req=GET body="hello" span=2-3 off=0 wire=43`,
				`c2s POST /o HTTP/1.1 seq=1 body="{}" span=4-4 off=28 wire=41`,
				`s2c HTTP/1.1 201 "Created" seq=1 req=POST span=5-5 off=43 wire=43`,
			},
		},
		{
			name: "pipelined with HEAD 204 304 and 100-continue",
			in: []piece{
				c2s(1, "HEAD /h HTTP/1.1\r\n\r\nDELETE /d HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\nPUT /p HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n"),
				s2c(2, "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n"),
				c2s(3, "abc"),
				s2c(4, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
			},
			want: []string{
				`c2s HEAD /h HTTP/1.1 seq=0 span=1-1 off=0 wire=20`,
				`c2s DELETE /d HTTP/1.1 seq=1 span=1-1 off=20 wire=22`,
				`c2s GET /c HTTP/1.1 seq=2 span=1-1 off=42 wire=19`,
				`s2c HTTP/1.1 200 "OK" seq=0 req=HEAD span=2-2 off=0 wire=41`,
				`s2c HTTP/1.1 204 "No Content" seq=1 req=DELETE span=2-2 off=41 wire=46`,
				`s2c HTTP/1.1 304 "Not Modified" seq=2 req=GET span=2-2 off=87 wire=29`,
				`s2c HTTP/1.1 100 "Continue" seq=3 req=PUT interim span=2-2 off=116 wire=25`,
				`c2s PUT /p HTTP/1.1 seq=3 body="abc" span=1-3 off=61 wire=63`,
				`s2c HTTP/1.1 200 "OK" seq=3 req=PUT body="ok" span=4-4 off=141 wire=40`,
			},
		},
		{
			name: "chunked with extension and trailer, bare LF",
			in: []piece{
				c2s(1, "\r\nPOST /c HTTP/1.1\nTransfer-Encoding: chunked\n\n3;ext=1\nabc\n0\n\n"),
				s2c(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nTrailer: X-Sum\r\n\r\n4\r\nwiki\r\n"),
				s2c(3, "9\r\npedia in \r\n0\r\nX-Sum: 42 \r\n\r\n"),
			},
			want: []string{
				`c2s POST /c HTTP/1.1 seq=0 chunked body="abc" span=1-1 off=2 wire=60`,
				`s2c HTTP/1.1 200 "OK" seq=0 req=POST chunked body="wikipedia in " trailer[X-Sum=42] span=2-3 off=0 wire=109`,
			},
		},
		{
			name: "response delimited by close",
			in: []piece{
				c2s(1, "GET / HTTP/1.0\r\n\r\n"),
				s2c(2, "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nfirst "), s2c(3, "second"),
			},
			want: []string{
				`c2s GET / HTTP/1.0 seq=0 span=1-1 off=0 wire=18`,
				`s2c HTTP/1.0 200 "OK" seq=0 req=GET body="first second" span=2-3 off=0 wire=44`,
			},
		},
		{
			name: "refused upgrade replays the held request",
			in: []piece{
				c2s(1, "GET /ws HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n\r\nGET /next HTTP/1.1\r\n\r\n"),
				s2c(2, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz"),
			},
			want: []string{
				`c2s GET /ws HTTP/1.1 seq=0 upgrade span=1-1 off=0 wire=61`,
				`s2c HTTP/1.1 400 "Bad Request" seq=0 req=GET span=2-2 off=0 wire=47`,
				`c2s GET /next HTTP/1.1 seq=1 span=1-1 off=61 wire=22`,
				`s2c HTTP/1.1 200 "OK" seq=1 req=GET body="z" span=2-2 off=47 wire=39`,
			},
		},
		{
			name: "upgrade to websocket with early client frame",
			in: []piece{
				c2s(1, "GET /ws HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n"),
				c2s(2, "\x81\x82\x00\x00\x00\x00hi"),
				s2c(3, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate; server_no_context_takeover; client_max_window_bits=10\r\n\r\n\x89\x00"),
				s2c(4, "\x81\x03yo!"),
			},
			want: []string{
				`c2s GET /ws HTTP/1.1 seq=0 upgrade span=1-1 off=0 wire=73`,
				`s2c HTTP/1.1 101 "Switching Protocols" seq=0 req=GET upgrade span=3-3 off=0 wire=178`,
				`c2s ws text "hi" compressed=false span=2-2 off=73`,
				`s2c ws ping "" compressed=false span=3-3 off=178`,
				`s2c ws text "yo!" compressed=false span=4-4 off=180`,
			},
		},
		{
			name: "connect tunnel is not decoded",
			in: []piece{
				c2s(1, "CONNECT x:443 HTTP/1.1\r\n\r\n\x16\x03\x01"),
				s2c(2, "HTTP/1.1 200 Connection established\r\n\r\n\x16\x03\x03"),
			},
			want: []string{
				`c2s CONNECT x:443 HTTP/1.1 seq=0 span=1-1 off=0 wire=26`,
				`s2c HTTP/1.1 200 "Connection established" seq=0 req=CONNECT span=2-2 off=0 wire=39`,
			},
		},
		{
			name: "bad chunk size",
			in:   []piece{c2s(1, "GET / HTTP/1.1\r\n\r\n"), s2c(2, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n")},
			want: []string{`c2s GET / HTTP/1.1 seq=0 span=1-1 off=0 wire=18`},
			err:  `httpdec: s2c byte 57: bad chunk size "zz"`,
		},
		{
			name: "missing CRLF after chunk",
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n")},
			err:  `httpdec: c2s byte 51: missing CRLF after chunk data, found "b"`,
		},
		{
			name: "bad request line",
			in:   []piece{c2s(1, "GET /only-two\r\n\r\n")},
			err:  `httpdec: c2s byte 0: bad request line "GET /only-two"`,
		},
		{
			name: "http2 preface",
			in:   []piece{c2s(1, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")},
			err:  `is not HTTP/1.x`,
		},
		{
			name: "obsolete folding",
			in:   []piece{c2s(1, "GET / HTTP/1.1\r\nX-A: 1\r\n  2\r\n\r\n")},
			err:  `c2s byte 0: obsolete line folding "  2"`,
		},
		{
			name: "conflicting content length",
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")},
			err:  `conflicting Content-Length values`,
		},
		{
			name: "request transfer coding without chunked",
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n")},
			err:  `request Transfer-Encoding "gzip" does not end in chunked`,
		},
		{
			name: "bad status",
			in:   []piece{c2s(1, "GET / HTTP/1.1\r\n\r\n"), s2c(2, "HTTP/1.1 2000 OK\r\n\r\n")},
			want: []string{`c2s GET / HTTP/1.1 seq=0 span=1-1 off=0 wire=18`},
			err:  `s2c byte 0: bad status code "2000"`,
		},
		{
			name: "header too large",
			cfg:  httpdec.Config{MaxHeaderBytes: 40},
			in:   []piece{c2s(1, "GET / HTTP/1.1\r\nCookie: "+strings.Repeat("c", 100)+"\r\n\r\n")},
			err:  `c2s byte 0: header section exceeds 40 bytes`,
		},
		{
			name: "body too large",
			cfg:  httpdec.Config{MaxBody: 10},
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n")},
			err:  `Content-Length 11 exceeds 10 bytes`,
		},
		{
			name: "chunked body too large",
			cfg:  httpdec.Config{MaxBody: 10},
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\n")},
			err:  `c2s byte 58: chunked body exceeds 10 bytes`,
		},
		{
			name: "pipeline limit",
			cfg:  httpdec.Config{MaxPipeline: 2},
			in:   []piece{c2s(1, "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n")},
			want: []string{`c2s GET /1 HTTP/1.1 seq=0 span=1-1 off=0 wire=19`, `c2s GET /2 HTTP/1.1 seq=1 span=1-1 off=19 wire=19`},
			err:  `c2s byte 38: more than 2 requests awaiting responses`,
		},
		{
			name: "truncated",
			in:   []piece{c2s(1, "POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc")},
			err:  `c2s byte 0: connection closed inside a message`,
		},
		{
			name: "bad deflate parameter",
			in: []piece{
				c2s(1, "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n"),
				s2c(2, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20\r\n\r\n"),
			},
			want: []string{
				`c2s GET /ws HTTP/1.1 seq=0 upgrade span=1-1 off=0 wire=40`,
				`s2c HTTP/1.1 101 "Switching Protocols" seq=0 req=GET upgrade span=2-2 off=0 wire=129`,
			},
			err: `s2c byte 0: bad server_max_window_bits "20"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, _ := run(tc.cfg, tc.in, 0)
			for _, step := range []int{0, 1, 3, 7} {
				got, c := run(tc.cfg, tc.in, step)
				if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
					t.Fatalf("step %d: got\n%s\nwant\n%s", step, strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
				}
				if strings.Join(got, "\n") != strings.Join(want, "\n") {
					t.Fatalf("step %d differs from whole pieces", step)
				}
				err := c.Err()
				switch {
				case tc.err == "" && err != nil:
					t.Fatalf("step %d: %v", step, err)
				case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
					t.Fatalf("step %d: error %v, want %q", step, err, tc.err)
				}
				if err != nil {
					var e *httpdec.Error
					if !errors.As(err, &e) || c.Stats().Errors != 1 {
						t.Errorf("error %v is not an *httpdec.Error counted once (%d)", err, c.Stats().Errors)
					}
				}
			}
		})
	}
}

func TestDeflateNegotiation(t *testing.T) {
	l := &lines{}
	c := httpdec.NewConn(httpdec.Config{}, l)
	c.Feed(stream.ClientToServer, []byte("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"), stream.Span{})
	c.Feed(stream.ServerToClient, []byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"+
		"Sec-WebSocket-Extensions: x-other, permessage-deflate; server_no_context_takeover ; client_no_context_takeover; server_max_window_bits=\"9\"; client_max_window_bits=12\r\n\r\n"), stream.Span{})
	cfg, ok := c.WebSocket()
	want := ws.Deflate{Enabled: true, ServerNoContextTakeover: true, ClientNoContextTakeover: true, ServerMaxWindowBits: 9, ClientMaxWindowBits: 12}
	if !ok || cfg.Deflate != want || c.Err() != nil {
		t.Fatalf("upgraded %v, %+v, err %v; want %+v", ok, cfg.Deflate, c.Err(), want)
	}
}

func TestHeaderLookup(t *testing.T) {
	h := httpdec.Header{
		{Name: []byte("Content-Type"), Value: []byte("text/plain")},
		{Name: []byte("connection"), Value: []byte("keep-alive, Upgrade")},
		{Name: []byte("X-Dup"), Value: []byte("1")},
		{Name: []byte("x-dup"), Value: []byte("2")},
	}
	for _, tc := range []struct {
		name, want string
		has        bool
	}{
		{"content-type", "text/plain", true}, {"CONTENT-TYPE", "text/plain", true},
		{"X-DUP", "1", true}, {"missing", "", false}, {"Content-Typ", "", false},
	} {
		if got := h.Get(tc.name); string(got) != tc.want || h.Has(tc.name) != tc.has {
			t.Errorf("Get(%q) = %q, Has %v", tc.name, got, h.Has(tc.name))
		}
	}
	if !h.HasToken("Connection", "upgrade") || h.HasToken("Connection", "close") || h.HasToken("Content-Type", "text") {
		t.Error("HasToken")
	}
	if a := testing.AllocsPerRun(100, func() { h.Get("x-dup"); h.HasToken("connection", "UPGRADE") }); a != 0 {
		t.Errorf("%v allocations per lookup", a)
	}
}

// TestNoAllocs proves that a warm Conn decodes keep-alive exchanges
// without allocating.
func TestNoAllocs(t *testing.T) {
	req := []byte("POST /api/v3/order HTTP/1.1\r\nHost: lab\r\nX-API-Key: k\r\nContent-Type: application/json\r\nContent-Length: 26\r\n\r\n{\"symbol\":\"BTCUSDT\",\"q\":1}")
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n{\"status\":\"NEW\"}\r\n0\r\n\r\n")
	n := 0
	c := httpdec.NewConn(httpdec.Config{}, countHandler{&n})
	exchange := func() {
		for i := 0; i < len(req); i += 50 {
			c.Feed(stream.ClientToServer, req[i:min(len(req), i+50)], stream.Span{FirstNS: 1, LastNS: 2})
		}
		c.Feed(stream.ServerToClient, resp, stream.Span{FirstNS: 3, LastNS: 4})
	}
	exchange()
	if a := testing.AllocsPerRun(100, exchange); a != 0 {
		t.Errorf("%v allocations per exchange", a)
	}
	if c.Err() != nil || n != 2*102 {
		t.Fatalf("err %v, %d messages", c.Err(), n)
	}
}

type countHandler struct{ n *int }

func (h countHandler) HTTP(m *httpdec.Message)                 { *h.n++ }
func (h countHandler) WebSocket(dir stream.Dir, m *ws.Message) { *h.n++ }

var _ = strconv.Itoa

func TestStats(t *testing.T) {
	_, c := run(httpdec.Config{}, []piece{
		s2c(1, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), // before any request
		c2s(2, "CONNECT a:443 HTTP/1.1\r\n\r\n\x16\x03\x01"),
		s2c(3, "HTTP/1.1 200 OK\r\n\r\n\x16\x03\x03"),
	}, 0)
	st := c.Stats()
	if c.Err() != nil || st.Unpaired != 1 || st.Tunnels != 1 || st.Requests != 1 || st.Responses != 2 ||
		st.SkippedBytes != 6 || st.Bytes != [2]int64{29, 60} {
		t.Errorf("err %v, stats %+v", c.Err(), st)
	}
}
