package session

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Recorder records what both ends of every connection write, with the time
// of each write, so that a capture can be synthesised without root: the
// client side through Dial, the server side through Listen. Connections
// get lab addresses (client 198.18.0.2, servers as mapped by Serve).
type Recorder struct {
	mu      sync.Mutex
	clock   func() int64
	conns   []*RecConn
	byPort  map[uint16]*RecConn // real client port → connection
	servers map[uint16]netip.AddrPort
}

// RecConn is one recorded connection.
type RecConn struct {
	Client, Server netip.AddrPort
	DialNS         int64
	Writes         []Write
	FinNS          [2]int64 // 0: never closed by that side
}

// Write is one Write call on one side: Dir 0 client→server, 1 back.
type Write struct {
	Dir  int
	NS   int64
	Data []byte
}

// NewRecorder returns a recorder; clock gives write times (nil: time.Now).
func NewRecorder(clock func() int64) *Recorder {
	if clock == nil {
		clock = func() int64 { return time.Now().UnixNano() }
	}
	return &Recorder{clock: clock, byPort: map[uint16]*RecConn{}, servers: map[uint16]netip.AddrPort{}}
}

// Serve maps the real server port to the lab address the capture shows.
func (r *Recorder) Serve(realPort uint16, lab netip.AddrPort) {
	r.mu.Lock()
	r.servers[realPort] = lab
	r.mu.Unlock()
}

// Conns returns the recorded connections in order of dialling.
func (r *Recorder) Conns() []*RecConn {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*RecConn(nil), r.conns...)
}

// Dial dials addr and records the client side.
func (r *Recorder) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	t := r.clock()
	var d net.Dialer
	c, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	rp := c.RemoteAddr().(*net.TCPAddr).AddrPort()
	lp := c.LocalAddr().(*net.TCPAddr).AddrPort()
	r.mu.Lock()
	rc := &RecConn{Client: netip.AddrPortFrom(clientAddr, uint16(40001+len(r.conns))), Server: r.servers[rp.Port()], DialNS: t}
	r.conns = append(r.conns, rc)
	r.byPort[lp.Port()] = rc
	r.mu.Unlock()
	return &recNetConn{Conn: c, r: r, rc: rc, dir: 0}, nil
}

// Listen wraps a listener so that the server side is recorded.
func (r *Recorder) Listen(ln net.Listener) net.Listener { return &recListener{ln, r} }

type recListener struct {
	net.Listener
	r *Recorder
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recNetConn{Conn: c, r: l.r, dir: 1}, nil
}

type recNetConn struct {
	net.Conn
	r   *Recorder
	rc  *RecConn // found lazily on the server side
	dir int
}

func (c *recNetConn) conn() *RecConn {
	if c.rc == nil {
		c.rc = c.r.byPort[c.Conn.RemoteAddr().(*net.TCPAddr).AddrPort().Port()]
	}
	return c.rc
}

func (c *recNetConn) Write(b []byte) (int, error) {
	c.r.mu.Lock()
	if rc := c.conn(); rc != nil {
		rc.Writes = append(rc.Writes, Write{Dir: c.dir, NS: c.r.clock(), Data: append([]byte(nil), b...)})
	}
	c.r.mu.Unlock()
	return c.Conn.Write(b)
}

func (c *recNetConn) Close() error {
	c.r.mu.Lock()
	if rc := c.conn(); rc != nil && rc.FinNS[c.dir] == 0 {
		rc.FinNS[c.dir] = c.r.clock()
	}
	c.r.mu.Unlock()
	return c.Conn.Close()
}

func (c *recNetConn) LocalAddr() net.Addr {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if rc := c.conn(); rc != nil {
		if c.dir == 0 {
			return net.TCPAddrFromAddrPort(rc.Client)
		}
		return net.TCPAddrFromAddrPort(rc.Server)
	}
	return c.Conn.LocalAddr()
}

func (c *recNetConn) RemoteAddr() net.Addr {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if rc := c.conn(); rc != nil {
		if c.dir == 0 {
			return net.TCPAddrFromAddrPort(rc.Server)
		}
		return net.TCPAddrFromAddrPort(rc.Client)
	}
	return c.Conn.RemoteAddr()
}

// Frame is one synthesised Ethernet frame.
type Frame struct {
	NS   int64
	Data []byte
}

// MSS is the largest TCP payload Frames puts in one segment.
const MSS = 1448

// Frames turns the recorded connections into Ethernet/IPv4/TCP frames in
// time order: a three-way handshake, each write cut into MSS segments
// (1 µs apart) with an ACK from the peer, and a FIN from each side.
func (r *Recorder) Frames() []Frame {
	var out []Frame
	for _, rc := range r.Conns() {
		out = append(out, rc.frames()...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NS < out[j].NS })
	return out
}

