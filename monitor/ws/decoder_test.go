package ws_test

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// frame encodes one frame; a nil key leaves it unmasked.
func frame(fin bool, rsv byte, op ws.Opcode, key []byte, payload []byte) []byte {
	b0 := byte(op) | rsv<<4
	if fin {
		b0 |= 0x80
	}
	var b []byte
	n := len(payload)
	var m byte
	if key != nil {
		m = 0x80
	}
	switch {
	case n < 126:
		b = append(b, b0, m|byte(n))
	case n < 1<<16:
		b = append(b, b0, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, b0, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if key == nil {
		return append(b, payload...)
	}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

var key = []byte{0x12, 0x34, 0x56, 0x78}

// deflateMsg compresses msg as permessage-deflate does with w (sync flush,
// tail removed).
func deflateMsg(t testing.TB, w *flate.Writer, buf *bytes.Buffer, msg []byte) []byte {
	buf.Reset()
	if _, err := w.Write(msg); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(buf.Bytes())
	if !bytes.HasSuffix(out, []byte{0, 0, 0xff, 0xff}) {
		t.Fatal("flush did not end in the empty stored block")
	}
	return out[:len(out)-4]
}

type got struct {
	msgs []ws.Message
}

func (g *got) emit(m *ws.Message) {
	c := *m
	c.Payload = bytes.Clone(m.Payload)
	c.CloseReason = bytes.Clone(m.CloseReason)
	g.msgs = append(g.msgs, c)
}

func TestFragmentsControlAndSpans(t *testing.T) {
	var stream_ []byte
	stream_ = append(stream_, frame(false, 0, ws.OpText, key, []byte("hel"))...)
	stream_ = append(stream_, frame(true, 0, ws.OpPing, key, []byte("p1"))...)
	stream_ = append(stream_, frame(false, 0, ws.OpContinuation, key, []byte("lo "))...)
	stream_ = append(stream_, frame(true, 0, ws.OpContinuation, key, []byte("world"))...)
	stream_ = append(stream_, frame(true, 0, ws.OpBinary, key, bytes.Repeat([]byte{7}, 70000))...)
	stream_ = append(stream_, frame(true, 0, ws.OpClose, key, append([]byte{0x03, 0xe9}, "going"...))...)

	var g got
	d := ws.NewDecoder(stream.ClientToServer, ws.Config{}, g.emit)
	// Piece i covers bytes [10i, 10i+10) and has span {100i, 100i+50}.
	for i := 0; i*10 < len(stream_); i++ {
		end := min(len(stream_), i*10+10)
		d.Feed(stream_[i*10:end], stream.Span{FirstNS: int64(100 * i), LastNS: int64(100*i + 50)})
	}
	if d.Err() != nil {
		t.Fatal(d.Err())
	}
	if len(g.msgs) != 4 {
		t.Fatalf("%d messages, want 4", len(g.msgs))
	}
	ping, text, bin, cl := g.msgs[0], g.msgs[1], g.msgs[2], g.msgs[3]
	if ping.Opcode != ws.OpPing || !ping.Control || string(ping.Payload) != "p1" || ping.Offset != 9 ||
		ping.Span != (stream.Span{FirstNS: 0, LastNS: 150}) {
		t.Errorf("ping %+v", ping)
	}
	// text: first byte at 0 (piece 0), last byte at offset 9+8+9+11-1=36 (piece 3)
	if text.Opcode != ws.OpText || string(text.Payload) != "hello world" || text.Frames != 3 || !text.Masked ||
		text.Span != (stream.Span{FirstNS: 0, LastNS: 350}) || text.WireBytes != 9+9+11 {
		t.Errorf("text %+v", text)
	}
	if bin.Opcode != ws.OpBinary || len(bin.Payload) != 70000 || bin.Offset != 37 || bin.WireBytes != 14+70000 {
		t.Errorf("binary %v %d %d %d", bin.Opcode, len(bin.Payload), bin.Offset, bin.WireBytes)
	}
	if cl.Opcode != ws.OpClose || cl.CloseCode != 1001 || string(cl.CloseReason) != "going" {
		t.Errorf("close %+v", cl)
	}
	if st := d.Stats(); st.Frames != 6 || st.Messages != 2 || st.ControlFrames != 2 || st.UnexpectedMasks != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestErrors(t *testing.T) {
	big := bytes.Repeat([]byte("a"), 1000)
	var zbuf bytes.Buffer
	zw, _ := flate.NewWriter(&zbuf, flate.BestCompression)
	compressedBig := deflateMsg(t, zw, &zbuf, big)
	deflate := ws.Config{Deflate: ws.Deflate{Enabled: true}}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	for _, tc := range []struct {
		name  string
		cfg   ws.Config
		in    []byte
		err   error
		want  string
		count int // messages before the error
	}{
		{"rsv2", ws.Config{}, frame(true, 2, ws.OpText, key, nil), ws.ErrProtocol, "byte 0: reserved bits RSV2/RSV3 set", 0},
		{"rsv1 without deflate", ws.Config{}, frame(true, 4, ws.OpText, key, []byte("x")), ws.ErrProtocol, "byte 0: RSV1 set without permessage-deflate", 0},
		{"reserved opcode", ws.Config{}, cat(frame(true, 0, ws.OpText, key, []byte("ok")), frame(true, 0, 3, key, nil)), ws.ErrProtocol, "byte 8: reserved opcode 0x3", 1},
		{"fragmented ping", ws.Config{}, frame(false, 0, ws.OpPing, key, nil), ws.ErrProtocol, "fragmented ping frame", 0},
		{"long ping", ws.Config{}, frame(true, 0, ws.OpPing, key, make([]byte, 126)), ws.ErrProtocol, "ping frame payload of 126 bytes exceeds 125", 0},
		{"lone continuation", ws.Config{}, frame(true, 0, ws.OpContinuation, key, []byte("x")), ws.ErrProtocol, "continuation frame without a message", 0},
		{"text in fragmented", ws.Config{}, cat(frame(false, 0, ws.OpText, key, []byte("x")), frame(true, 0, ws.OpText, key, nil)), ws.ErrProtocol, "byte 7: new text frame inside a fragmented message", 0},
		{"64-bit top bit", ws.Config{}, []byte{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, ws.ErrProtocol, "top bit set", 0},
		{"too large", ws.Config{MaxMessage: 10}, cat(frame(false, 0, ws.OpText, key, []byte("12345678")), frame(true, 0, ws.OpContinuation, key, []byte("abc"))), ws.ErrTooLarge, "byte 14: message of more than 10 bytes", 0},
		{"bad deflate", deflate, frame(true, 4, ws.OpText, key, []byte{0xff, 0xff, 0xff}), ws.ErrInflate, "byte 0: inflating", 0},
		{"inflated too large", ws.Config{Deflate: ws.Deflate{Enabled: true}, MaxMessage: 100}, frame(true, 4, ws.OpBinary, key, compressedBig), ws.ErrTooLarge, "inflated message of more than 100 bytes", 0},
		{"bad window bits", ws.Config{Deflate: ws.Deflate{Enabled: true, ServerMaxWindowBits: 7}}, frame(true, 0, ws.OpText, key, nil), nil, "max_window_bits 7 is outside 8..15", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{len(tc.in), 1} {
				var g got
				d := ws.NewDecoder(stream.ClientToServer, tc.cfg, g.emit)
				for i := 0; i < len(tc.in); i += step {
					d.Feed(tc.in[i:min(len(tc.in), i+step)], stream.Span{})
				}
				d.Feed([]byte("trailing junk"), stream.Span{})
				err := d.Err()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("step %d: error %v, want it to contain %q", step, err, tc.want)
				}
				if tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Errorf("error %v is not %v", err, tc.err)
					}
					if !strings.HasPrefix(err.Error(), "ws: c2s byte ") {
						t.Errorf("error %q is not positioned", err)
					}
				}
				if len(g.msgs) != tc.count {
					t.Errorf("%d messages before the error, want %d", len(g.msgs), tc.count)
				}
				if st := d.Stats(); st.SkippedBytes < int64(len("trailing junk")) {
					t.Errorf("skipped %d bytes after the error", st.SkippedBytes)
				}
			}
		})
	}
}

// TestDeflateTakeover inflates a stream compressed by compress/flate with
// and without context takeover, and checks that a decoder without the
// window cannot read the context-takeover stream.
func TestDeflateTakeover(t *testing.T) {
	msgs := [][]byte{
		[]byte(strings.Repeat(`{"e":"trade","s":"BTCUSDT","p":"60000.01"}`, 3)),
		[]byte(`{"e":"trade","s":"BTCUSDT","p":"60000.01"}{"e":"trade","s":"ETHUSDT"}`),
		bytes.Repeat([]byte("xyz"), 20000), // longer than the window
		[]byte(`{"e":"trade","s":"BTCUSDT","p":"60000.01"}`),
	}
	for _, takeover := range []bool{true, false} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		var in []byte
		for _, m := range msgs {
			if !takeover {
				w.Reset(&buf)
			}
			in = append(in, frame(true, 4, ws.OpText, nil, deflateMsg(t, w, &buf, m))...)
		}
		cfg := ws.Config{Deflate: ws.Deflate{Enabled: true, ServerNoContextTakeover: !takeover}}
		var g got
		d := ws.NewDecoder(stream.ServerToClient, cfg, g.emit)
		d.Feed(in, stream.Span{})
		if d.Err() != nil {
			t.Fatalf("takeover %v: %v", takeover, d.Err())
		}
		if len(g.msgs) != len(msgs) {
			t.Fatalf("takeover %v: %d messages", takeover, len(g.msgs))
		}
		for i := range msgs {
			if !bytes.Equal(g.msgs[i].Payload, msgs[i]) || !g.msgs[i].Compressed {
				t.Errorf("takeover %v: message %d differs", takeover, i)
			}
		}
		if takeover {
			cfg.Deflate.ServerNoContextTakeover = true
			g = got{}
			d := ws.NewDecoder(stream.ServerToClient, cfg, g.emit)
			d.Feed(in, stream.Span{})
			if d.Err() == nil && len(g.msgs) == len(msgs) && bytes.Equal(g.msgs[1].Payload, msgs[1]) {
				t.Error("a context-takeover stream decoded without the window")
			}
		}
	}
}

