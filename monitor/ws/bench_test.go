package ws_test

import (
	"bytes"
	"compress/flate"
	"fmt"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

func tickJSON(i int) []byte {
	return []byte(fmt.Sprintf(`{"stream":"btcusdt@depth","data":{"e":"depthUpdate","E":%d,"s":"BTCUSDT","U":%d,"u":%d,"b":[["%d.01","0.%03d"]],"a":[["%d.02","1.%03d"]]}}`,
		1700000000000+i, 4000+i, 4001+i, 60000+i%97, i%1000, 60001+i%89, (i*7)%1000))
}

// feedAll feeds in as TCP-segment-sized pieces.
func feedAll(d *ws.Decoder, in []byte) {
	for i := 0; i < len(in); i += 1448 {
		d.Feed(in[i:min(len(in), i+1448)], stream.Span{FirstNS: int64(i), LastNS: int64(i)})
	}
}

func benchStream(b *testing.B, in []byte, frames int, cfg ws.Config, dir stream.Dir) {
	var payload int64
	d := ws.NewDecoder(dir, cfg, func(m *ws.Message) { payload += int64(len(m.Payload)) })
	feedAll(d, in) // warm the buffers
	if d.Err() != nil {
		b.Fatal(d.Err())
	}
	payload = 0
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		feedAll(d, in)
	}
	b.StopTimer()
	if d.Err() != nil {
		b.Fatal(d.Err())
	}
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(frames*b.N)/sec, "frames/s")
	b.ReportMetric(float64(payload)/sec/1e6, "payloadMB/s")
}

// BenchmarkUncompressed decodes masked client frames of market-data size.
func BenchmarkUncompressed(b *testing.B) {
	for _, size := range []int{64, 256, 4096, 1 << 20} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			n := max(1, (1<<20)/size)
			p := bytes.Repeat([]byte("x"), size)
			var in []byte
			for i := 0; i < n; i++ {
				in = append(in, frame(true, 0, ws.OpText, key, p)...)
			}
			benchStream(b, in, n, ws.Config{}, stream.ClientToServer)
		})
	}
}

// BenchmarkCompressed decodes permessage-deflate server messages with and
// without context takeover.
func BenchmarkCompressed(b *testing.B) {
	for _, takeover := range []bool{true, false} {
		b.Run(map[bool]string{true: "takeover", false: "no_context_takeover"}[takeover], func(b *testing.B) {
			const n = 1000
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, flate.BestSpeed)
			var in []byte
			for i := 0; i < n; i++ {
				if !takeover {
					w.Reset(&buf)
				}
				in = append(in, frame(true, 4, ws.OpText, nil, deflateMsg(b, w, &buf, tickJSON(i)))...)
			}
			cfg := ws.Config{Deflate: ws.Deflate{Enabled: true, ServerNoContextTakeover: !takeover}}
			if takeover {
				// The window must restart with the stream: a fresh
				// decoder per pass, its cost included.
				var payload int64
				b.SetBytes(int64(len(in)))
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					d := ws.NewDecoder(stream.ServerToClient, cfg, func(m *ws.Message) { payload += int64(len(m.Payload)) })
					feedAll(d, in)
					if d.Err() != nil {
						b.Fatal(d.Err())
					}
				}
				sec := b.Elapsed().Seconds()
				b.ReportMetric(float64(n*b.N)/sec, "frames/s")
				b.ReportMetric(float64(payload)/sec/1e6, "payloadMB/s")
				return
			}
			benchStream(b, in, n, cfg, stream.ServerToClient)
		})
	}
}
