package ws_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/httpdec"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
	"github.com/cloudpcap/cloudpcap/monitor/ws/internal/wsrec"
)

// event is a decoded HTTP or WebSocket message, copied out of the decoder.
type event struct {
	Dir  stream.Dir
	HTTP bool
	// HTTP
	Start  string
	Header []string
	Seq    int64
	// WebSocket
	Op          ws.Opcode
	Payload     []byte
	Compressed  bool
	Frames      int
	WireBytes   int64
	Offset      int64
	CloseCode   uint16
	CloseReason string
	Span        stream.Span
}

type collector struct{ events []event }

func (c *collector) HTTP(m *httpdec.Message) {
	e := event{Dir: m.Dir, HTTP: true, Span: m.Span, Seq: m.Seq, Offset: m.Offset, WireBytes: m.WireBytes}
	if m.IsRequest {
		e.Start = string(m.Method) + " " + string(m.Target) + " HTTP/" + strconv.Itoa(m.ProtoMajor) + "." + strconv.Itoa(m.ProtoMinor)
	} else {
		e.Start = "HTTP/" + strconv.Itoa(m.ProtoMajor) + "." + strconv.Itoa(m.ProtoMinor) + " " + strconv.Itoa(m.StatusCode) + " " + string(m.Reason)
	}
	for _, f := range m.Header {
		e.Header = append(e.Header, string(f.Name)+": "+string(f.Value))
	}
	e.Payload = bytes.Clone(m.Body)
	c.events = append(c.events, e)
}

func (c *collector) WebSocket(dir stream.Dir, m *ws.Message) {
	c.events = append(c.events, event{
		Dir: dir, Op: m.Opcode, Payload: bytes.Clone(m.Payload), Compressed: m.Compressed,
		Frames: m.Frames, WireBytes: m.WireBytes, Offset: m.Offset, CloseCode: m.CloseCode,
		CloseReason: string(m.CloseReason), Span: m.Span,
	})
}

// decode feeds the pieces to one httpdec.Conn; cut, when not nil, returns
// the sizes into which a piece of n bytes is split (all with the piece's
// span).
func decode(t testing.TB, pieces []wsrec.Piece, cut func(n int) []int) ([]event, *httpdec.Conn) {
	t.Helper()
	col := &collector{}
	c := httpdec.NewConn(httpdec.Config{WS: ws.Config{MaxMessage: 64 << 20}}, col)
	for _, p := range pieces {
		span := stream.Span{FirstNS: p.TS, LastNS: p.TS}
		if cut == nil {
			c.Feed(p.Dir, p.Data, span)
			continue
		}
		b := p.Data
		for _, n := range cut(len(b)) {
			c.Feed(p.Dir, b[:n], span)
			b = b[n:]
		}
	}
	c.Close(pieces[len(pieces)-1].TS)
	return col.events, c
}

func oneByte(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = 1
	}
	return s
}

func randomCuts(seed uint64) func(int) []int {
	rng := rand.New(rand.NewPCG(seed, 1))
	return func(n int) []int {
		var s []int
		for n > 0 {
			k := 1 + rng.IntN(min(n, 1+rng.IntN(300)))
			s = append(s, k)
			n -= k
		}
		return s
	}
}

func text(seed uint64, n int) []byte { return wsrec.Payload(seed, n, true) }
func bin(seed uint64, n int) []byte  { return wsrec.Payload(seed, n, false) }

