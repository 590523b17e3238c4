package tcpflow

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

var (
	cli = netip.MustParseAddrPort("198.18.1.2:51234")
	srv = netip.MustParseAddrPort("198.18.0.2:443")
)

// recorder renders what a connection's handler received.
type recorder struct {
	key    stream.ConnKey
	info   ConnInfo
	out    [2]strings.Builder // data, gaps as <gap N>
	times  [2][]string        // "data@ts"
	closed int64
	nClose int
}

func (r *recorder) Data(d stream.Dir, b []byte, ts int64) {
	r.out[d].Write(b)
	r.times[d] = append(r.times[d], fmt.Sprintf("%s@%d", b, ts))
}
func (r *recorder) Gap(d stream.Dir, n int, ts int64) {
	fmt.Fprintf(&r.out[d], "<gap %d>", n)
	r.times[d] = append(r.times[d], fmt.Sprintf("<gap %d>@%d", n, ts))
}
func (r *recorder) Close(ts int64) { r.closed = ts; r.nClose++ }

type recorders struct{ conns []*recorder }

func (rs *recorders) factory(key stream.ConnKey, info ConnInfo) stream.Handler {
	r := &recorder{key: key, info: info, closed: -1}
	rs.conns = append(rs.conns, r)
	return r
}

// seg is a packet in a table test: c2s when from client.
type pk struct {
	c2s   bool
	seq   uint32
	ack   uint32
	flags capture.TCPFlags
	data  string
	ts    int64
	wire  int // PayloadLen when the snap length cut the payload
}

func (s pk) packet() capture.Packet {
	p := capture.Packet{Proto: capture.ProtoTCP, Src: cli, Dst: srv, Seq: s.seq, Ack: s.ack, Flags: s.flags,
		Payload: []byte(s.data), PayloadLen: len(s.data), TS: s.ts}
	if !s.c2s {
		p.Src, p.Dst = srv, cli
	}
	if s.wire > 0 {
		p.PayloadLen = s.wire
	}
	return p
}

const (
	S  = capture.SYN
	A  = capture.ACK
	F  = capture.FIN
	R  = capture.RST
	SA = capture.SYN | capture.ACK
	FA = capture.FIN | capture.ACK
	PA = capture.PSH | capture.ACK
)

// open is a handshake: client ISN 0 (data from 1), server ISN 100 (data from 101).
var open = []pk{{true, 0, 0, S, "", 1, 0}, {false, 100, 1, SA, "", 2, 0}, {true, 1, 101, A, "", 3, 0}}

func withOpen(ps ...pk) []pk { return append(append([]pk{}, open...), ps...) }

