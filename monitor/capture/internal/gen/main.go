// Command gen writes the small capture fixtures that monitor/capture and
// monitor/tcpflow test against. The fixtures are committed; CI never runs
// this. Run from the repository root:
//
//	go run ./monitor/capture/internal/gen
package main

import (
	"bytes"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

func main() {
	capDir := flag.String("capture", "monitor/capture/testdata", "folder for capture fixtures")
	flowDir := flag.String("tcpflow", "monitor/tcpflow/testdata", "folder for tcpflow fixtures")
	flag.Parse()
	if err := run(*capDir, *flowDir); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// base is the time of the first packet of every fixture.
var base = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC).UnixNano()

var (
	cli4 = netip.MustParseAddrPort("198.18.1.2:51234")
	srv4 = netip.MustParseAddrPort("198.18.0.2:443")
	cli6 = netip.MustParseAddrPort("[2001:db8::2]:40000")
	srv6 = netip.MustParseAddrPort("[2001:db8::1]:8443")
)

type rec struct {
	ts   int64
	data []byte
	orig int // 0: len(data)
}

func run(capDir, flowDir string) error {
	for _, d := range []string{capDir, flowDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	conv := conversation(cli4, srv4, 1000, 5000, []string{"hello server", "hello client", "bye"})
	eth := func(ips [][]byte) []rec {
		var rs []rec
		for i, ip := range ips {
			rs = append(rs, rec{ts: base + int64(i)*100_123, data: ether(ip, etherTypeOf(ip))})
		}
		return rs
	}

	// pcap, microseconds, little-endian, Ethernet; plus an ARP frame, a
	// UDP datagram and an IPv4 packet with options.
	us := eth(conv)
	us = append(us,
		rec{ts: base + 2_000_000, data: ether(make([]byte, 28), 0x0806)},
		rec{ts: base + 2_000_100, data: ether(udp4(netip.MustParseAddrPort("198.18.0.9:9999"), netip.MustParseAddrPort("198.18.1.2:33333"), []byte("dns?")), 0x0800)},
		rec{ts: base + 2_000_200, data: ether(tcp4opts(cli4, srv4, 1013, 5013, tflags{ACK: true, PSH: true}, []byte("opts")), 0x0800)},
	)
	if err := writePcap(filepath.Join(capDir, "tcp-us.pcap"), false, false, layers.LinkTypeEthernet, 65535, us, 0); err != nil {
		return err
	}
	// pcap, nanoseconds, big-endian.
	if err := writePcap(filepath.Join(capDir, "tcp-ns-be.pcap"), true, true, layers.LinkTypeEthernet, 65535, eth(conv), 0); err != nil {
		return err
	}
	// Linux cooked capture v1.
	var sll []rec
	for i, ip := range conv {
		sll = append(sll, rec{ts: base + int64(i)*1000, data: append(sllHeader(uint16(i%2*4), 0x0800), ip...)})
	}
	if err := writePcap(filepath.Join(capDir, "sll.pcap"), false, true, layers.LinkTypeLinuxSLL, 65535, sll, 0); err != nil {
		return err
	}
	// QinQ: 802.1ad outer tag 100, 802.1Q inner tag 200.
	var vlan []rec
	for i, ip := range conv {
		vlan = append(vlan, rec{ts: base + int64(i)*1000, data: etherVLAN(ip, 0x0800, []uint16{100, 200})})
	}
	if err := writePcap(filepath.Join(capDir, "vlan.pcap"), false, false, layers.LinkTypeEthernet, 65535, vlan, 0); err != nil {
		return err
	}
	// VXLAN (AWS Traffic Mirroring): outer 10.0.0.5 -> 10.0.0.9, VNI 4242,
	// inner frame with one VLAN tag 7.
	var vx []rec
	for i, ip := range conv {
		inner := etherVLAN(ip, 0x0800, []uint16{7})
		vx = append(vx, rec{ts: base + int64(i)*1000, data: ether(vxlan(inner, 4242), 0x0800)})
	}
	if err := writePcap(filepath.Join(capDir, "vxlan.pcap"), false, true, layers.LinkTypeEthernet, 65535, vx, 0); err != nil {
		return err
	}
	// IPv6 with hop-by-hop and destination options, raw IP link type.
	conv6 := conversation(cli6, srv6, 0xfffffff0, 7, []string{"six", "sixty-six"})
	var v6 []rec
	for i, ip := range conv6 {
		v6 = append(v6, rec{ts: base + int64(i)*1000, data: ip})
	}
	if err := writePcap(filepath.Join(capDir, "ipv6.pcap"), false, true, layers.LinkTypeRaw, 65535, v6, 0); err != nil {
		return err
	}
	// BSD loopback (DLT_NULL), IPv4 and IPv6 families.
	null := []rec{
		{ts: base, data: append(le32(2), conv[3]...)},
		{ts: base + 1000, data: append(le32(30), conv6[3]...)},
	}
	if err := writePcap(filepath.Join(capDir, "null.pcap"), false, false, layers.LinkTypeNull, 65535, null, 0); err != nil {
		return err
	}
	// Problems: a snap-length cut packet, a bad IPv4 header length, a
	// short TCP header, a fragment, then a last record cut in half.
	bad := eth(conv[:4])
	badIHL := bytes.Clone(conv[3])
	badIHL[0] = 0x41
	frag := bytes.Clone(conv[3])
	frag[6] = 0x20 // more fragments
	shortTCP := bytes.Clone(conv[3][:20+12])
	binary.BigEndian.PutUint16(shortTCP[2:4], uint16(len(shortTCP)))
	big := ether(tcp4(cli4, srv4, 2000, 6000, tflags{ACK: true}, bytes.Repeat([]byte("x"), 1000)), 0x0800)
	bad = append(bad,
		rec{ts: base + 500_000, data: big[:200], orig: len(big)},
		rec{ts: base + 600_000, data: ether(badIHL, 0x0800)},
		rec{ts: base + 700_000, data: ether(shortTCP, 0x0800)},
		rec{ts: base + 800_000, data: ether(frag, 0x0800)},
		rec{ts: base + 900_000, data: ether(conv[4], 0x0800)},
	)
	if err := writePcap(filepath.Join(capDir, "truncated.pcap"), false, false, layers.LinkTypeEthernet, 200, bad, 30); err != nil {
		return err
	}
	if err := writeTwoInterfaces(filepath.Join(capDir, "two-if.pcapng"), conv, conv6); err != nil {
		return err
	}
	return writeExchange(flowDir)
}

func etherTypeOf(ip []byte) uint16 {
	if ip[0]>>4 == 6 {
		return 0x86dd
	}
	return 0x0800
}

// conversation returns the IP packets of a TCP connection: handshake, one
// message per element alternating client and server (each acknowledged),
// and FIN from both sides.
func conversation(cli, srv netip.AddrPort, cisn, sisn uint32, msgs []string) [][]byte {
	mk := tcp4
	if cli.Addr().Is6() {
		mk = tcp6
	}
	var out [][]byte
	cs, ss := cisn, sisn
	out = append(out, mk(cli, srv, cs, 0, tflags{SYN: true}, nil))
	cs++
	out = append(out, mk(srv, cli, ss, cs, tflags{SYN: true, ACK: true}, nil))
	ss++
	out = append(out, mk(cli, srv, cs, ss, tflags{ACK: true}, nil))
	for i, m := range msgs {
		if i%2 == 0 {
			out = append(out, mk(cli, srv, cs, ss, tflags{ACK: true, PSH: true}, []byte(m)))
			cs += uint32(len(m))
			out = append(out, mk(srv, cli, ss, cs, tflags{ACK: true}, nil))
		} else {
			out = append(out, mk(srv, cli, ss, cs, tflags{ACK: true, PSH: true}, []byte(m)))
			ss += uint32(len(m))
			out = append(out, mk(cli, srv, cs, ss, tflags{ACK: true}, nil))
		}
	}
	out = append(out, mk(cli, srv, cs, ss, tflags{FIN: true, ACK: true}, nil))
	cs++
	out = append(out, mk(srv, cli, ss, cs, tflags{FIN: true, ACK: true}, nil))
	ss++
	out = append(out, mk(cli, srv, cs, ss, tflags{ACK: true}, nil))
	return out
}

func serialize(ls ...gopacket.SerializableLayer) []byte {
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		panic(err) // programming error in the generator
	}
	return bytes.Clone(buf.Bytes())
}

func tcpLayer(src, dst netip.AddrPort, seq, ack uint32, f tflags, payload []byte) *layers.TCP {
	t := &layers.TCP{
		SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()),
		Seq: seq, Ack: ack, Window: 502,
		FIN: f.FIN, SYN: f.SYN, RST: f.RST, PSH: f.PSH, ACK: f.ACK,
	}
	if f.SYN {
		t.Options = []layers.TCPOption{
			{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: []byte{0x05, 0xb4}},
			{OptionType: layers.TCPOptionKindSACKPermitted, OptionLength: 2},
			{OptionType: layers.TCPOptionKindNop},
			{OptionType: layers.TCPOptionKindWindowScale, OptionLength: 3, OptionData: []byte{7}},
		}
	}
	return t
}