func sessions() []wsrec.Session {
	jsonish := func(i int) []byte {
		// Over 128 bytes and alike, so that a compressor keeping its
		// context refers back into earlier messages.
		return []byte(fmt.Sprintf(`{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":%d,"s":"BTCUSDT","U":%d,"u":%d,"b":[["%d.01","0.0%d"]],"a":[["%d.02","1.5%d"]]}}`,
			1700000000000+i, 4000+i, 4001+i, 60000+i%7, i%9, 60001+i%5, i%4))
	}
	var jsonSteps []wsrec.Step
	for i := 0; i < 12; i++ {
		jsonSteps = append(jsonSteps, wsrec.Step{Op: ws.OpText, Payload: jsonish(i)})
	}
	mixed := func(lib string, seed uint64) ([]wsrec.Step, []wsrec.Step) {
		client := []wsrec.Step{
			{Op: ws.OpText, Payload: []byte("hello")},
			{Op: ws.OpBinary, Payload: bin(seed, 100<<10)}, // 64-bit length
			{Op: ws.OpText, Payload: text(seed+1, 300)},    // 16-bit length
			{Op: ws.OpPing},
			{Op: ws.OpText, Payload: text(seed+2, 9000), Pieces: 4, PingInside: true},
			{Op: ws.OpBinary, Payload: []byte{}},
			{Op: ws.OpText, Payload: text(seed+3, 125)},
			{Op: ws.OpText, Payload: text(seed+4, 126)},
			{Op: ws.OpBinary, Payload: bin(seed+5, 65535)},
			{Op: ws.OpBinary, Payload: bin(seed+6, 65536)},
		}
		server := []wsrec.Step{
			{Op: ws.OpText, Payload: []byte("welcome")},
			{Op: ws.OpPing},
			{Op: ws.OpBinary, Payload: bin(seed+7, 70000), Pieces: 3, PingInside: true},
			{Op: ws.OpText, Payload: text(seed+8, 200<<10)},
		}
		return client, server
	}
	var out []wsrec.Session
	for _, lib := range []string{"coder", "gorilla"} {
		comps := []string{"", "nocontext"}
		if lib == "coder" {
			comps = append(comps, "context")
		}
		for i, comp := range comps {
			c, s := mixed(lib, uint64(10*i+1))
			name := lib + "-" + comp
			if comp == "" {
				name = lib + "-plain"
			}
			out = append(out, wsrec.Session{Name: name, Lib: lib, Compression: comp, WriteBuffer: 1024, Threshold: 64,
				Client: append(c, jsonSteps...), Server: append(append([]wsrec.Step{}, jsonSteps...), s...)})
		}
	}
	return out
}

// TestLibraries records coder/websocket and gorilla/websocket sessions over
// loopback and checks that every message each side sent is decoded exactly,
// whole, in random pieces and one byte at a time.
func TestLibraries(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		// wsrec.Run stops its server and connections before returning;
		// give exiting goroutines a moment, polling, then count.
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			t.Errorf("%d goroutines left running, %d before", n, before)
		}
	})
	for _, s := range append(sessions(), wsrec.Fixtures()...) {
		t.Run(s.Name, func(t *testing.T) {
			res, err := wsrec.Run(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			events, conn := decode(t, res.Pieces, nil)
			if err := conn.Err(); err != nil {
				t.Fatalf("decode: %v", err)
			}
			checkSession(t, s, res, events)
			st := conn.Stats()
			t.Logf("%d pieces; c2s %d frames %d messages %d control %d compressed; s2c %d frames %d messages %d control %d compressed",
				len(res.Pieces), st.WS[0].Frames, st.WS[0].Messages, st.WS[0].ControlFrames, st.WS[0].Compressed,
				st.WS[1].Frames, st.WS[1].Messages, st.WS[1].ControlFrames, st.WS[1].Compressed)
			if cfg, ok := conn.WebSocket(); !ok || cfg.Deflate.Enabled != (s.Compression != "") ||
				cfg.Deflate.ServerNoContextTakeover != (s.Compression == "nocontext") ||
				cfg.Deflate.ClientNoContextTakeover != (s.Compression == "nocontext") {
				t.Errorf("negotiated config %+v, upgraded %v; want compression %q", cfg, ok, s.Compression)
			}
			for i, cut := range []func(int) []int{randomCuts(uint64(len(s.Name))), randomCuts(99), oneByte} {
				got, c2 := decode(t, res.Pieces, cut)
				if err := c2.Err(); err != nil {
					t.Fatalf("split %d: %v", i, err)
				}
				if msg := diffEvents(events, got); msg != "" {
					t.Fatalf("split %d: %s", i, msg)
				}
			}
		})
	}
}

