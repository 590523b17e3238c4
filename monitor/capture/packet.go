package capture

import (
	"encoding/binary"
	"net/netip"

	"github.com/gopacket/gopacket/layers"
)

// IP protocol numbers that Packet.Proto may hold.
const (
	ProtoTCP uint8 = 6
	ProtoUDP uint8 = 17
)

// VXLANPort is the IANA VXLAN UDP port, used by AWS Traffic Mirroring.
const VXLANPort = 4789

// maxVXLANDepth bounds VXLAN-in-VXLAN decapsulation.
const maxVXLANDepth = 2

// TCPFlags are the TCP header flag bits (FIN = 0x01 ... CWR = 0x80).
type TCPFlags uint8

const (
	FIN TCPFlags = 1 << iota
	SYN
	RST
	PSH
	ACK
	URG
	ECE
	CWR
)

// Has reports whether all bits of f2 are set in f.
func (f TCPFlags) Has(f2 TCPFlags) bool { return f&f2 == f2 }

// String returns the flags as tcpdump-like letters, e.g. "S." for SYN-ACK.
// Not for hot paths.
func (f TCPFlags) String() string {
	var b []byte
	for i, c := range "FSRPAUEC" {
		if f&(1<<i) != 0 && c != 'A' {
			b = append(b, byte(c))
		}
	}
	if f&ACK != 0 {
		b = append(b, '.')
	}
	return string(b)
}

// Encap describes the outer layers that were peeled off before the
// innermost IP packet: VLAN tags (outer first, across all Ethernet
// headers) and, for VXLAN (AWS Traffic Mirroring), the VNI and the
// outer IP addresses of the last VXLAN tunnel crossed.
type Encap struct {
	VLANs      [4]uint16 // VLAN ids, outer first; only NVLAN are valid
	NVLAN      uint8     // number of VLAN tags seen (may exceed len(VLANs))
	VXLAN      bool      // the packet was carried in VXLAN
	VNI        uint32    // VXLAN network identifier
	OuterSrc   netip.Addr
	OuterDst   netip.Addr
	OuterDepth uint8 // number of VXLAN headers crossed
}

// Packet is one captured frame and what was decoded from it. A source
// fills a caller-owned Packet in ReadInto; Data and Payload point into the
// source's buffer and are valid only until the next ReadInto on that source.
// Copy them if you keep them.
type Packet struct {
	File      string          // name of the file (or interface) it came from, for positioned messages
	Index     uint64          // 1-based number of the packet in its file (or since the live source opened)
	TS        int64           // capture time, ns since the Unix epoch
	CapLen    int             // captured length
	OrigLen   int             // length on the wire (> CapLen when the snap length cut it)
	Interface int             // pcapng interface id (0 for pcap)
	LinkType  layers.LinkType // link type of Data
	Data      []byte          // the captured frame

	IPVersion uint8 // 4 or 6; 0 when the frame carries no IP
	Proto     uint8 // IP protocol of the innermost transport (ProtoTCP, ProtoUDP, ...)
	Src, Dst  netip.AddrPort

	// TCP header; valid when Proto == ProtoTCP.
	Seq, Ack uint32
	Flags    TCPFlags
	Window   uint16
	MSS      uint16 // 0 when no MSS option
	WScale   int8   // -1 when no window scale option

	// Payload is the captured transport payload; PayloadLen is its length
	// on the wire per the IP header, larger than len(Payload) when the
	// snap length cut the frame.
	Payload    []byte
	PayloadLen int

	Encap Encap

	// Warn is the problem that stopped decoding this packet, or
	// ReasonNone; WarnA and WarnB are the numbers its text names. With
	// ReasonTCPOption the TCP header and payload are still valid (see
	// TCPUsable).
	Warn         Reason
	WarnA, WarnB int
}

// TCPUsable reports whether the packet carries a decoded TCP segment.
func (p *Packet) TCPUsable() bool {
	return p.Proto == ProtoTCP && (p.Warn == ReasonNone || p.Warn == ReasonTCPOption)
}