func (rc *RecConn) frames() []Frame {
	ep := [2]netip.AddrPort{rc.Client, rc.Server}
	isn := [2]uint32{0x1000_0000 + uint32(rc.Client.Port())<<8, 0x8000_0000 + uint32(rc.Client.Port())<<4}
	next := [2]uint32{isn[0] + 1, isn[1] + 1}
	var out []Frame
	seg := func(dir int, ns int64, flags uint8, payload []byte) {
		seq := next[dir]
		if flags&synFlag != 0 {
			seq = isn[dir]
		}
		ack := next[1-dir]
		if flags&synFlag != 0 && dir == 0 {
			ack = 0
		}
		out = append(out, Frame{NS: ns, Data: tcpFrame(ep[dir], ep[1-dir], seq, ack, flags, payload)})
		next[dir] += uint32(len(payload))
		if flags&finFlag != 0 {
			next[dir]++
		}
	}
	t := rc.DialNS
	seg(0, t, synFlag, nil)
	seg(1, t+20_000, synFlag|ackFlag, nil)
	seg(0, t+40_000, ackFlag, nil)
	last := t + 40_000
	for _, w := range rc.Writes {
		ns := max(w.NS, last+1)
		for i := 0; i < len(w.Data); i += MSS {
			seg(w.Dir, ns, ackFlag|pshFlag, w.Data[i:min(i+MSS, len(w.Data))])
			ns += 1000
		}
		seg(1-w.Dir, ns+5_000, ackFlag, nil)
		last = ns
	}
	for _, d := range []int{0, 1} {
		fin := rc.FinNS[d]
		if fin == 0 {
			fin = last + 1_000_000
		}
		last = max(fin, last+1)
		seg(d, last, finFlag|ackFlag, nil)
	}
	return out
}

const (
	finFlag = 0x01
	synFlag = 0x02
	pshFlag = 0x08
	ackFlag = 0x10
)

var (
	clientAddr = netip.MustParseAddr("198.18.0.2")
	macClient  = []byte{0x02, 0, 0, 0, 0, 0x02}
	macServer  = []byte{0x02, 0, 0, 0, 0, 0x01}
)

// tcpFrame builds an Ethernet/IPv4/TCP frame with valid checksums.
func tcpFrame(src, dst netip.AddrPort, seq, ack uint32, flags uint8, payload []byte) []byte {
	smac, dmac := macServer, macClient
	if src.Addr() == clientAddr {
		smac, dmac = macClient, macServer
	}
	eth := &layers.Ethernet{SrcMAC: smac, DstMAC: dmac, EthernetType: layers.EthernetTypeIPv4}
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: src.Addr().AsSlice(), DstIP: dst.Addr().AsSlice(), Flags: layers.IPv4DontFragment}
	tcp := &layers.TCP{SrcPort: layers.TCPPort(src.Port()), DstPort: layers.TCPPort(dst.Port()), Seq: seq, Ack: ack, Window: 65535,
		FIN: flags&finFlag != 0, SYN: flags&synFlag != 0, PSH: flags&pshFlag != 0, ACK: flags&ackFlag != 0}
	if tcp.SYN {
		mss := make([]byte, 2)
		binary.BigEndian.PutUint16(mss, MSS)
		tcp.Options = []layers.TCPOption{{OptionType: layers.TCPOptionKindMSS, OptionLength: 4, OptionData: mss}}
	}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		panic(err) // only fixed, well-formed layers are serialised here
	}
	return append([]byte(nil), buf.Bytes()...)
}

// WritePcapng writes frames as a pcapng file with nanosecond timestamps.
// With dsb, the key log goes into a Decryption Secrets Block before the
// first packet.
func WritePcapng(w io.Writer, frames []Frame, keylog []byte, dsb bool) error {
	intf := pcapgo.DefaultNgInterface
	intf.LinkType = layers.LinkTypeEthernet
	intf.Name = "lab0"
	nw, err := pcapgo.NewNgWriterInterface(w, intf, pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "cloudpcap monitor/pipeline/internal/gen"}})
	if err != nil {
		return err
	}
	if dsb {
		if err := nw.Flush(); err != nil {
			return err
		}
		if _, err := w.Write(DSB(keylog)); err != nil {
			return err
		}
	}
	for _, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, f.NS), CaptureLength: len(f.Data), Length: len(f.Data)}
		if err := nw.WritePacket(ci, f.Data); err != nil {
			return err
		}
	}
	return nw.Flush()
}

// DSB returns a pcapng Decryption Secrets Block (little-endian) carrying
// an NSS key log.
func DSB(keylog []byte) []byte {
	pad := (4 - len(keylog)%4) % 4
	total := 20 + len(keylog) + pad // header 16, data, padding, trailing length 4
	b := make([]byte, 0, total)
	b = binary.LittleEndian.AppendUint32(b, 0x0000000A)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	b = binary.LittleEndian.AppendUint32(b, 0x544c534b) // "TLSK"
	b = binary.LittleEndian.AppendUint32(b, uint32(len(keylog)))
	b = append(b, keylog...)
	b = append(b, make([]byte, pad)...)
	b = binary.LittleEndian.AppendUint32(b, uint32(total))
	return b
}