// TestNoAllocs proves that parsing and unmasking uncompressed frames does
// not allocate once the buffers have grown.
func TestNoAllocs(t *testing.T) {
	var in []byte
	for i := 0; i < 10; i++ {
		in = append(in, frame(true, 0, ws.OpText, key, bytes.Repeat([]byte("tick "), 60+i))...)
		in = append(in, frame(false, 0, ws.OpBinary, key, make([]byte, 300))...)
		in = append(in, frame(true, 0, ws.OpPing, key, []byte("hb"))...)
		in = append(in, frame(true, 0, ws.OpContinuation, key, make([]byte, 70000))...)
	}
	n := 0
	d := ws.NewDecoder(stream.ClientToServer, ws.Config{}, func(m *ws.Message) { n++ })
	feed := func() {
		for i := 0; i < len(in); i += 1448 {
			d.Feed(in[i:min(len(in), i+1448)], stream.Span{FirstNS: 1, LastNS: 2})
		}
	}
	feed()
	if a := testing.AllocsPerRun(20, feed); a != 0 {
		t.Errorf("%v allocations per run, want 0", a)
	}
	// One warm-up feed and 21 by AllocsPerRun, 30 messages each.
	if d.Err() != nil || n != 22*30 {
		t.Fatalf("err %v, %d messages", d.Err(), n)
	}
}