func tcp4(src, dst netip.AddrPort, seq, ack uint32, f tflags, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4DontFragment,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	t := tcpLayer(src, dst, seq, ack, f, payload)
	t.SetNetworkLayerForChecksum(ip)
	return serialize(ip, t, gopacket.Payload(payload))
}

// tcp4opts is tcp4 with an IPv4 record-route option and TCP timestamps.
func tcp4opts(src, dst netip.AddrPort, seq, ack uint32, f tflags, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(),
		Options: []layers.IPv4Option{{OptionType: 7, OptionLength: 7, OptionData: []byte{4, 0, 0, 0, 0}}, {OptionType: 0, OptionLength: 1}}}
	t := tcpLayer(src, dst, seq, ack, f, payload)
	t.Options = []layers.TCPOption{
		{OptionType: layers.TCPOptionKindNop}, {OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 1, 0, 0, 0, 2, 0}},
	}
	t.SetNetworkLayerForChecksum(ip)
	return serialize(ip, t, gopacket.Payload(payload))
}

// tcp6 builds IPv6 + hop-by-hop + destination options + TCP by hand, so
// the extension headers are certain to be there.
func tcp6(src, dst netip.AddrPort, seq, ack uint32, f tflags, payload []byte) []byte {
	ip := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	t := tcpLayer(src, dst, seq, ack, f, payload)
	t.SetNetworkLayerForChecksum(ip)
	seg := serialize(t, gopacket.Payload(payload))
	hbh := []byte{60, 0, 1, 4, 0, 0, 0, 0} // next: dest opts; PadN
	dopt := []byte{6, 0, 1, 4, 0, 0, 0, 0} // next: TCP; PadN
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:6], uint16(len(hbh)+len(dopt)+len(seg)))
	h[6], h[7] = 0, 64
	a, b := src.Addr().As16(), dst.Addr().As16()
	copy(h[8:24], a[:])
	copy(h[24:40], b[:])
	return append(append(append(h, hbh...), dopt...), seg...)
}

