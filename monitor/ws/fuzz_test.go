package ws_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
	"github.com/cloudpcap/cloudpcap/monitor/ws/internal/wsrec"
)

// wsBytes returns the bytes of each direction after the HTTP upgrade.
func wsBytes(pieces []wsrec.Piece) [2][]byte {
	var all [2][]byte
	for _, p := range pieces {
		all[p.Dir] = append(all[p.Dir], p.Data...)
	}
	for d := range all {
		if i := bytes.Index(all[d], []byte("\r\n\r\n")); i >= 0 {
			all[d] = all[d][i+4:]
		}
	}
	return all
}

func fuzzDecode(in []byte, dir stream.Dir, cfg ws.Config, step int) string {
	var b bytes.Buffer
	d := ws.NewDecoder(dir, cfg, func(m *ws.Message) {
		fmt.Fprintf(&b, "%v %q %v %d %d %d %v %d %q\n", m.Opcode, m.Payload, m.Span, m.Frames, m.WireBytes, m.Offset, m.Compressed, m.CloseCode, m.CloseReason)
	})
	for i := 0; i < len(in); i += step {
		// Spans depend on the cuts; the recorded-session tests check them.
		d.Feed(in[i:min(len(in), i+step)], stream.Span{FirstNS: 1, LastNS: 2})
	}
	fmt.Fprintf(&b, "err=%v partial=%v", d.Err(), d.Partial())
	return b.String()
}

// FuzzDecoder checks that no input panics the frame parser or the
// inflater, that memory stays bounded, and that cutting the input
// differently never changes what is decoded.
func FuzzDecoder(f *testing.F) {
	for _, ps := range fixtures(f) {
		b := wsBytes(ps)
		f.Add(b[0], uint8(0), uint8(3))
		f.Add(b[1], uint8(1), uint8(1))
		f.Add(b[0], uint8(2), uint8(17))
	}
	var zb bytes.Buffer
	zw, _ := flate.NewWriter(&zb, flate.BestSpeed)
	zw.Write([]byte("hello hello hello"))
	zw.Flush()
	f.Add(frame(true, 4, ws.OpText, key, zb.Bytes()[:zb.Len()-4]), uint8(3), uint8(2))
	f.Add(frame(false, 0, ws.OpText, nil, []byte("ab")), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, in []byte, mode, step uint8) {
		cfg := ws.Config{MaxMessage: 1 << 16}
		if mode&1 != 0 {
			cfg.Deflate.Enabled = true
			cfg.Deflate.ClientNoContextTakeover = mode&2 != 0
			cfg.Deflate.ClientMaxWindowBits = 8 + int(mode>>2)%8
		}
		whole := fuzzDecode(in, stream.ClientToServer, cfg, len(in)+1)
		split := fuzzDecode(in, stream.ClientToServer, cfg, 1+int(step))
		if whole != split {
			t.Fatalf("cut into %d-byte pieces:\n%s\nwhole:\n%s", 1+int(step), split, whole)
		}
	})
}