// Truncated reports whether the snap length cut the frame.
func (p *Packet) Truncated() bool { return p.CapLen < p.OrigLen }

// Decode fills p's decoded fields from data, a frame of link type lt.
// It keeps File, Index, TS, CapLen, OrigLen and Interface, and resets the rest.
// Data and Payload alias data. Decode allocates nothing; a frame that
// cannot be decoded sets p.Warn and returns it.
func (p *Packet) Decode(lt layers.LinkType, data []byte) Reason {
	*p = Packet{
		File: p.File, Index: p.Index, TS: p.TS, CapLen: p.CapLen, OrigLen: p.OrigLen,
		Interface: p.Interface, LinkType: lt, Data: data, WScale: -1,
	}
	p.decodeLink(lt, data, 0)
	return p.Warn
}

func (p *Packet) warn(r Reason, a, b int) {
	p.Warn, p.WarnA, p.WarnB = r, a, b
}

const (
	etherTypeIPv4  = 0x0800
	etherTypeIPv6  = 0x86DD
	etherTypeVLAN  = 0x8100
	etherTypeQinQ  = 0x88A8
	etherTypeQinQ2 = 0x9100
)

func (p *Packet) decodeLink(lt layers.LinkType, b []byte, depth int) {
	switch lt {
	case layers.LinkTypeEthernet:
		p.decodeEthernet(b, depth)
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 {
			p.warn(ReasonSLLShort, len(b), 16)
			return
		}
		p.decodeEtherType(binary.BigEndian.Uint16(b[14:16]), b[16:], depth)
	case layers.LinkTypeLinuxSLL2:
		if len(b) < 20 {
			p.warn(ReasonSLL2Short, len(b), 20)
			return
		}
		p.decodeEtherType(binary.BigEndian.Uint16(b[0:2]), b[20:], depth)
	case layers.LinkTypeRaw, layers.LinkTypeIPv4, layers.LinkTypeIPv6, 12, 14:
		// 12 and 14 are DLT_RAW as some BSDs number it.
		p.decodeIP(b, depth)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		if len(b) < 4 {
			p.warn(ReasonNullShort, len(b), 4)
			return
		}
		fam := binary.LittleEndian.Uint32(b[:4])
		if lt == layers.LinkTypeLoop || fam > 0xffff {
			fam = binary.BigEndian.Uint32(b[:4])
		}
		switch fam {
		case 2: // AF_INET everywhere
			p.decodeIPv4(b[4:], depth)
		case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
			p.decodeIPv6(b[4:], depth)
		default:
			p.warn(ReasonNullFamily, int(fam), 0)
		}
	default:
		p.warn(ReasonLinkType, int(lt), 0)
	}
}

func (p *Packet) decodeEthernet(b []byte, depth int) {
	if len(b) < 14 {
		p.warn(ReasonEthernetShort, len(b), 14)
		return
	}
	p.decodeEtherType(binary.BigEndian.Uint16(b[12:14]), b[14:], depth)
}

func (p *Packet) decodeEtherType(et uint16, b []byte, depth int) {
	for et == etherTypeVLAN || et == etherTypeQinQ || et == etherTypeQinQ2 {
		if len(b) < 4 {
			p.warn(ReasonVLANShort, len(b), 4)
			return
		}
		if int(p.Encap.NVLAN) < len(p.Encap.VLANs) {
			p.Encap.VLANs[p.Encap.NVLAN] = binary.BigEndian.Uint16(b[0:2]) & 0x0fff
		}
		if p.Encap.NVLAN < 255 {
			p.Encap.NVLAN++
		}
		et = binary.BigEndian.Uint16(b[2:4])
		b = b[4:]
	}
	switch et {
	case etherTypeIPv4:
		p.decodeIPv4(b, depth)
	case etherTypeIPv6:
		p.decodeIPv6(b, depth)
	default:
		// ARP, LLDP and the like: not IP, not a problem.
	}
}