func diffEvents(want, got []event) string {
	if len(want) != len(got) {
		return fmt.Sprintf("%d events, want %d", len(got), len(want))
	}
	for i := range want {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Payload, g.Payload) {
			return fmt.Sprintf("event %d: payload differs", i)
		}
		w.Payload, g.Payload = nil, nil
		if fmt.Sprint(w) != fmt.Sprint(g) {
			return fmt.Sprintf("event %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	return ""
}

func checkSession(t *testing.T, s wsrec.Session, res *wsrec.Result, events []event) {
	t.Helper()
	var httpEvents []event
	var byDir [2][]event
	pongs := [2]map[string]int{{}, {}}
	compressed := 0
	for _, e := range events {
		if e.HTTP {
			httpEvents = append(httpEvents, e)
			continue
		}
		if e.Span.FirstNS > e.Span.LastNS || e.Span.FirstNS < wsrec.TSBase {
			t.Errorf("%s %s: bad span %+v", e.Dir, e.Op, e.Span)
		}
		if e.Compressed {
			compressed++
		}
		if e.Op == ws.OpPong {
			pongs[e.Dir][string(e.Payload)]++
			continue
		}
		byDir[e.Dir] = append(byDir[e.Dir], e)
	}
	if len(httpEvents) != 2 || !strings.HasPrefix(httpEvents[0].Start, "GET /ws HTTP/1.1") ||
		!strings.HasPrefix(httpEvents[1].Start, "HTTP/1.1 101 ") || httpEvents[1].Seq != 0 {
		t.Fatalf("HTTP events %+v, want the upgrade request and its 101", httpEvents)
	}
	for d := range byDir {
		dir := stream.Dir(d)
		sent := res.Sent[d]
		got := byDir[d]
		// The side that did not start the close answers it.
		if dir == stream.ServerToClient {
			sent = append(append([]wsrec.Sent{}, sent...), wsrec.Sent{Op: ws.OpClose})
		}
		if len(got) != len(sent) {
			t.Fatalf("%s: decoded %d messages (without pongs), sent %d", dir, len(got), len(sent))
		}
		for i, w := range sent {
			g := got[i]
			if g.Op != w.Op {
				t.Fatalf("%s message %d: opcode %s, want %s", dir, i, g.Op, w.Op)
			}
			if w.Op == ws.OpClose {
				if g.CloseCode != 1000 {
					t.Errorf("%s close code %d, want 1000", dir, g.CloseCode)
				}
				if w.Payload != nil && !bytes.Equal(g.Payload, w.Payload) {
					t.Errorf("%s close payload %q, want %q", dir, g.Payload, w.Payload)
				}
				continue
			}
			if !bytes.Equal(g.Payload, w.Payload) {
				t.Fatalf("%s message %d (%s, %d bytes): payload of %d bytes differs", dir, i, w.Op, len(w.Payload), len(g.Payload))
			}
			if w.Pieces > 1 && len(w.Payload) > 2*s.WriteBuffer && g.Frames < 2 {
				t.Errorf("%s message %d: sent in %d pieces but decoded from %d frame", dir, i, w.Pieces, g.Frames)
			}
			if w.Op == ws.OpPing {
				if pongs[dir.Reverse()][string(w.Payload)] == 0 {
					t.Errorf("%s ping %q: no pong decoded in the other direction", dir, w.Payload)
				}
				pongs[dir.Reverse()][string(w.Payload)]--
			}
		}
	}
	if (compressed > 0) != (s.Compression != "") {
		t.Errorf("%d compressed messages decoded with compression %q", compressed, s.Compression)
	}
}

func payloadSummary(p []byte) string {
	sum := sha256.Sum256(p)
	head := p
	if len(head) > 40 {
		head = head[:40]
	}
	return strconv.Itoa(len(p)) + " bytes sha256:" + hex.EncodeToString(sum[:6]) + " " + strconv.Quote(string(head))
}
