package httpdec_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// recorder keeps the writes of wrapped connections, per TCP connection
// and in write order; each write gets the next synthetic capture time.
type recorder struct {
	mu     sync.Mutex
	clock  int64
	pieces map[stream.ConnKey][]recPiece
	order  []stream.ConnKey
}

type recPiece struct {
	dir  stream.Dir
	ts   int64
	data []byte
}

type recConn struct {
	net.Conn
	r   *recorder
	key stream.ConnKey
	dir stream.Dir
}

func (c *recConn) Write(b []byte) (int, error) {
	c.r.mu.Lock()
	c.r.clock += 1000
	if _, ok := c.r.pieces[c.key]; !ok {
		c.r.order = append(c.r.order, c.key)
	}
	c.r.pieces[c.key] = append(c.r.pieces[c.key], recPiece{c.dir, c.r.clock, bytes.Clone(b)})
	c.r.mu.Unlock()
	return c.Conn.Write(b)
}

func (r *recorder) wrap(c net.Conn, dir stream.Dir) net.Conn {
	l := c.LocalAddr().(*net.TCPAddr).AddrPort()
	p := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	k := stream.ConnKey{Client: l, Server: p}
	if dir == stream.ServerToClient {
		k = stream.ConnKey{Client: p, Server: l}
	}
	return &recConn{Conn: c, r: r, key: k, dir: dir}
}

type recListener struct {
	net.Listener
	r *recorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.r.wrap(c, stream.ServerToClient), nil
}

// exchange is what a client sent and received.
type exchange struct {
	method, path string
	reqBody      string
	status       int
	respBody     string
}

func handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/cl", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello content-length") })
	mux.HandleFunc("/chunked", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "part %d;", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/head", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "11")
		io.WriteString(w, "hello world")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/notmod", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNotModified) })
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	})
	return mux
}

// checkGoroutines fails if the goroutine count does not fall back to
// before within a few seconds.
func checkGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			t.Errorf("%d goroutines left running, %d before", runtime.NumGoroutine(), before)
			return
		}
		runtime.Gosched()
		time.Sleep(time.Millisecond) // polling interval, not a synchronisation
	}
}

// recordHTTP runs a keep-alive net/http client and a hand-written
// pipelining client against a net/http server over loopback.
func recordHTTP(t *testing.T) (*recorder, [][]exchange) {
	before := runtime.NumGoroutine()
	rec := &recorder{pieces: map[stream.ConnKey][]recPiece{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: handler(), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); srv.Serve(recListener{ln, rec}) }()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			var d net.Dialer
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return rec.wrap(c, stream.ClientToServer), nil
		},
		MaxConnsPerHost:    1,
		DisableCompression: true,
	}
	t.Cleanup(func() {
		tr.CloseIdleConnections()
		srv.Close()
		<-served
		checkGoroutines(t, before)
	})
	base := "http://" + ln.Addr().String()
	var keepalive []exchange
	do := func(method, path string, body io.Reader, reqBody string) {
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		keepalive = append(keepalive, exchange{method, path, reqBody, resp.StatusCode, string(b)})
	}
	do("GET", "/cl", nil, "")
	do("GET", "/chunked", nil, "")
	do("HEAD", "/head", nil, "")
	do("GET", "/empty", nil, "")
	do("POST", "/echo", strings.NewReader(`{"symbol":"BTCUSDT"}`), `{"symbol":"BTCUSDT"}`)
	// A body of unknown length goes chunked.
	do("POST", "/echo", io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)), `{"a":1}`)
	do("GET", "/notmod", nil, "")
	do("GET", "/head", nil, "")

	// Pipelined requests, written at once by hand.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rc := rec.wrap(c, stream.ClientToServer)
	var pipelined []exchange
	var reqs []*http.Request
	var raw bytes.Buffer
	for _, x := range []exchange{{method: "GET", path: "/cl"}, {method: "HEAD", path: "/head"}, {method: "POST", path: "/echo", reqBody: "ping"}, {method: "GET", path: "/chunked"}} {
		req, _ := http.NewRequest(x.method, base+x.path, strings.NewReader(x.reqBody))
		if x.reqBody == "" {
			req.Body = nil
			req.ContentLength = 0
		}
		req.Write(&raw)
		reqs = append(reqs, req)
		pipelined = append(pipelined, x)
	}
	if _, err := rc.Write(raw.Bytes()); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i, req := range reqs {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		pipelined[i].status, pipelined[i].respBody = resp.StatusCode, string(b)
	}
	return rec, [][]exchange{keepalive, pipelined}
}

type msgs struct{ reqs, resps []*httpdec.Message }