func (p *Packet) decodeIP(b []byte, depth int) {
	if len(b) == 0 {
		p.warn(ReasonIPShort, 0, 1)
		return
	}
	switch b[0] >> 4 {
	case 4:
		p.decodeIPv4(b, depth)
	case 6:
		p.decodeIPv6(b, depth)
	default:
		p.warn(ReasonIPVersion, int(b[0]>>4), 0)
	}
}

func (p *Packet) decodeIPv4(b []byte, depth int) {
	if len(b) < 20 {
		p.warn(ReasonIPv4Short, len(b), 20)
		return
	}
	if v := b[0] >> 4; v != 4 {
		p.warn(ReasonIPVersion, int(v), 4)
		return
	}
	hl := int(b[0]&0x0f) * 4
	if hl < 20 {
		p.warn(ReasonIPv4HeaderLen, hl, 20)
		return
	}
	if hl > len(b) {
		p.warn(ReasonIPv4HeaderTrunc, hl, len(b))
		return
	}
	total := int(binary.BigEndian.Uint16(b[2:4]))
	if total < hl {
		// TSO on the sending host leaves total length 0 in captures
		// taken before segmentation; take the captured length.
		if total != 0 {
			p.warn(ReasonIPv4TotalLen, total, hl)
			return
		}
		total = len(b)
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	p.IPVersion = 4
	p.Proto = b[9]
	p.Src = netip.AddrPortFrom(src, 0)
	p.Dst = netip.AddrPortFrom(dst, 0)
	frag := binary.BigEndian.Uint16(b[6:8])
	if frag&0x3fff != 0 { // MF set or offset != 0
		p.warn(ReasonIPv4Fragment, int(frag&0x1fff)*8, 0)
		return
	}
	wire := total - hl
	end := min(total, len(b)) // drop Ethernet padding, keep what was captured
	p.decodeTransport(b[hl:end], wire, depth)
}

func (p *Packet) decodeIPv6(b []byte, depth int) {
	if len(b) < 40 {
		p.warn(ReasonIPv6Short, len(b), 40)
		return
	}
	if v := b[0] >> 4; v != 6 {
		p.warn(ReasonIPVersion, int(v), 6)
		return
	}
	plen := int(binary.BigEndian.Uint16(b[4:6]))
	next := b[6]
	p.IPVersion = 6
	p.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), 0)
	p.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), 0)
	b = b[40:]
	if plen == 0 { // jumbogram or TSO: take what was captured
		plen = len(b)
	}
	wire := plen
	if plen < len(b) {
		b = b[:plen]
	}
	for {
		switch next {
		case 0, 43, 60: // hop-by-hop, routing, destination options
			if len(b) < 8 {
				p.warn(ReasonIPv6Ext, int(next), len(b))
				return
			}
			n := (int(b[1]) + 1) * 8
			if n > len(b) {
				p.warn(ReasonIPv6Ext, int(next), len(b))
				return
			}
			next, b, wire = b[0], b[n:], wire-n
		case 51: // authentication header
			if len(b) < 8 {
				p.warn(ReasonIPv6Ext, int(next), len(b))
				return
			}
			n := (int(b[1]) + 2) * 4
			if n > len(b) {
				p.warn(ReasonIPv6Ext, int(next), len(b))
				return
			}
			next, b, wire = b[0], b[n:], wire-n
		case 44: // fragment
			if len(b) < 8 {
				p.warn(ReasonIPv6Ext, int(next), len(b))
				return
			}
			off := binary.BigEndian.Uint16(b[2:4])
			if off&0xfff9 != 0 { // offset != 0 or more fragments
				p.Proto = b[0]
				p.warn(ReasonIPv6Fragment, int(off>>3)*8, 0)
				return
			}
			next, b, wire = b[0], b[8:], wire-8
		default:
			p.Proto = next
			p.decodeTransport(b, wire, depth)
			return
		}
	}
}

