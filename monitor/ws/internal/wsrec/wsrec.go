// Package wsrec records the bytes that real WebSocket libraries
// (coder/websocket and gorilla/websocket) write over loopback TCP, per
// direction and in write order, together with what each side meant to
// send, so that tests can decode the recording with monitor/httpdec and
// monitor/ws and compare. It also reads and writes the recording fixture
// format used in monitor/ws/testdata.
//
// Buffers: a Recording's pieces own their bytes.
package wsrec

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// Piece is what one Write call put on the wire. TS is a synthetic capture
// time: pieces are numbered in write order across both directions.
type Piece struct {
	Dir  stream.Dir
	TS   int64
	Data []byte
}

// Recorder collects the writes of wrapped connections.
type Recorder struct {
	mu     sync.Mutex
	pieces []Piece
}

// TSBase is the synthetic capture time of the first piece; each later piece
// is 1000 ns after the one before.
const TSBase = int64(1_700_000_000_000_000_000)

func (r *Recorder) add(dir stream.Dir, b []byte) {
	r.mu.Lock()
	ts := TSBase + int64(len(r.pieces))*1000
	r.pieces = append(r.pieces, Piece{Dir: dir, TS: ts, Data: bytes.Clone(b)})
	r.mu.Unlock()
}

// Pieces returns the pieces recorded so far.
func (r *Recorder) Pieces() []Piece {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Piece(nil), r.pieces...)
}

type recConn struct {
	net.Conn
	r   *Recorder
	dir stream.Dir
	mu  sync.Mutex
}

// Write records and sends under one lock, so that the recorded order of
// one direction is the order on the wire.
func (c *recConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(b) > 0 {
		c.r.add(c.dir, b)
	}
	return c.Conn.Write(b)
}

// Wrap returns c with its writes recorded as direction dir.
func (r *Recorder) Wrap(c net.Conn, dir stream.Dir) net.Conn {
	return &recConn{Conn: c, r: r, dir: dir}
}

type recListener struct {
	net.Listener
	r *Recorder
}

func (l recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return l.r.Wrap(c, stream.ServerToClient), nil
}

// Listener returns l with the writes of accepted connections recorded as
// server to client.
func (r *Recorder) Listener(l net.Listener) net.Listener { return recListener{l, r} }

// Marshal encodes pieces in the fixture format: "wsrec1\n", then per piece
// the direction (1 byte), the capture time (8 bytes, big endian), the
// length (4 bytes) and the bytes.
func Marshal(pieces []Piece) []byte {
	b := []byte("wsrec1\n")
	for _, p := range pieces {
		b = append(b, byte(p.Dir))
		b = binary.BigEndian.AppendUint64(b, uint64(p.TS))
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.Data)))
		b = append(b, p.Data...)
	}
	return b
}

// Unmarshal decodes Marshal's format.
func Unmarshal(b []byte) ([]Piece, error) {
	if !bytes.HasPrefix(b, []byte("wsrec1\n")) {
		return nil, errors.New("wsrec: not a recording (missing wsrec1 header)")
	}
	off := 7
	var ps []Piece
	for off < len(b) {
		if len(b)-off < 13 {
			return nil, fmt.Errorf("wsrec: byte %d: truncated piece header", off)
		}
		dir := b[off]
		ts := int64(binary.BigEndian.Uint64(b[off+1:]))
		n := int(binary.BigEndian.Uint32(b[off+9:]))
		if dir > 1 {
			return nil, fmt.Errorf("wsrec: byte %d: bad direction %d", off, dir)
		}
		off += 13
		if len(b)-off < n {
			return nil, fmt.Errorf("wsrec: byte %d: piece of %d bytes is truncated", off, n)
		}
		ps = append(ps, Piece{Dir: stream.Dir(dir), TS: ts, Data: bytes.Clone(b[off : off+n])})
		off += n
	}
	return ps, nil
}

// Step is one thing a side sends.
type Step struct {
	Op      ws.Opcode // text, binary or ping
	Payload []byte
	// Pieces > 1 sends the message through the library's streaming writer
	// in that many Write calls (fragments).
	Pieces int
	// PingInside sends a ping after the first piece of a streamed message.
	PingInside bool
}

// Session describes one recorded conversation: the client sends Client,
// the server reads it all and then sends Server, the client reads it all
// and closes with status 1000 "bye".
type Session struct {
	Name        string
	Lib         string // "coder" or "gorilla"
	Compression string // "", "context" (coder only) or "nocontext"
	// WriteBuffer sets gorilla's write buffer size (frames of streamed
	// messages are at most this long); 0 keeps the default.
	WriteBuffer int
	// Threshold sets coder's CompressionThreshold (smaller messages are
	// sent uncompressed); 0 keeps its default.
	Threshold int
	Client    []Step
	Server    []Step
}

