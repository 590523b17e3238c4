package trader

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

// TestReadPathAllocs: reading a feed message, decoding it, checking its
// sequence and queueing it for the strategy allocates nothing per tick in
// steady state (over a plain ws:// loopback connection from a raw server).
func TestReadPathAllocs(t *testing.T) {
	const n = 3000
	msgs := make([][]byte, n+200)
	for i := range msgs {
		tk := format.Tick{Stream: "btcusdt@tick", Symbol: "BTCUSDT", Seq: uint64(i + 1), ExchNS: 1, Bid: 1, Ask: 2, Last: 1.5, Size: 1}
		msgs[i] = format.AppendLab(nil, &tk)
	}
	// A raw WebSocket server: handshake by hand, then pre-encoded frames,
	// so that its writes allocate nothing and only the trader's reads count.
	var frames []byte
	for _, m := range msgs {
		frames = append(frames, 0x81, 126, byte(len(m)>>8), byte(len(m)))
		frames = append(frames, m...)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		h := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "+
			base64.StdEncoding.EncodeToString(h[:])+"\r\n\r\n")
		c.Write(frames)
		io.Copy(io.Discard, c)
	}()

	cfg := baseConfig(&orderServer{url: "https://127.0.0.1:1"}, "ws://"+ln.Addr().String()+"/")
	cfg.Strategy, cfg.TickQueue, cfg.Deflate = "every", n+200, DeflateOff
	tr, err := New(cfg, discardLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	c := tr.clients[0]
	conn, name, err := c.dialFeed(context.Background(), cfg.Feeds[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseNow()
	fs := &feedState{url: cfg.Feeds[0], seqs: map[string]*streamSeqs{}}
	// readFeed's loop body, one message per call.
	var m tickMsg
	m.conn = name
	buf := make([]byte, 0, 4096)
	step := func() {
		_, r, err := conn.Reader(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if buf, err = readAll(r, buf[:0]); err != nil {
			t.Fatal(err)
		}
		if err := format.Parse(format.Lab, buf, &m.Tick.Tick); err != nil {
			t.Fatal(err)
		}
		c.checkSeq(fs, &m.Tick.Tick, name)
		select {
		case c.ticks <- m:
		default:
			t.Fatal("queue full")
		}
	}
	for range 100 {
		step()
	}
	if a := testing.AllocsPerRun(n, step); a > 0.01 {
		t.Errorf("%.3f allocs per tick on the read path", a)
	}
}