func TestSegments(t *testing.T) {
	tests := []struct {
		name     string
		cfg      Config
		pkts     []pk
		flush    bool
		c2s, s2c string
		times    []string // c2s deliveries with times, when checked
		closed   int64
		opened   Opened
		client   netip.AddrPort
		stats    func(s Stats) string // "" when fine
	}{
		{name: "in order", pkts: withOpen(
			pk{true, 1, 101, PA, "hello", 10, 0}, pk{false, 101, 6, PA, "world", 11, 0},
			pk{true, 6, 106, FA, "", 12, 0}, pk{false, 106, 7, FA, "", 13, 0}, pk{true, 7, 107, A, "", 14, 0}),
			c2s: "hello", s2c: "world", times: []string{"hello@10"}, closed: 13, opened: OpenedSYN, client: cli,
			stats: func(s Stats) string {
				if s.ClosedFIN != 1 || s.Connections != 1 || s.Ignored != 1 || s.MidStreamJoins != 0 {
					return "want one FIN-closed connection and the last ACK ignored"
				}
				return ""
			}},
		{name: "reordered", pkts: withOpen(
			pk{true, 4, 101, PA, "def", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0}, pk{true, 1, 101, PA, "abc", 12, 0},
			pk{true, 10, 101, PA, "jkl", 13, 0}),
			flush: true, c2s: "abcdefghijkl", times: []string{"abc@12", "def@12", "ghi@12", "jkl@13"}, closed: 99,
			stats: func(s Stats) string {
				if s.OutOfOrder != 2 || s.Gaps != 0 || s.ClosedFlush != 1 {
					return "want 2 out-of-order, no gaps"
				}
				return ""
			}},
		{name: "hole filled late keeps later segment time", pkts: withOpen(
			pk{true, 4, 101, PA, "def", 10, 0}, pk{true, 1, 101, PA, "ab", 11, 0}, pk{true, 3, 101, PA, "c", 20, 0}),
			flush: true, c2s: "abcdef", times: []string{"ab@11", "c@20", "def@20"}, closed: 99},
		{name: "duplicated", pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 1, 101, PA, "abc", 11, 0}, pk{true, 4, 101, PA, "def", 12, 0}, pk{true, 4, 101, PA, "def", 13, 0}),
			flush: true, c2s: "abcdef", closed: 99,
			stats: func(s Stats) string {
				if s.RetransmittedBytes != 6 || s.OverlapBytes != 0 || s.Conflicts != 0 {
					return "want 6 retransmitted bytes"
				}
				return ""
			}},
		{name: "overlap same data", pkts: withOpen(
			pk{true, 1, 101, PA, "abcdef", 10, 0}, pk{true, 4, 101, PA, "defghi", 11, 0}),
			flush: true, c2s: "abcdefghi", times: []string{"abcdef@10", "ghi@11"}, closed: 99,
			stats: func(s Stats) string {
				if s.OverlapBytes != 3 || s.Conflicts != 0 {
					return "want 3 overlapping bytes, no conflict"
				}
				return ""
			}},
		{name: "overlap different data buffered first wins", pkts: withOpen(
			pk{true, 4, 101, PA, "XYZ", 10, 0}, pk{true, 4, 101, PA, "def", 11, 0}, pk{true, 1, 101, PA, "abc", 12, 0}),
			flush: true, c2s: "abcXYZ", closed: 99,
			stats: func(s Stats) string {
				if s.Conflicts != 1 || s.OverlapBytes != 3 {
					return "want one conflict"
				}
				return ""
			}},
		{name: "in-order segment over buffered different data", pkts: withOpen(
			pk{true, 4, 101, PA, "XY", 10, 0}, pk{true, 8, 101, PA, "W", 11, 0}, pk{true, 1, 101, PA, "abcdefgh", 12, 0}),
			flush: true, c2s: "abcXYfgW", times: []string{"abc@12", "XY@12", "fg@12", "W@12"}, closed: 99,
			stats: func(s Stats) string {
				if s.Conflicts != 2 || s.OverlapBytes != 3 {
					return "want two conflicts over 3 bytes"
				}
				return ""
			}},
		{name: "dropped segment skipped at FIN", cfg: Config{CloseWait: time.Millisecond}, pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0},
			pk{true, 10, 101, FA, "", 12, 0}, pk{false, 101, 4, FA, "", 13, 0}),
			c2s: "abc<gap 3>ghi", times: []string{"abc@10", "<gap 3>@1000012", "ghi@11"}, closed: 1000012,
			stats: func(s Stats) string {
				if s.Gaps != 1 || s.GapBytes != 3 || s.ClosedFIN != 1 {
					return "want one 3-byte gap, closed by FIN after CloseWait"
				}
				return ""
			}},
		{name: "hole before one FIN skipped while the other side goes on", cfg: Config{CloseWait: time.Millisecond}, pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, FA, "ghi", 11, 0},
			pk{false, 101, 4, PA, "r1", 1_000_010, 0}, pk{false, 103, 4, PA, "r2", 200_000_000, 0}),
			flush: true, c2s: "abc<gap 3>ghi", times: []string{"abc@10", "<gap 3>@1000011", "ghi@11"}, s2c: "r1r2", closed: 99,
			stats: func(s Stats) string {
				if s.ClosedFlush != 1 || s.Gaps != 1 {
					return "want the c2s hole skipped after CloseWait and the connection open until Flush"
				}
				return ""
			}},
		// A skipped hole's bytes never reached the capture point: the
		// segments behind it keep their own capture times.
		{name: "hole the receiver acknowledged is a capture loss", pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0},
			pk{false, 101, 10, A, "", 12, 0}, pk{false, 101, 10, PA, "r1", 20_000_012, 0}),
			flush: true, c2s: "abc<gap 3>ghi", times: []string{"abc@10", "<gap 3>@10000012", "ghi@11"}, s2c: "r1", closed: 99,
			stats: func(s Stats) string {
				if s.CaptureLost != 1 || s.Gaps != 1 || s.Overflows != 0 {
					return "want one hole skipped as a capture loss"
				}
				return ""
			}},
		{name: "times behind a skipped hole never go back", pkts: withOpen(
			pk{true, 4, 101, PA, "def", 100, 0}, pk{true, 10, 101, PA, "jkl", 200, 0}, pk{true, 7, 101, PA, "ghi", 300, 0},
			pk{false, 101, 13, A, "", 400, 0}, pk{false, 101, 13, PA, "r1", 20_000_400, 0}),
			flush: true, c2s: "<gap 3>defghijkl", times: []string{"<gap 3>@10000400", "def@100", "ghi@300", "jkl@300"}, s2c: "r1", closed: 99},
		{name: "ack ahead of its data within the grace is not a loss", pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0},
			pk{false, 101, 10, A, "", 12, 0}, pk{true, 4, 101, PA, "def", 13, 0}),
			flush: true, c2s: "abcdefghi", times: []string{"abc@10", "def@13", "ghi@13"}, closed: 99,
			stats: func(s Stats) string {
				if s.CaptureLost != 0 || s.Gaps != 0 {
					return "want the hole filled, no gap"
				}
				return ""
			}},
		{name: "hole filled after both FINs", pkts: withOpen(
			pk{true, 4, 101, PA, "def", 10, 0}, pk{true, 7, 101, FA, "", 11, 0}, pk{false, 101, 1, FA, "", 12, 0},
			pk{true, 1, 101, PA, "abc", 13, 0}),
			c2s: "abcdef", closed: 13},
		{name: "overflow skips the oldest hole", cfg: Config{MaxBuffered: 4}, pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0}, pk{true, 10, 101, PA, "jk", 12, 0},
			pk{true, 4, 101, PA, "def", 13, 0}),
			flush: true, c2s: "abc<gap 3>ghijk", times: []string{"abc@10", "<gap 3>@11", "ghi@11", "jk@12"}, closed: 99,
			stats: func(s Stats) string {
				if s.Overflows != 1 || s.RetransmittedBytes != 3 {
					return "want one overflow and the late segment counted as retransmitted"
				}
				return ""
			}},
		{name: "sequence wrap", pkts: []pk{
			{true, 0xfffffffc, 0, S, "", 1, 0}, {false, 100, 0xfffffffd, SA, "", 2, 0},
			{true, 1, 101, PA, "ef", 10, 0}, {true, 0xfffffffd, 101, PA, "abcd", 11, 0}, {true, 0xffffffff, 101, PA, "cdefg", 12, 0}},
			flush: true, c2s: "abcdefg", times: []string{"abcd@11", "ef@11", "g@12"}, closed: 99},
		{name: "mid-stream join judged by port", pkts: []pk{
			{false, 500, 90, PA, "srv", 10, 0}, {true, 90, 503, PA, "cli", 11, 0}, {false, 503, 93, PA, "more", 12, 0}},
			flush: true, c2s: "cli", s2c: "srvmore", closed: 99, opened: OpenedMidStream, client: cli,
			stats: func(s Stats) string {
				if s.MidStreamJoins != 1 {
					return "want one mid-stream join"
				}
				return ""
			}},
		{name: "mid-stream bytes before the first captured ones are a gap", pkts: []pk{
			{true, 50, 100, PA, "req", 10, 0}, {false, 103, 53, PA, "tail", 11, 0}},
			flush: true, c2s: "req", s2c: "<gap 3>tail", closed: 99, opened: OpenedMidStream, client: cli},
		{name: "syn-ack only", pkts: []pk{
			{false, 100, 1, SA, "", 2, 0}, {true, 1, 101, PA, "hi", 3, 0}, {false, 101, 3, PA, "yo", 4, 0}},
			flush: true, c2s: "hi", s2c: "yo", closed: 99, opened: OpenedSYNACK, client: cli},
		{name: "rst with a hole", pkts: withOpen(
			pk{true, 1, 101, PA, "abc", 10, 0}, pk{true, 7, 101, PA, "ghi", 11, 0}, pk{false, 101, 4, R, "", 12, 0},
			pk{true, 10, 101, PA, "late", 13, 0}),
			c2s: "abc<gap 3>ghi", closed: 12,
			stats: func(s Stats) string {
				if s.ClosedRST != 1 || s.Ignored != 1 {
					return "want RST close and the late packet ignored"
				}
				return ""
			}},
		{name: "snap-cut payload", pkts: withOpen(
			pk{true, 1, 101, PA, "abcd", 10, 10}, pk{true, 11, 101, PA, "xy", 11, 0}),
			flush: true, c2s: "abcd<gap 6>xy", closed: 99},
		{name: "snap-cut payload out of order", pkts: withOpen(
			pk{true, 4, 101, PA, "de", 10, 5}, pk{true, 1, 101, PA, "abc", 11, 0}, pk{true, 9, 101, PA, "z", 12, 0}),
			flush: true, c2s: "abcde<gap 3>z", closed: 99},
		{name: "FIN before last data", pkts: withOpen(
			pk{true, 4, 101, FA, "", 10, 0}, pk{false, 101, 5, FA, "", 11, 0}, pk{true, 1, 101, PA, "abc", 12, 0}),
			c2s: "abc", closed: 12},
		{name: "data after FIN ignored", pkts: withOpen(
			pk{true, 1, 101, FA, "ab", 10, 0}, pk{true, 4, 101, PA, "zz", 11, 0}),
			flush: true, c2s: "ab", closed: 99},
		{name: "retransmitted SYN", pkts: append(withOpen(), pk{true, 0, 0, S, "", 4, 0}, pk{true, 1, 101, PA, "x", 5, 0}),
			flush: true, c2s: "x", closed: 99,
			stats: func(s Stats) string {
				if s.Connections != 1 {
					return "want one connection"
				}
				return ""
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs recorders
			a, err := New(tt.cfg, rs.factory)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tt.pkts {
				p := s.packet()
				a.Add(&p)
			}
			if !tt.flush && tt.closed > 1000 {
				a.FlushIdle(tt.closed + 1) // advance capture time past CloseWait
			}
			if tt.flush {
				a.Flush(99)
			}
			if len(rs.conns) != 1 {
				t.Fatalf("%d connections, want 1", len(rs.conns))
			}
			r := rs.conns[0]
			if got := r.out[0].String(); got != tt.c2s {
				t.Errorf("c2s %q, want %q", got, tt.c2s)
			}
			if got := r.out[1].String(); got != tt.s2c {
				t.Errorf("s2c %q, want %q", got, tt.s2c)
			}
			if tt.times != nil && strings.Join(r.times[0], " ") != strings.Join(tt.times, " ") {
				t.Errorf("c2s times %v, want %v", r.times[0], tt.times)
			}
			if r.closed != tt.closed || r.nClose != 1 {
				t.Errorf("closed at %d (%d times), want %d once", r.closed, r.nClose, tt.closed)
			}
			if r.info.Opened != tt.opened {
				t.Errorf("opened %v, want %v", r.info.Opened, tt.opened)
			}
			if tt.client.IsValid() && r.key.Client != tt.client {
				t.Errorf("client %v, want %v", r.key.Client, tt.client)
			}
			if tt.stats != nil {
				if msg := tt.stats(a.Stats()); msg != "" {
					t.Errorf("%s: %+v", msg, a.Stats())
				}
			}
			if a.Open() != 0 {
				t.Errorf("%d connections still open", a.Open())
			}
		})
	}
}