// Sent is a message or ping that a side meant to send.
type Sent struct {
	Op      ws.Opcode
	Payload []byte
	Pieces  int
}

// Result is a recorded session.
type Result struct {
	Pieces []Piece
	Sent   [2][]Sent // per direction (index: stream.Dir), in order
}

// Payload returns n deterministic bytes from seed; text payloads are
// printable ASCII.
func Payload(seed uint64, n int, text bool) []byte {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	b := make([]byte, n)
	for i := range b {
		if text {
			// Words with some repetition, so that deflate has work to do.
			const alphabet = "abcdefghij klmnop {}\":,0123456789"
			b[i] = alphabet[rng.IntN(len(alphabet))]
		} else {
			b[i] = byte(rng.Uint32())
		}
	}
	return b
}

// Run records s over loopback TCP. It returns when both sides have
// closed and the server has stopped.
func Run(ctx context.Context, s Session) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	rec := &Recorder{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	var side peer
	switch s.Lib {
	case "coder":
		side = &coderPeer{}
	case "gorilla":
		side = &gorillaPeer{}
	default:
		ln.Close()
		return nil, fmt.Errorf("wsrec: unknown library %q", s.Lib)
	}
	res := &Result{}
	srvErr := make(chan error, 1)
	var srvOnce sync.Once
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			err := side.serve(ctx, w, r, s, &res.Sent[stream.ServerToClient])
			srvOnce.Do(func() { srvErr <- err })
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(rec.Listener(ln))
	}()
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return rec.Wrap(c, stream.ClientToServer), nil
	}
	cliErr := side.client(ctx, "ws://"+ln.Addr().String()+"/ws", dial, s, &res.Sent[stream.ClientToServer])
	var sErr error
	if cliErr == nil {
		select {
		case sErr = <-srvErr:
		case <-ctx.Done():
			sErr = ctx.Err()
		}
	}
	srv.Close()
	<-served
	if cliErr != nil {
		return nil, fmt.Errorf("wsrec: %s client: %w", s.Name, cliErr)
	}
	if sErr != nil {
		return nil, fmt.Errorf("wsrec: %s server: %w", s.Name, sErr)
	}
	res.Pieces = rec.Pieces()
	return res, nil
}

type peer interface {
	serve(ctx context.Context, w http.ResponseWriter, r *http.Request, s Session, sent *[]Sent) error
	client(ctx context.Context, url string, dial func(context.Context, string, string) (net.Conn, error), s Session, sent *[]Sent) error
}

// readN reads n data messages with next, which must also handle control
// frames, and fails if one cannot be read.
func readN(n int, next func() error) error {
	for i := 0; i < n; i++ {
		if err := next(); err != nil {
			return fmt.Errorf("reading message %d of %d: %w", i+1, n, err)
		}
	}
	return nil
}

func dataSteps(steps []Step) int {
	n := 0
	for _, st := range steps {
		if st.Op != ws.OpPing {
			n++
		}
	}
	return n
}

// split cuts p into n nearly equal pieces.
func split(p []byte, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, p[len(p)*i/n:len(p)*(i+1)/n])
	}
	return out
}

// Fixtures are the small sessions committed in monitor/ws/testdata as
// <Name>.wsrec (go run ./monitor/ws/internal/gen).
func Fixtures() []Session {
	tick := func(i int) []byte {
		return []byte(fmt.Sprintf(`{"e":"depthUpdate","E":%d,"s":"BTCUSDT","b":[["60000.%02d","0.5"]],"a":[["60001.%02d","1.25"]],"pad":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}`, 1700000000000+i, i, i))
	}
	var ticks []Step
	for i := 0; i < 4; i++ {
		ticks = append(ticks, Step{Op: ws.OpText, Payload: tick(i)})
	}
	return []Session{
		{
			Name: "coder-deflate", Lib: "coder", Compression: "context", Threshold: 64,
			Client: []Step{
				{Op: ws.OpText, Payload: []byte(`{"op":"subscribe","args":["btcusdt@depth"]}`)},
				{Op: ws.OpPing},
				{Op: ws.OpText, Payload: Payload(1, 600, true), Pieces: 3, PingInside: true},
				{Op: ws.OpBinary, Payload: Payload(2, 40, false)},
			},
			Server: ticks,
		},
		{
			Name: "gorilla-fragments", Lib: "gorilla", WriteBuffer: 256,
			Client: []Step{
				{Op: ws.OpText, Payload: Payload(3, 700, true), Pieces: 3, PingInside: true},
				{Op: ws.OpBinary, Payload: Payload(4, 300, false)},
				{Op: ws.OpPing},
			},
			Server: append([]Step{{Op: ws.OpPing}}, ticks...),
		},
		{
			Name: "gorilla-deflate", Lib: "gorilla", Compression: "nocontext",
			Client: []Step{{Op: ws.OpText, Payload: []byte(`{"op":"subscribe"}`)}},
			Server: ticks,
		},
	}
}