// TestDeflateAllocs reports (and bounds) allocations per compressed
// message once the inflater is warm.
func TestDeflateAllocs(t *testing.T) {
	for _, takeover := range []bool{true, false} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestSpeed)
		var in []byte
		for i := 0; i < 50; i++ {
			if !takeover {
				w.Reset(&buf)
			}
			in = append(in, frame(true, 4, ws.OpText, key, deflateMsg(t, w, &buf, []byte(strings.Repeat(`{"e":"trade","p":"1.0"}`, 10+i%3))))...)
		}
		cfg := ws.Config{Deflate: ws.Deflate{Enabled: true, ClientNoContextTakeover: !takeover}}
		// Each run decodes the same 50 messages with a fresh window
		// history, so use one decoder per run of a fresh stream.
		d := ws.NewDecoder(stream.ClientToServer, cfg, func(*ws.Message) {})
		if !takeover {
			d.Feed(in, stream.Span{})
			a := testing.AllocsPerRun(20, func() { d.Feed(in, stream.Span{}) })
			t.Logf("no context takeover: %.2f allocations per message", a/50)
			if a/50 > 1 {
				t.Errorf("%.2f allocations per message", a/50)
			}
			if d.Err() != nil {
				t.Fatal(d.Err())
			}
			continue
		}
		a := testing.AllocsPerRun(20, func() {
			d := ws.NewDecoder(stream.ClientToServer, cfg, func(*ws.Message) {})
			d.Feed(in, stream.Span{})
			if d.Err() != nil {
				t.Fatal(d.Err())
			}
		})
		t.Logf("context takeover: %.2f allocations per 50-message stream, including the decoder", a)
		if a > 40 {
			t.Errorf("%v allocations for a 50-message stream", a)
		}
	}
}