func udp4(src, dst netip.AddrPort, payload []byte) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice()}
	u := &layers.UDP{SrcPort: layers.UDPPort(src.Port()), DstPort: layers.UDPPort(dst.Port())}
	u.SetNetworkLayerForChecksum(ip)
	return serialize(ip, u, gopacket.Payload(payload))
}

func vxlan(inner []byte, vni uint32) []byte {
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP,
		SrcIP: net.IP{10, 0, 0, 5}, DstIP: net.IP{10, 0, 0, 9}}
	u := &layers.UDP{SrcPort: 61000, DstPort: 4789}
	u.SetNetworkLayerForChecksum(ip)
	v := &layers.VXLAN{ValidIDFlag: true, VNI: vni}
	return serialize(ip, u, v, gopacket.Payload(inner))
}

var (
	macA = []byte{0x02, 0, 0, 0, 0, 0x0a}
	macB = []byte{0x02, 0, 0, 0, 0, 0x0b}
)

func ether(payload []byte, et uint16) []byte { return etherVLAN(payload, et, nil) }

// etherVLAN tags the frame: the first tag as 802.1ad when there are two.
func etherVLAN(payload []byte, et uint16, vlans []uint16) []byte {
	b := append(append([]byte{}, macB...), macA...)
	for i, id := range vlans {
		tpid := uint16(0x8100)
		if i == 0 && len(vlans) > 1 {
			tpid = 0x88a8
		}
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, id)
	}
	b = binary.BigEndian.AppendUint16(b, et)
	return append(b, payload...)
}

func sllHeader(pktType, proto uint16) []byte {
	b := binary.BigEndian.AppendUint16(nil, pktType)
	b = binary.BigEndian.AppendUint16(b, 1) // ARPHRD_ETHER
	b = binary.BigEndian.AppendUint16(b, 6)
	b = append(b, macA...)
	b = append(b, 0, 0)
	return binary.BigEndian.AppendUint16(b, proto)
}

func sll2Header(proto uint16, ifindex uint32) []byte {
	b := binary.BigEndian.AppendUint16(nil, proto)
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint32(b, ifindex)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = append(b, 4, 6) // outgoing, address length
	b = append(b, macA...)
	return append(b, 0, 0)
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }

