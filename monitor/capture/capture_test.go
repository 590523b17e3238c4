package capture

import (
	"bytes"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// base is the generator's first packet time.
var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano()

func readAll(t testing.TB, path string) (*File, []Packet, error) {
	t.Helper()
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	var out []Packet
	for {
		var p Packet
		err := f.ReadInto(&p)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			return f, out, err
		}
		p.Data = bytes.Clone(p.Data)
		p.Payload = bytes.Clone(p.Payload)
		out = append(out, p)
	}
}

func TestFixtures(t *testing.T) {
	cli, srv := netip.MustParseAddrPort("198.18.1.2:51234"), netip.MustParseAddrPort("198.18.0.2:443")
	cli6, srv6 := netip.MustParseAddrPort("[2001:db8::2]:40000"), netip.MustParseAddrPort("[2001:db8::1]:8443")
	tests := []struct {
		file     string
		packets  int
		tcp      uint64
		firstTS  int64
		lastTS   int64
		src, dst netip.AddrPort // of the first packet
		check    func(t *testing.T, ps []Packet, f *File)
	}{
		{file: "tcp-us.pcap", packets: 15, tcp: 13, firstTS: base / 1000 * 1000, lastTS: (base + 2_000_200) / 1000 * 1000, src: cli, dst: srv,
			check: func(t *testing.T, ps []Packet, f *File) {
				if ps[0].MSS != 1460 || ps[0].WScale != 7 || ps[0].Flags != SYN {
					t.Errorf("SYN: mss %d wscale %d flags %v", ps[0].MSS, ps[0].WScale, ps[0].Flags)
				}
				if ps[1].Flags != SYN|ACK || ps[1].Ack != 1001 || ps[1].Seq != 5000 {
					t.Errorf("SYN-ACK: %v seq %d ack %d", ps[1].Flags, ps[1].Seq, ps[1].Ack)
				}
				if string(ps[3].Payload) != "hello server" || string(ps[14].Payload) != "opts" {
					t.Errorf("payloads %q %q", ps[3].Payload, ps[13].Payload)
				}
				if ps[12].IPVersion != 0 || ps[13].Proto != ProtoUDP || string(ps[13].Payload) != "dns?" {
					t.Errorf("arp/udp: %+v %+v", ps[12], ps[13])
				}
				if s := f.Stats(); s.NonIP != 1 || s.UDP != 1 {
					t.Errorf("stats %+v", s)
				}
			}},
		{file: "tcp-ns-be.pcap", packets: 12, tcp: 12, firstTS: base, lastTS: base + 11*100_123, src: cli, dst: srv},
		{file: "sll.pcap", packets: 12, tcp: 12, firstTS: base, lastTS: base + 11_000, src: cli, dst: srv},
		{file: "vlan.pcap", packets: 12, tcp: 12, firstTS: base / 1000 * 1000, lastTS: (base + 11_000) / 1000 * 1000, src: cli, dst: srv,
			check: func(t *testing.T, ps []Packet, f *File) {
				for _, p := range ps {
					if p.Encap.NVLAN != 2 || p.Encap.VLANs[0] != 100 || p.Encap.VLANs[1] != 200 || p.Encap.VXLAN {
						t.Fatalf("packet %d encap %+v", p.Index, p.Encap)
					}
				}
			}},
		{file: "vxlan.pcap", packets: 12, tcp: 12, firstTS: base, lastTS: base + 11_000, src: cli, dst: srv,
			check: func(t *testing.T, ps []Packet, f *File) {
				for _, p := range ps {
					e := p.Encap
					if !e.VXLAN || e.VNI != 4242 || e.OuterSrc != netip.MustParseAddr("10.0.0.5") || e.OuterDst != netip.MustParseAddr("10.0.0.9") || e.NVLAN != 1 || e.VLANs[0] != 7 {
						t.Fatalf("packet %d encap %+v", p.Index, e)
					}
				}
				if s := f.Stats(); s.VXLAN != 12 {
					t.Errorf("vxlan count %d", s.VXLAN)
				}
			}},
		{file: "ipv6.pcap", packets: 10, tcp: 10, firstTS: base, lastTS: base + 9000, src: cli6, dst: srv6,
			check: func(t *testing.T, ps []Packet, f *File) {
				if ps[0].Seq != 0xfffffff0 || string(ps[3].Payload) != "six" || ps[3].IPVersion != 6 {
					t.Errorf("seq %x payload %q", ps[0].Seq, ps[3].Payload)
				}
			}},
		{file: "null.pcap", packets: 2, tcp: 2, firstTS: base / 1000 * 1000, lastTS: (base + 1000) / 1000 * 1000, src: cli, dst: srv,
			check: func(t *testing.T, ps []Packet, f *File) {
				if ps[1].Src != cli6 || string(ps[1].Payload) != "six" {
					t.Errorf("ipv6 over null: %v %q", ps[1].Src, ps[1].Payload)
				}
			}},
		{file: "two-if.pcapng", packets: 22, tcp: 22, firstTS: base / 1000 * 1000, src: cli, dst: srv,
			check: func(t *testing.T, ps []Packet, f *File) {
				if want := "CLIENT_RANDOM 0001 aaaa\nCLIENT_RANDOM 0002 bbbb\n"; string(f.KeyLog()) != want {
					t.Errorf("key log %q, want %q", f.KeyLog(), want)
				}
				if ps[1].Interface != 1 || ps[1].LinkType != layers.LinkTypeLinuxSLL2 || ps[1].Src != cli6 {
					t.Errorf("packet 2: if %d link %v src %v", ps[1].Interface, ps[1].LinkType, ps[1].Src)
				}
				// 2^-20 s units: the written time rounded down to a unit.
				if want := (base+1_000_000)/1e9*1e9 + ((base+1_000_000)%1e9<<20/1e9)*1e9>>20; ps[1].TS != want {
					t.Errorf("packet 2 ts %d, want %d (%d ns off)", ps[1].TS, want, ps[1].TS-want)
				}
				if s := f.Stats(); s.Drops != 3 {
					t.Errorf("drops %d, want 3", s.Drops)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, ps, err := readAll(t, filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != tt.packets {
				t.Fatalf("%d packets, want %d", len(ps), tt.packets)
			}
			if s := f.Stats(); s.TCP != tt.tcp || s.Warnings != 0 || s.Packets != uint64(tt.packets) {
				t.Errorf("stats %+v", s)
			}
			if ps[0].TS != tt.firstTS {
				t.Errorf("first ts %d, want %d", ps[0].TS, tt.firstTS)
			}
			if tt.lastTS != 0 && ps[len(ps)-1].TS != tt.lastTS {
				t.Errorf("last ts %d, want %d", ps[len(ps)-1].TS, tt.lastTS)
			}
			if ps[0].Src != tt.src || ps[0].Dst != tt.dst {
				t.Errorf("first packet %v -> %v", ps[0].Src, ps[0].Dst)
			}
			for i, p := range ps {
				if p.Index != uint64(i+1) {
					t.Fatalf("index %d at %d", p.Index, i)
				}
				compareOracle(t, &p)
			}
			if tt.check != nil {
				tt.check(t, ps, f)
			}
		})
	}
}

// compareOracle decodes the frame with gopacket's own decoders and
// compares the innermost IP and transport fields.
func compareOracle(t *testing.T, p *Packet) {
	t.Helper()
	lt := p.LinkType
	data := p.Data
	var dec gopacket.Decoder = lt
	if lt == layers.LinkTypeRaw {
		dec = layers.LayerTypeIPv4
		if data[0]>>4 == 6 {
			dec = layers.LayerTypeIPv6
		}
	}
	g := gopacket.NewPacket(data, dec, gopacket.Default)
	var src, dst netip.Addr
	var tcp *layers.TCP
	var udp *layers.UDP
	for _, l := range g.Layers() {
		switch l := l.(type) {
		case *layers.IPv4:
			src, dst = netip.AddrFrom4([4]byte(l.SrcIP.To4())), netip.AddrFrom4([4]byte(l.DstIP.To4()))
		case *layers.IPv6:
			src, dst = netip.AddrFrom16([16]byte(l.SrcIP)), netip.AddrFrom16([16]byte(l.DstIP))
		case *layers.TCP:
			tcp = l
		case *layers.UDP:
			udp = l
		}
	}
	if el := g.ErrorLayer(); el != nil {
		t.Errorf("packet %d: gopacket: %v", p.Index, el.Error())
		return
	}
	if p.IPVersion == 0 {
		if src.IsValid() {
			t.Errorf("packet %d: gopacket found IP %v, we did not", p.Index, src)
		}
		return
	}
	if p.Src.Addr() != src || p.Dst.Addr() != dst {
		t.Errorf("packet %d: %v->%v, gopacket %v->%v", p.Index, p.Src, p.Dst, src, dst)
	}
	switch {
	case tcp != nil:
		var f TCPFlags
		for i, b := range []bool{tcp.FIN, tcp.SYN, tcp.RST, tcp.PSH, tcp.ACK, tcp.URG, tcp.ECE, tcp.CWR} {
			if b {
				f |= 1 << i
			}
		}
		if p.Proto != ProtoTCP || p.Src.Port() != uint16(tcp.SrcPort) || p.Dst.Port() != uint16(tcp.DstPort) ||
			p.Seq != tcp.Seq || p.Ack != tcp.Ack || p.Flags != f || p.Window != tcp.Window || !bytes.Equal(p.Payload, tcp.Payload) {
			t.Errorf("packet %d: tcp %v %v seq %d ack %d %v win %d len %d; gopacket %d %d seq %d ack %d %v win %d len %d",
				p.Index, p.Src, p.Dst, p.Seq, p.Ack, p.Flags, p.Window, len(p.Payload),
				tcp.SrcPort, tcp.DstPort, tcp.Seq, tcp.Ack, f, tcp.Window, len(tcp.Payload))
		}
	case udp != nil && !p.Encap.VXLAN:
		if p.Proto != ProtoUDP || p.Src.Port() != uint16(udp.SrcPort) || !bytes.Equal(p.Payload, udp.Payload) {
			t.Errorf("packet %d: udp differs from gopacket", p.Index)
		}
	default:
		t.Errorf("packet %d: gopacket found no transport, we found proto %d", p.Index, p.Proto)
	}
}

func TestTruncatedFile(t *testing.T) {
	f, ps, err := readAll(t, filepath.Join("testdata", "truncated.pcap"))
	var re *ReadError
	if !errors.As(err, &re) || re.Packet != 9 || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("error %v, want a ReadError at packet 9 wrapping ErrUnexpectedEOF", err)
	}
	if !strings.HasPrefix(err.Error(), "testdata/truncated.pcap: packet 9: ") {
		t.Errorf("error text %q", err)
	}
	if err2 := f.ReadInto(&Packet{}); err2 != err {
		t.Errorf("error not sticky: %v", err2)
	}
	if len(ps) != 8 {
		t.Fatalf("%d packets before the cut, want 8", len(ps))
	}
	if p := ps[4]; !p.Truncated() || p.CapLen != 200 || p.OrigLen != 1054 || p.PayloadLen != 1000 || len(p.Payload) != 200-54 {
		t.Errorf("snap-cut packet: cap %d orig %d payload %d/%d", p.CapLen, p.OrigLen, len(p.Payload), p.PayloadLen)
	}
	var got []string
	for _, w := range f.Warnings() {
		got = append(got, w.Error())
	}
	want := []string{
		"testdata/truncated.pcap: packet 6: ipv4: header length 4 < 20",
		"testdata/truncated.pcap: packet 7: tcp: segment length 12 < 20",
		"testdata/truncated.pcap: packet 8: ipv4: fragment at offset 0 unsupported",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	s := f.Stats()
	if s.Warnings != 3 || s.ByReason[ReasonIPv4HeaderLen] != 1 || s.ByReason[ReasonIPv4Fragment] != 1 || s.Truncated != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestNotACapture(t *testing.T) {
	for _, in := range []string{"", "ab", "hello world, not pcap"} {
		_, err := NewFile("x.pcap", strings.NewReader(in))
		var re *ReadError
		if !errors.As(err, &re) || re.File != "x.pcap" {
			t.Errorf("%q: error %v", in, err)
		}
	}
}

func TestMerge(t *testing.T) {
	var srcs []Source
	var total int
	for _, name := range []string{"two-if.pcapng", "tcp-us.pcap", "tcp-ns-be.pcap"} {
		f, err := Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		srcs = append(srcs, f)
		_, ps, _ := readAll(t, filepath.Join("testdata", name))
		total += len(ps)
	}
	m := NewMerge(srcs...)
	t.Cleanup(func() { m.Close() })
	var p Packet
	var n int
	last := int64(-1 << 63)
	for {
		err := m.ReadInto(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if p.TS < last {
			t.Fatalf("packet %d out of order: %d < %d", n, p.TS, last)
		}
		last = p.TS
		n++
	}
	if n != total || m.Stats().Packets != uint64(total) {
		t.Errorf("merged %d packets (stats %d), want %d", n, m.Stats().Packets, total)
	}
}

func TestMergeError(t *testing.T) {
	good, err := Open("testdata/tcp-us.pcap")
	if err != nil {
		t.Fatal(err)
	}
	bad, err := Open("testdata/truncated.pcap")
	if err != nil {
		t.Fatal(err)
	}
	m := NewMerge(good, bad)
	t.Cleanup(func() { m.Close() })
	var p Packet
	for {
		err = m.ReadInto(&p)
		if err != nil {
			break
		}
	}
	var re *ReadError
	if !errors.As(err, &re) || re.Packet != 9 {
		t.Errorf("merge error %v, want truncated.pcap packet 9", err)
	}
}

func TestDecodeWarnings(t *testing.T) {
	eth := func(et uint16, b []byte) []byte {
		return append([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(et >> 8), byte(et)}, b...)
	}
	ip4 := func(mod func([]byte)) []byte {
		b := make([]byte, 40)
		b[0], b[3], b[9], b[32] = 0x45, 40, 6, 0x50
		if mod != nil {
			mod(b)
		}
		return b
	}
	tests := []struct {
		name string
		lt   layers.LinkType
		data []byte
		want string
	}{
		{"short ethernet", layers.LinkTypeEthernet, make([]byte, 10), "ethernet: frame length 10 < 14"},
		{"short vlan", layers.LinkTypeEthernet, eth(0x8100, []byte{1}), "vlan: tag length 1 < 4"},
		{"ipv4 short", layers.LinkTypeEthernet, eth(0x0800, make([]byte, 10)), "ipv4: packet length 10 < 20"},
		{"ipv4 ihl", layers.LinkTypeRaw, ip4(func(b []byte) { b[0] = 0x44 }), "ipv4: header length 16 < 20"},
		{"ipv4 ihl beyond", layers.LinkTypeRaw, ip4(func(b []byte) { b[0] = 0x4f }), "ipv4: header length 60 > captured 40"},
		{"ipv4 total", layers.LinkTypeRaw, ip4(func(b []byte) { b[3] = 10 }), "ipv4: total length 10 < header length 20"},
		{"ipv4 fragment", layers.LinkTypeRaw, ip4(func(b []byte) { b[7] = 3 }), "ipv4: fragment at offset 24 unsupported"},
		{"tcp offset", layers.LinkTypeRaw, ip4(func(b []byte) { b[32] = 0x30 }), "tcp: data offset 12 < 20"},
		{"tcp offset beyond", layers.LinkTypeRaw, ip4(func(b []byte) { b[32] = 0x60 }), "tcp: data offset 24 > captured 20"},
		{"ip version", layers.LinkTypeRaw, []byte{0x50}, "ip: version 5 unknown (want 0)"},
		{"link type", layers.LinkTypeFDDI, []byte{1}, "link: link type 10 not supported"},
		{"null family", layers.LinkTypeNull, []byte{7, 0, 0, 0}, "null: address family 7 is not IP"},
		{"ipv6 short", layers.LinkTypeRaw, append([]byte{0x60}, make([]byte, 20)...), "ipv6: packet length 21 < 40"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p Packet
			r := p.Decode(tt.lt, tt.data)
			if got := r.Text(p.WarnA, p.WarnB); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// frames returns the decodable frames of a fixture with their link types.
func frames(t testing.TB, name string) ([]layers.LinkType, [][]byte) {
	t.Helper()
	_, ps, err := readAll(t, filepath.Join("testdata", name))
	var re *ReadError
	if err != nil && !errors.As(err, &re) {
		t.Fatal(err)
	}
	var lts []layers.LinkType
	var ds [][]byte
	for _, p := range ps {
		lts = append(lts, p.LinkType)
		ds = append(ds, p.Data)
	}
	return lts, ds
}

func TestDecodeAllocs(t *testing.T) {
	for _, name := range []string{"tcp-us.pcap", "vxlan.pcap", "ipv6.pcap", "two-if.pcapng", "truncated.pcap"} {
		lts, ds := frames(t, name)
		var p Packet
		i := 0
		allocs := testing.AllocsPerRun(1000, func() {
			p.Decode(lts[i%len(ds)], ds[i%len(ds)])
			i++
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocs per decode", name, allocs)
		}
	}
}

// bigPcap repeats tcp-us.pcap's records n times in one in-memory pcap.
func bigPcap(t testing.TB, n int) ([]byte, int) {
	raw, err := os.ReadFile("testdata/tcp-ns-be.pcap")
	if err != nil {
		t.Fatal(err)
	}
	out := bytes.Clone(raw[:24])
	for range n {
		out = append(out, raw[24:]...)
	}
	return out, 11 * n
}

func TestReadIntoAllocs(t *testing.T) {
	data, _ := bigPcap(t, 2000)
	f, err := NewFile("mem.pcap", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var p Packet
	f.ReadInto(&p) // warm up buffers
	allocs := testing.AllocsPerRun(5000, func() {
		if err := f.ReadInto(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs per ReadInto", allocs)
	}
	// pcapng, two interfaces with different link types, sections repeated.
	raw, err := os.ReadFile("testdata/two-if.pcapng")
	if err != nil {
		t.Fatal(err)
	}
	f, err = NewFile("mem.pcapng", bytes.NewReader(bytes.Repeat(raw, 300)))
	if err != nil {
		t.Fatal(err)
	}
	f.ReadInto(&p)
	allocs = testing.AllocsPerRun(5000, func() {
		if err := f.ReadInto(&p); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("pcapng: %v allocs per ReadInto", allocs)
	}
}

func BenchmarkDecode(b *testing.B) {
	lts, ds := frames(b, "vxlan.pcap")
	var total int
	for _, d := range ds {
		total += len(d)
	}
	b.SetBytes(int64(total / len(ds)))
	b.ReportAllocs()
	var p Packet
	i := 0
	for b.Loop() {
		p.Decode(lts[i%len(ds)], ds[i%len(ds)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "packets/s")
}

func BenchmarkReadPcap(b *testing.B) {
	data, n := bigPcap(b, 1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		f, err := NewFile("mem.pcap", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for f.ReadInto(&p) == nil {
		}
	}
	b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "packets/s")
}

func FuzzFile(f *testing.F) {
	paths, _ := filepath.Glob("testdata/*.pcap*")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewFile("fuzz", bytes.NewReader(b))
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) {
				t.Fatalf("open error %T %v", err, err)
			}
			return
		}
		var p Packet
		for i := 0; ; i++ {
			err := r.ReadInto(&p)
			if err == io.EOF {
				return
			}
			if err != nil {
				var re *ReadError
				if !errors.As(err, &re) {
					t.Fatalf("read error %T %v", err, err)
				}
				return
			}
			if len(p.Payload) > len(p.Data) || p.Warn >= numReasons {
				t.Fatalf("packet %d: payload %d data %d warn %d", p.Index, len(p.Payload), len(p.Data), p.Warn)
			}
			_ = p.Warn.Text(p.WarnA, p.WarnB)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"tcp-us.pcap", "vxlan.pcap", "ipv6.pcap", "sll.pcap", "null.pcap", "two-if.pcapng"} {
		lts, ds := frames(f, name)
		for i := range ds {
			f.Add(uint16(lts[i]), ds[i])
		}
	}
	f.Fuzz(func(t *testing.T, lt uint16, b []byte) {
		var p Packet
		p.Decode(layers.LinkType(lt), b)
		if len(p.Payload) > len(b) || p.PayloadLen < len(p.Payload) {
			t.Fatalf("payload %d/%d of %d", len(p.Payload), p.PayloadLen, len(b))
		}
	})
}