func (m *msgs) HTTP(x *httpdec.Message) {
	c := *x
	c.Method, c.Target, c.Body, c.RequestMethod = bytes.Clone(x.Method), bytes.Clone(x.Target), bytes.Clone(x.Body), bytes.Clone(x.RequestMethod)
	c.Header, c.Trailer, c.Reason = nil, nil, bytes.Clone(x.Reason)
	if c.IsRequest {
		m.reqs = append(m.reqs, &c)
	} else {
		m.resps = append(m.resps, &c)
	}
}
func (m *msgs) WebSocket(stream.Dir, *ws.Message) {}

func decodeRec(t *testing.T, pieces []recPiece, cut func(int) []int) (*msgs, *httpdec.Conn) {
	m := &msgs{}
	c := httpdec.NewConn(httpdec.Config{}, m)
	for _, p := range pieces {
		sp := stream.Span{FirstNS: p.ts, LastNS: p.ts}
		b := p.data
		if cut == nil {
			c.Feed(p.dir, b, sp)
			continue
		}
		for _, n := range cut(len(b)) {
			c.Feed(p.dir, b[:n], sp)
			b = b[n:]
		}
	}
	c.Close(1 << 62)
	return m, c
}

func render(m *msgs) string {
	var b strings.Builder
	for _, r := range m.reqs {
		fmt.Fprintf(&b, "%s %s %q %v seq=%d off=%d wire=%d\n", r.Method, r.Target, r.Body, r.Span, r.Seq, r.Offset, r.WireBytes)
	}
	for _, r := range m.resps {
		fmt.Fprintf(&b, "%d %q %s %q %v %v seq=%d off=%d wire=%d\n", r.StatusCode, r.Reason, r.RequestMethod, r.Body, r.Span, r.RequestSpan, r.Seq, r.Offset, r.WireBytes)
	}
	return b.String()
}

// TestNetHTTP decodes keep-alive and pipelined exchanges recorded from
// net/http and compares them with what the client sent and read.
func TestNetHTTP(t *testing.T) {
	rec, want := recordHTTP(t)
	if len(rec.order) != 2 {
		t.Fatalf("%d connections recorded, want 2", len(rec.order))
	}
	for i, key := range rec.order {
		pieces := rec.pieces[key]
		got, c := decodeRec(t, pieces, nil)
		if err := c.Err(); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		x := want[i]
		if len(got.reqs) != len(x) || len(got.resps) != len(x) {
			t.Fatalf("connection %d: %d requests and %d responses, want %d", i, len(got.reqs), len(got.resps), len(x))
		}
		for j, e := range x {
			rq, rs := got.reqs[j], got.resps[j]
			if string(rq.Method) != e.method || string(rq.Target) != e.path || string(rq.Body) != e.reqBody || rq.Seq != int64(j) {
				t.Errorf("connection %d request %d: %s %s %q seq %d, want %+v", i, j, rq.Method, rq.Target, rq.Body, rq.Seq, e)
			}
			if rs.StatusCode != e.status || string(rs.Body) != e.respBody || rs.Seq != int64(j) || string(rs.RequestMethod) != e.method {
				t.Errorf("connection %d response %d: %d %q seq %d for %s, want %+v", i, j, rs.StatusCode, rs.Body, rs.Seq, rs.RequestMethod, e)
			}
			if rs.Span.FirstNS < rq.Span.FirstNS || rs.RequestSpan != rq.Span {
				t.Errorf("connection %d exchange %d: response span %v, request span %v, paired %v", i, j, rs.Span, rq.Span, rs.RequestSpan)
			}
			if e.path == "/chunked" && (!rs.Chunked || rs.Span.FirstNS == rs.Span.LastNS) {
				t.Errorf("connection %d exchange %d: chunked %v span %v, want chunked over several writes", i, j, rs.Chunked, rs.Span)
			}
		}
		whole := render(got)
		rng := rand.New(rand.NewPCG(uint64(i), 7))
		cuts := []func(int) []int{func(n int) []int {
			var s []int
			for n > 0 {
				k := 1 + rng.IntN(min(n, 40))
				s = append(s, k)
				n -= k
			}
			return s
		}, func(n int) []int {
			s := make([]int, n)
			for k := range s {
				s[k] = 1
			}
			return s
		}}
		for k, cut := range cuts {
			m, c := decodeRec(t, pieces, cut)
			if c.Err() != nil {
				t.Fatalf("connection %d split %d: %v", i, k, c.Err())
			}
			if got := render(m); got != whole {
				t.Fatalf("connection %d split %d:\n%s\nwant\n%s", i, k, got, whole)
			}
		}
	}
}