func TestJudgeServer(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		name     string
		cfg      Config
		first    [2]netip.AddrPort // src, dst of a mid-stream data packet
		wantSrv  netip.AddrPort
		learnSYN bool // a SYN to 10.0.0.1:7000 came first
	}{
		{"well-known dst", Config{}, [2]netip.AddrPort{ap("10.0.0.2:40000"), ap("10.0.0.1:8443")}, ap("10.0.0.1:8443"), false},
		{"well-known src", Config{}, [2]netip.AddrPort{ap("10.0.0.1:80"), ap("10.0.0.2:40000")}, ap("10.0.0.1:80"), false},
		{"configured port", Config{ServerPorts: []uint16{50000}}, [2]netip.AddrPort{ap("10.0.0.1:50000"), ap("10.0.0.2:40000")}, ap("10.0.0.1:50000"), false},
		{"lower port", Config{}, [2]netip.AddrPort{ap("10.0.0.2:40000"), ap("10.0.0.1:7000")}, ap("10.0.0.1:7000"), false},
		{"known server beats lower port", Config{}, [2]netip.AddrPort{ap("10.0.0.1:7000"), ap("10.0.0.2:5000")}, ap("10.0.0.1:7000"), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rs recorders
			a, err := New(tt.cfg, rs.factory)
			if err != nil {
				t.Fatal(err)
			}
			if tt.learnSYN {
				a.Add(&capture.Packet{Proto: capture.ProtoTCP, Src: ap("10.0.0.3:1234"), Dst: ap("10.0.0.1:7000"), Flags: S, TS: 1})
			}
			a.Add(&capture.Packet{Proto: capture.ProtoTCP, Src: tt.first[0], Dst: tt.first[1], Flags: PA, Payload: []byte("x"), PayloadLen: 1, TS: 2})
			r := rs.conns[len(rs.conns)-1]
			if r.key.Server != tt.wantSrv {
				t.Errorf("server %v, want %v", r.key.Server, tt.wantSrv)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	f := func(stream.ConnKey, ConnInfo) stream.Handler { return nil }
	tests := []struct {
		name string
		cfg  Config
		f    Factory
		want string
	}{
		{"negative buffer", Config{MaxBuffered: -1}, f, "tcpflow: negative MaxBuffered, IdleTimeout or CloseWait"},
		{"port zero", Config{ServerPorts: []uint16{0}}, f, "tcpflow: server port 0"},
		{"nil factory", Config{}, nil, "tcpflow: nil Factory"},
	}
	for _, tt := range tests {
		if _, err := New(tt.cfg, tt.f); err == nil || err.Error() != tt.want {
			t.Errorf("%s: error %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestIdleAndReuse(t *testing.T) {
	var rs recorders
	a, err := New(Config{IdleTimeout: time.Second}, rs.factory)
	if err != nil {
		t.Fatal(err)
	}
	ms := int64(time.Millisecond)
	add := func(p capture.Packet) { a.Add(&p) }
	for _, s := range withOpen(pk{true, 1, 101, PA, "one", 10 * ms, 0}) {
		add(s.packet())
	}
	// Another connection keeps time moving; the first goes idle.
	other := capture.Packet{Proto: capture.ProtoTCP, Src: netip.MustParseAddrPort("10.9.9.9:1000"), Dst: srv, Flags: PA, Payload: []byte("z"), PayloadLen: 1, Seq: 1, TS: 2000 * ms}
	add(other)
	if rs.conns[0].closed != 1010*ms || a.Stats().ClosedIdle != 1 {
		t.Fatalf("first connection closed at %d, stats %+v", rs.conns[0].closed, a.Stats())
	}
	// Same ports again with a new SYN: a new connection.
	for _, s := range withOpen(pk{true, 1, 101, PA, "two", 1 * ms, 0}) {
		s.ts += 2000 * ms
		add(s.packet())
	}
	a.Flush(3000 * ms)
	if len(rs.conns) != 3 || rs.conns[2].out[0].String() != "two" || rs.conns[1].closed != 3000*ms {
		t.Fatalf("conns %d, third got %q", len(rs.conns), rs.conns[2].out[0].String())
	}
	if a.Open() != 0 || len(a.conns) != 0 {
		t.Errorf("left open %d, table %d", a.Open(), len(a.conns))
	}
}

type nopHandler struct{ n int }

func (h *nopHandler) Data(_ stream.Dir, b []byte, _ int64) { h.n += len(b) }
func (h *nopHandler) Gap(stream.Dir, int, int64)           {}
func (h *nopHandler) Close(int64)                          {}

func TestInOrderAllocs(t *testing.T) {
	h := &nopHandler{}
	a, err := New(Config{}, func(stream.ConnKey, ConnInfo) stream.Handler { return h })
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range open {
		p := s.packet()
		a.Add(&p)
	}
	p := pk{true, 1, 101, PA, strings.Repeat("x", 1448), 10, 0}.packet()
	allocs := testing.AllocsPerRun(1000, func() {
		a.Add(&p)
		p.Seq += 1448
		p.TS++
	})
	if allocs != 0 {
		t.Errorf("%v allocs per in-order segment", allocs)
	}
	if h.n != 1001*1448 {
		t.Errorf("delivered %d bytes", h.n)
	}
}

func BenchmarkInOrder(b *testing.B) {
	h := &nopHandler{}
	a, err := New(Config{}, func(stream.ConnKey, ConnInfo) stream.Handler { return h })
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range open {
		p := s.packet()
		a.Add(&p)
	}
	p := pk{true, 1, 101, PA, strings.Repeat("x", 1448), 10, 0}.packet()
	b.SetBytes(1448)
	b.ReportAllocs()
	for b.Loop() {
		a.Add(&p)
		p.Seq += 1448
		p.TS++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

// BenchmarkReordered swaps every pair of segments.
func BenchmarkReordered(b *testing.B) {
	h := &nopHandler{}
	a, err := New(Config{}, func(stream.ConnKey, ConnInfo) stream.Handler { return h })
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range open {
		p := s.packet()
		a.Add(&p)
	}
	p := pk{true, 1, 101, PA, strings.Repeat("x", 1448), 10, 0}.packet()
	base := p.Seq
	b.SetBytes(1448)
	b.ReportAllocs()
	i := uint32(0)
	for b.Loop() {
		p.Seq = base + (i^1)*1448
		a.Add(&p)
		i++
		p.TS++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}