// writePcap writes a classic pcap file in either byte order and
// resolution. cutLast > 0 cuts that many bytes off the last record.
func writePcap(path string, big, nanos bool, link layers.LinkType, snap uint32, recs []rec, cutLast int) error {
	var bo binary.AppendByteOrder = binary.LittleEndian
	if big {
		bo = binary.BigEndian
	}
	magic := uint32(0xa1b2c3d4)
	if nanos {
		magic = 0xa1b23c4d
	}
	var b []byte
	b = bo.AppendUint32(b, magic)
	b = bo.AppendUint16(b, 2)
	b = bo.AppendUint16(b, 4)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, 0)
	b = bo.AppendUint32(b, snap)
	b = bo.AppendUint32(b, uint32(link))
	for _, r := range recs {
		sub := r.ts % 1e9 / 1000
		if nanos {
			sub = r.ts % 1e9
		}
		orig := r.orig
		if orig == 0 {
			orig = len(r.data)
		}
		b = bo.AppendUint32(b, uint32(r.ts/1e9))
		b = bo.AppendUint32(b, uint32(sub))
		b = bo.AppendUint32(b, uint32(len(r.data)))
		b = bo.AppendUint32(b, uint32(orig))
		b = append(b, r.data...)
	}
	return os.WriteFile(path, b[:len(b)-cutLast], 0o644)
}

// pcapng block writer (little-endian).
type ngw struct{ b []byte }

func (w *ngw) block(typ uint32, body []byte) {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	n := uint32(12 + len(body))
	w.b = binary.LittleEndian.AppendUint32(w.b, typ)
	w.b = binary.LittleEndian.AppendUint32(w.b, n)
	w.b = append(w.b, body...)
	w.b = binary.LittleEndian.AppendUint32(w.b, n)
}

func option(b []byte, code uint16, val []byte) []byte {
	b = binary.LittleEndian.AppendUint16(b, code)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// writeTwoInterfaces writes a pcapng with interface 0 (Ethernet, µs) and
// interface 1 (SLL2, 2^-20 s), packets interleaved, a Decryption Secrets
// Block before the first interface and one after the packets, and
// interface statistics with drops.
func writeTwoInterfaces(path string, conv, conv6 [][]byte) error {
	w := &ngw{}
	shb := binary.LittleEndian.AppendUint32(nil, 0x1a2b3c4d)
	shb = binary.LittleEndian.AppendUint16(shb, 1)
	shb = binary.LittleEndian.AppendUint16(shb, 0)
	shb = binary.LittleEndian.AppendUint64(shb, ^uint64(0))
	w.block(0x0a0d0d0a, shb)
	w.block(0x0a, dsb("CLIENT_RANDOM 0001 aaaa\n"))
	idb := func(link uint16, tsresol byte, name string) {
		b := binary.LittleEndian.AppendUint16(nil, link)
		b = append(b, 0, 0)
		b = binary.LittleEndian.AppendUint32(b, 0)
		b = option(b, 2, []byte(name))
		b = option(b, 9, []byte{tsresol})
		b = option(b, 0, nil)
		w.block(1, b)
	}
	idb(uint16(layers.LinkTypeEthernet), 6, "eth0")
	idb(uint16(layers.LinkTypeLinuxSLL2), 0x80|20, "any")
	epb := func(iface uint32, ts int64, data []byte) {
		var units uint64
		if iface == 0 {
			units = uint64(ts / 1000)
		} else {
			units = uint64(ts/1e9)<<20 | uint64(ts%1e9)<<20/1e9
		}
		b := binary.LittleEndian.AppendUint32(nil, iface)
		b = binary.LittleEndian.AppendUint32(b, uint32(units>>32))
		b = binary.LittleEndian.AppendUint32(b, uint32(units))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
		b = append(b, data...)
		w.block(6, b)
	}
	for i, ip := range conv {
		epb(0, base+int64(i)*2_000_000, ether(ip, 0x0800))
		if i < len(conv6) {
			epb(1, base+int64(i)*2_000_000+1_000_000, append(sll2Header(0x86dd, 3), conv6[i]...))
		}
	}
	w.block(0x0a, dsb("CLIENT_RANDOM 0002 bbbb")) // no final newline: the reader adds one
	isb := binary.LittleEndian.AppendUint32(nil, 0)
	isb = binary.LittleEndian.AppendUint64(isb, 0)
	isb = option(isb, 5, binary.LittleEndian.AppendUint64(nil, 3)) // isb_ifdrop
	isb = option(isb, 0, nil)
	w.block(5, isb)
	return os.WriteFile(path, w.b, 0o644)
}

func dsb(keylog string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, 0x544c534b)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(keylog)))
	return append(b, keylog...)
}

