package tcpflow

import (
	"bytes"
	"io"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// byteSink records a direction as bytes, gaps as zero bytes plus their
// ranges, and the capture time given to every byte.
type byteSink struct {
	buf    [2][]byte
	gaps   [2][][2]int // [start, end) in stream offsets
	ts     [2][]int64  // per byte
	closed bool
}

func (s *byteSink) Data(d stream.Dir, b []byte, ts int64) {
	s.buf[d] = append(s.buf[d], b...)
	for range b {
		s.ts[d] = append(s.ts[d], ts)
	}
}

func (s *byteSink) Gap(d stream.Dir, n int, ts int64) {
	at := len(s.buf[d])
	s.buf[d] = append(s.buf[d], make([]byte, n)...)
	for range n {
		s.ts[d] = append(s.ts[d], ts)
	}
	s.gaps[d] = append(s.gaps[d], [2]int{at, at + n})
}

func (s *byteSink) Close(int64) { s.closed = true }

// loadExchange reads the loopback exchange fixture: its packets (copied)
// and the bytes each side sent.
func loadExchange(t testing.TB) ([]capture.Packet, [2][]byte) {
	t.Helper()
	f, err := capture.Open("testdata/exchange.pcap")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var ps []capture.Packet
	for {
		var p capture.Packet
		err := f.ReadInto(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p.Payload = bytes.Clone(p.Payload)
		p.Data = nil
		ps = append(ps, p)
	}
	var want [2][]byte
	for i, name := range []string{"testdata/exchange.c2s", "testdata/exchange.s2c"} {
		if want[i], err = os.ReadFile(name); err != nil {
			t.Fatal(err)
		}
	}
	return ps, want
}

// isn returns each direction's first data sequence number (after SYN).
func isn(ps []capture.Packet) [2]uint32 {
	return [2]uint32{ps[0].Seq + 1, ps[1].Seq + 1}
}

func TestExchange(t *testing.T) {
	orig, want := loadExchange(t)
	if orig[0].Flags != capture.SYN || len(want[1]) < 64000 {
		t.Fatal("unexpected fixture")
	}
	start := isn(orig)
	dataIdx := func(ps []capture.Packet) []int {
		var idx []int
		for i, p := range ps {
			if len(p.Payload) > 0 {
				idx = append(idx, i)
			}
		}
		return idx
	}
	// Each rewrite permutes, duplicates or drops packets; timestamps stay
	// with the positions, so the capture stays in time order.
	tests := []struct {
		name    string
		rewrite func(rng *rand.Rand, ps []capture.Packet) []capture.Packet
		drops   bool
	}{
		{"as captured", func(_ *rand.Rand, ps []capture.Packet) []capture.Packet { return ps }, false},
		{"reordered", func(rng *rand.Rand, ps []capture.Packet) []capture.Packet {
			idx := dataIdx(ps)
			for k := 0; k+2 < len(idx); k += 2 + rng.IntN(3) {
				a, b := idx[k], idx[k+1+rng.IntN(2)]
				ps[a], ps[b] = ps[b], ps[a]
			}
			return ps
		}, false},
		{"duplicated", func(rng *rand.Rand, ps []capture.Packet) []capture.Packet {
			var out []capture.Packet
			for _, p := range ps {
				out = append(out, p)
				if len(p.Payload) > 0 && rng.IntN(3) == 0 {
					out = append(out, p)
				}
			}
			return out
		}, false},
		{"overlapping resegmented", func(rng *rand.Rand, ps []capture.Packet) []capture.Packet {
			var out []capture.Packet
			for _, p := range ps {
				out = append(out, p)
				if n := len(p.Payload); n > 10 && rng.IntN(2) == 0 {
					// A retransmission that covers the second half and is cut differently.
					q := p
					cut := n/2 + rng.IntN(n/2)
					q.Seq += uint32(n / 2)
					q.Payload = p.Payload[n/2 : cut]
					q.PayloadLen = len(q.Payload)
					out = append(out, q)
				}
			}
			return out
		}, false},
		{"dropped", func(rng *rand.Rand, ps []capture.Packet) []capture.Packet {
			var out []capture.Packet
			for _, p := range ps {
				if len(p.Payload) > 0 && p.Flags&capture.FIN == 0 && rng.IntN(6) == 0 {
					continue
				}
				out = append(out, p)
			}
			return out
		}, true},
		{"reordered duplicated dropped", func(rng *rand.Rand, ps []capture.Packet) []capture.Packet {
			var out []capture.Packet
			for _, p := range ps {
				if len(p.Payload) > 0 && rng.IntN(8) == 0 {
					continue
				}
				out = append(out, p)
				if len(p.Payload) > 0 && rng.IntN(5) == 0 {
					out = append(out, p)
				}
			}
			idx := dataIdx(out)
			for k := 0; k+1 < len(idx); k += 3 {
				out[idx[k]], out[idx[k+1]] = out[idx[k+1]], out[idx[k]]
			}
			return out
		}, true},
	}
	for _, tt := range tests {
		for seed := uint64(1); seed <= 5; seed++ {
			rng := rand.New(rand.NewPCG(seed, 99))
			var times []int64
			ps := tt.rewrite(rng, slices.Clone(orig))
			for _, p := range ps {
				times = append(times, p.TS)
			}
			slices.Sort(times)
			for i := range ps {
				ps[i].TS = times[i]
			}
			// The oracle: every byte's first capture time, and which
			// bytes were never captured.
			var first [2][]int64
			for d := range 2 {
				first[d] = make([]int64, len(want[d]))
			}
			for _, p := range ps {
				d := 0
				if p.Src != orig[0].Src {
					d = 1
				}
				off := int(p.Seq - start[d])
				for i := range p.Payload {
					if off+i >= 0 && off+i < len(first[d]) && first[d][off+i] == 0 {
						first[d][off+i] = p.TS
					}
				}
			}
			sink := &byteSink{}
			a, err := New(Config{}, func(k stream.ConnKey, info ConnInfo) stream.Handler {
				if k.Client != orig[0].Src || info.Opened != OpenedSYN {
					t.Errorf("connection %v opened %v", k, info.Opened)
				}
				return sink
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := range ps {
				a.Add(&ps[i])
			}
			a.Flush(times[len(times)-1] + 1)
			if !sink.closed {
				t.Errorf("%s/%d: not closed", tt.name, seed)
			}
			for d := range 2 {
				if len(sink.buf[d]) != len(want[d]) {
					t.Fatalf("%s/%d: %v: %d bytes and gaps, want %d", tt.name, seed, stream.Dir(d), len(sink.buf[d]), len(want[d]))
				}
				exp := bytes.Clone(want[d])
				var missing [][2]int
				var prefix int64
				for i, ts := range first[d] {
					if ts == 0 {
						exp[i] = 0
						if n := len(missing); n > 0 && missing[n-1][1] == i {
							missing[n-1][1]++
						} else {
							missing = append(missing, [2]int{i, i + 1})
						}
						continue
					}
					prefix = max(prefix, ts)
					if len(missing) == 0 && sink.ts[d][i] != prefix {
						t.Fatalf("%s/%d: %v byte %d delivered at %d, complete at %d", tt.name, seed, stream.Dir(d), i, sink.ts[d][i], prefix)
					}
					if sink.ts[d][i] < ts {
						t.Fatalf("%s/%d: %v byte %d delivered at %d before capture %d", tt.name, seed, stream.Dir(d), i, sink.ts[d][i], ts)
					}
				}
				if !bytes.Equal(sink.buf[d], exp) {
					t.Errorf("%s/%d: %v bytes differ", tt.name, seed, stream.Dir(d))
				}
				if !slices.Equal(mergeRanges(sink.gaps[d]), missing) {
					t.Errorf("%s/%d: %v gaps %v, want %v", tt.name, seed, stream.Dir(d), sink.gaps[d], missing)
				}
				if !tt.drops && len(missing) > 0 {
					t.Errorf("%s/%d: rewrite lost bytes", tt.name, seed)
				}
			}
			s := a.Stats()
			if s.Conflicts != 0 || s.Connections != 1 {
				t.Errorf("%s/%d: stats %+v", tt.name, seed, s)
			}
		}
	}
}

func mergeRanges(rs [][2]int) [][2]int {
	var out [][2]int
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1][1] == r[0] {
			out[n-1][1] = r[1]
			continue
		}
		out = append(out, r)
	}
	return out
}