func (p *Packet) decodeTransport(b []byte, wire int, depth int) {
	switch p.Proto {
	case ProtoTCP:
		p.decodeTCP(b, wire)
	case ProtoUDP:
		p.decodeUDP(b, wire, depth)
	default:
		p.Payload, p.PayloadLen = b, max(wire, len(b))
	}
}

func (p *Packet) decodeTCP(b []byte, wire int) {
	if len(b) < 20 {
		p.warn(ReasonTCPShort, len(b), 20)
		return
	}
	off := int(b[12]>>4) * 4
	if off < 20 {
		p.warn(ReasonTCPDataOffset, off, 20)
		return
	}
	if off > len(b) {
		p.warn(ReasonTCPHeaderTrunc, off, len(b))
		return
	}
	p.Src = netip.AddrPortFrom(p.Src.Addr(), binary.BigEndian.Uint16(b[0:2]))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), binary.BigEndian.Uint16(b[2:4]))
	p.Seq = binary.BigEndian.Uint32(b[4:8])
	p.Ack = binary.BigEndian.Uint32(b[8:12])
	p.Flags = TCPFlags(b[13])
	p.Window = binary.BigEndian.Uint16(b[14:16])
	p.Payload = b[off:]
	p.PayloadLen = max(wire-off, len(p.Payload))
	opts := b[20:off]
	for len(opts) > 0 {
		kind := opts[0]
		if kind == 0 { // end of options
			break
		}
		if kind == 1 { // no-op
			opts = opts[1:]
			continue
		}
		if len(opts) < 2 || int(opts[1]) < 2 || int(opts[1]) > len(opts) {
			l := 0
			if len(opts) >= 2 {
				l = int(opts[1])
			}
			p.warn(ReasonTCPOption, int(kind), l)
			return // header fields stay valid; options after this are lost
		}
		o := opts[:opts[1]]
		switch {
		case kind == 2 && len(o) == 4:
			p.MSS = binary.BigEndian.Uint16(o[2:4])
		case kind == 3 && len(o) == 3:
			p.WScale = int8(min(o[2], 14))
		}
		opts = opts[len(o):]
	}
}

func (p *Packet) decodeUDP(b []byte, wire int, depth int) {
	if len(b) < 8 {
		p.warn(ReasonUDPShort, len(b), 8)
		return
	}
	sport := binary.BigEndian.Uint16(b[0:2])
	dport := binary.BigEndian.Uint16(b[2:4])
	p.Src = netip.AddrPortFrom(p.Src.Addr(), sport)
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), dport)
	p.Payload = b[8:]
	p.PayloadLen = max(wire-8, len(p.Payload))
	if dport != VXLANPort {
		return
	}
	v := p.Payload
	if len(v) < 8 {
		p.warn(ReasonVXLANShort, len(v), 8)
		return
	}
	if v[0]&0x08 == 0 {
		p.warn(ReasonVXLANFlags, int(v[0]), 0)
		return
	}
	if depth >= maxVXLANDepth {
		p.warn(ReasonVXLANDepth, depth+1, maxVXLANDepth)
		return
	}
	e := p.Encap
	e.VXLAN = true
	e.VNI = uint32(v[4])<<16 | uint32(v[5])<<8 | uint32(v[6])
	e.OuterSrc, e.OuterDst = p.Src.Addr(), p.Dst.Addr()
	e.OuterDepth++
	// Reset the inner fields and decode the inner frame.
	keep := *p
	*p = Packet{
		File: keep.File, Index: keep.Index, TS: keep.TS, CapLen: keep.CapLen, OrigLen: keep.OrigLen,
		Interface: keep.Interface, LinkType: keep.LinkType, Data: keep.Data,
		WScale: -1, Encap: e,
	}
	p.decodeEthernet(v[8:], depth+1)
}