// writeExchange runs a real TCP exchange over loopback, records what each
// side wrote and when the peer read it, and synthesises the packets of
// that exchange (segmented at 1448 bytes, with one 64 KiB GSO-sized
// segment), writing exchange.pcap and the byte streams each side sent.
func writeExchange(dir string) error {
	rng := rand.New(rand.NewPCG(7, 11))
	req := make([]byte, 3000)
	resp := make([]byte, 68_000)
	for i := range req {
		req[i] = byte('a' + rng.IntN(26))
	}
	for i := range resp {
		resp[i] = byte(rng.IntN(256))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	type chunk struct {
		ts   int64
		data []byte
		c2s  bool
	}
	var mu sync.Mutex
	var chunks []chunk
	var wg sync.WaitGroup
	wg.Add(1)
	var srvErr error
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			srvErr = err
			return
		}
		defer c.Close()
		got := make([]byte, 0, len(req))
		buf := make([]byte, 4096)
		for len(got) < len(req) {
			n, err := c.Read(buf)
			if err != nil {
				srvErr = err
				return
			}
			mu.Lock()
			chunks = append(chunks, chunk{time.Now().UnixNano(), bytes.Clone(buf[:n]), true})
			mu.Unlock()
			got = append(got, buf[:n]...)
		}
		_, srvErr = c.Write(resp)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return err
	}
	if _, err := c.Write(req); err != nil {
		return err
	}
	got, err := io.ReadAll(io.LimitReader(c, int64(len(resp))))
	if err != nil {
		return err
	}
	c.Close()
	wg.Wait()
	if srvErr != nil {
		return srvErr
	}
	if !bytes.Equal(got, resp) {
		return fmt.Errorf("loopback exchange: response differs")
	}
	// The client's reads were not timed chunk by chunk; time the response
	// as the server wrote it, after the last request chunk.
	mu.Lock()
	last := chunks[len(chunks)-1].ts
	mu.Unlock()

	cli := netip.MustParseAddrPort("127.0.0.1:45678")
	srv := netip.MustParseAddrPort("127.0.0.1:8443")
	var recs []rec
	ts := chunks[0].ts - 30_000
	add := func(ip []byte, t int64) {
		if t <= ts {
			t = ts + 1
		}
		ts = t
		recs = append(recs, rec{ts: t, data: ether(ip, 0x0800)})
	}
	cs, ss := uint32(0xfffff000), uint32(0x7ffffff0) // the client's sequence numbers wrap
	add(tcp4(cli, srv, cs, 0, tflags{SYN: true}, nil), ts+1)
	cs++
	add(tcp4(srv, cli, ss, cs, tflags{SYN: true, ACK: true}, nil), ts+10_000)
	ss++
	add(tcp4(cli, srv, cs, ss, tflags{ACK: true}, nil), ts+20_000)
	for _, ch := range chunks {
		for off := 0; off < len(ch.data); off += 1448 {
			seg := ch.data[off:min(off+1448, len(ch.data))]
			add(tcp4(cli, srv, cs, ss, tflags{ACK: true, PSH: true}, seg), ch.ts)
			cs += uint32(len(seg))
		}
	}
	add(tcp4(srv, cli, ss, cs, tflags{ACK: true}, nil), last+5_000)
	// Response: one 64000-byte GSO segment, then MSS-sized ones.
	off := 0
	t := last + 20_000
	for off < len(resp) {
		n := 1448
		if off == 0 {
			n = 64000
		}
		n = min(n, len(resp)-off)
		add(tcp4(srv, cli, ss, cs, tflags{ACK: true}, resp[off:off+n]), t)
		ss += uint32(n)
		off += n
		t += 2_000
	}
	add(tcp4(cli, srv, cs, ss, tflags{FIN: true, ACK: true}, nil), t+10_000)
	cs++
	add(tcp4(srv, cli, ss, cs, tflags{FIN: true, ACK: true}, nil), t+20_000)
	ss++
	add(tcp4(cli, srv, cs, ss, tflags{ACK: true}, nil), t+30_000)
	if err := writePcap(filepath.Join(dir, "exchange.pcap"), false, true, layers.LinkTypeEthernet, 262144, recs, 0); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "exchange.c2s"), req, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "exchange.s2c"), resp, 0o644)
}

type tflags struct{ FIN, SYN, RST, PSH, ACK bool }
