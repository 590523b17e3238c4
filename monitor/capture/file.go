package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// Source yields captured packets one at a time into a caller-owned Packet:
// pcap and pcapng files, and live AF_PACKET capture (Live). ReadInto returns
// io.EOF at the end, or a *ReadError that ends reading. The Packet's byte
// slices are valid only until the next ReadInto.
type Source interface {
	ReadInto(p *Packet) error
	// Stats counts what was read so far.
	Stats() Stats
	// Warnings returns the first per-packet problems (all are counted in Stats).
	Warnings() []Warning
	Close() error
}

// Stats counts what a source read.
type Stats struct {
	Packets   uint64 // packets read
	Bytes     uint64 // captured bytes
	Truncated uint64 // packets cut by the snap length
	TCP       uint64 // packets decoded down to TCP
	UDP       uint64 // packets decoded down to UDP (and not decapsulated)
	VXLAN     uint64 // packets decapsulated from VXLAN
	NonIP     uint64 // frames that carry no IP (ARP, LLDP, ...)
	Warnings  uint64 // packets with a Reason
	ByReason  [numReasons]uint64
	Drops     uint64 // packets the kernel dropped (pcapng statistics or live socket)
}

func (s *Stats) add(o *Stats) {
	s.Packets += o.Packets
	s.Bytes += o.Bytes
	s.Truncated += o.Truncated
	s.TCP += o.TCP
	s.UDP += o.UDP
	s.VXLAN += o.VXLAN
	s.NonIP += o.NonIP
	s.Warnings += o.Warnings
	for i := range s.ByReason {
		s.ByReason[i] += o.ByReason[i]
	}
	s.Drops += o.Drops
}

// count updates the counters for one decoded packet and keeps the first
// warnings. Shared by every source.
func (s *Stats) count(p *Packet, file string, kept *[]Warning) {
	s.Packets++
	s.Bytes += uint64(p.CapLen)
	if p.Truncated() {
		s.Truncated++
	}
	if p.Warn != ReasonNone {
		s.Warnings++
		s.ByReason[p.Warn]++
		if len(*kept) < maxKeptWarnings {
			*kept = append(*kept, Warning{File: file, Packet: p.Index, Reason: p.Warn, A: p.WarnA, B: p.WarnB})
		}
		if !p.TCPUsable() {
			return
		}
	}
	if p.Encap.VXLAN {
		s.VXLAN++
	}
	switch {
	case p.IPVersion == 0:
		s.NonIP++
	case p.Proto == ProtoTCP:
		s.TCP++
	case p.Proto == ProtoUDP:
		s.UDP++
	}
}

// Magic numbers at the start of capture files.
const (
	magicMicros   = 0xa1b2c3d4
	magicNanos    = 0xa1b23c4d
	magicPcapng   = 0x0a0d0d0a
	blockDSB      = 0x0000000a
	secretsTLSKey = 0x544c534b // TLS key log in NSS format
)

// maxKeyLog bounds the key log bytes kept from Decryption Secrets Blocks.
const maxKeyLog = 64 << 20

// File reads a pcap or pcapng file. It is a Source.
type File struct {
	name   string
	closer io.Closer
	pcap   *pcapgo.Reader
	ng     *pcapgo.NgReader
	scan   *ngScanner // pcapng only: sees every block to collect secrets
	link   layers.LinkType
	index  uint64
	stats  Stats
	warns  []Warning
	err    error // sticky
	// binExp[i] is interface i's binary timestamp exponent when it is
	// coarser than 1 ns (if_tsresol 2^-1 .. 2^-29), else 0.
	binExp []uint8
}

// Open opens a pcap or pcapng file by path.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r, err := NewFile(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewFile reads a pcap or pcapng capture from r; name is used in errors
// and warnings. It reads the file header (and, for pcapng, up to the first
// interface) before returning.
func NewFile(name string, r io.Reader) (f *File, err error) {
	defer func() {
		if v := recover(); v != nil {
			f, err = nil, &ReadError{File: name, Err: fmt.Errorf("corrupt file header: %v", v)}
		}
	}()
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(4)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, &ReadError{File: name, Err: fmt.Errorf("reading magic number: %w", err)}
	}
	f = &File{name: name}
	le, be := binary.LittleEndian.Uint32(head), binary.BigEndian.Uint32(head)
	switch {
	case le == magicPcapng:
		f.scan = &ngScanner{r: br}
		f.ng, err = pcapgo.NewNgReader(f.scan, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err == nil {
			f.link = f.ng.LinkType()
		}
	case le == magicMicros || le == magicNanos || be == magicMicros || be == magicNanos:
		f.pcap, err = pcapgo.NewReader(br)
		if err == nil {
			f.link = f.pcap.LinkType()
		}
	default:
		return nil, &ReadError{File: name, Err: fmt.Errorf("not a pcap or pcapng file (magic number 0x%08x)", be)}
	}
	if err != nil {
		return nil, &ReadError{File: name, Err: fmt.Errorf("bad file header: %w", err)}
	}
	return f, nil
}

// Name returns the file name given to Open or NewFile.
func (f *File) Name() string { return f.name }

// LinkType is the link type of the file (pcap) or of its first interface (pcapng).
func (f *File) LinkType() layers.LinkType { return f.link }

// KeyLog returns the TLS key log (NSS format) carried in the pcapng
// Decryption Secrets Blocks read so far, nil when there are none. All of
// the file's secrets are there once ReadInto returned io.EOF; writers put
// them before the packets they decrypt, so they are usually known early.
// The bytes belong to the File; do not modify them.
func (f *File) KeyLog() []byte {
	if f.scan == nil {
		return nil
	}
	return f.scan.keylog
}

// Stats returns the counters so far.
func (f *File) Stats() Stats { return f.stats }

// Warnings returns the first per-packet problems.
func (f *File) Warnings() []Warning { return f.warns }

// Close closes the file if Open opened it.
func (f *File) Close() error {
	if f.closer != nil {
		c := f.closer
		f.closer = nil
		return c.Close()
	}
	return nil
}

// ReadInto reads and decodes the next packet into p. It returns io.EOF at
// the end of the file and a *ReadError for a truncated or corrupt record;
// after an error every call returns the same error.
func (f *File) ReadInto(p *Packet) error {
	if f.err != nil {
		return f.err
	}
	data, ci, lt, err := f.next()
	if err != nil {
		if err == io.EOF {
			f.finish()
			f.err = io.EOF
		} else {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			f.err = &ReadError{File: f.name, Packet: f.index + 1, Err: fmt.Errorf("truncated or corrupt record: %w", err)}
		}
		return f.err
	}
	f.index++
	p.File = f.name
	p.Index = f.index
	p.TS = ci.Timestamp.UnixNano()
	if f.ng != nil {
		p.TS = f.fixBinaryTime(ci)
	}
	p.CapLen = len(data)
	p.OrigLen = max(ci.Length, len(data))
	p.Interface = ci.InterfaceIndex
	p.Decode(lt, data)
	f.stats.count(p, f.name, &f.warns)
	return nil
}

// next reads one record, turning a panic inside pcapgo on hostile input
// into an error.
func (f *File) next() (data []byte, ci gopacket.CaptureInfo, lt layers.LinkType, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("corrupt record: %v", v)
		}
	}()
	if f.pcap != nil {
		data, ci, err = f.pcap.ZeroCopyReadPacketData()
		return data, ci, f.link, err
	}
	data, ci, err = f.ng.ZeroCopyReadPacketData()
	lt = f.link
	if len(ci.AncillaryData) > 0 {
		if l, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			lt = l
		}
	}
	return data, ci, lt, err
}

// fixBinaryTime undoes pcapgo's rounding of binary timestamp resolutions:
// it scales 2^-e units by the truncated integer 1e9/2^e (953 for 2^-20,
// 88 µs off near the end of a second). The raw units are recovered exactly
// from that product and scaled again without rounding.
func (f *File) fixBinaryTime(ci gopacket.CaptureInfo) int64 {
	if n := f.ng.NInterfaces(); len(f.binExp) != n {
		f.binExp = f.binExp[:0]
		for i := range n {
			var e uint8
			if in, err := f.ng.Interface(i); err == nil && in.TimestampResolution.Binary() && in.TimestampResolution.Exponent() < 30 {
				e = in.TimestampResolution.Exponent()
			}
			f.binExp = append(f.binExp, e)
		}
	}
	ts := ci.Timestamp
	if ci.InterfaceIndex >= len(f.binExp) || f.binExp[ci.InterfaceIndex] == 0 {
		return ts.UnixNano()
	}
	e := f.binExp[ci.InterfaceIndex]
	units := uint64(ts.Nanosecond()) / (1e9 >> e)
	return ts.Unix()*1e9 + int64(units*1e9>>e)
}

// finish takes kernel drop counts from pcapng interface statistics.
func (f *File) finish() {
	if f.ng == nil {
		return
	}
	for i := range f.ng.NInterfaces() {
		if in, err := f.ng.Interface(i); err == nil {
			f.stats.Drops += in.Statistics.PacketsDropped
		}
	}
}

// ngScanner passes a pcapng byte stream through unchanged while following
// its block structure, so that Decryption Secrets Blocks anywhere in the
// file are seen (pcapgo reads them only before the first interface and
// does not expose them).
type ngScanner struct {
	r      io.Reader
	big    bool     // byte order of the current section
	head   [12]byte // block header being collected
	nhead  int
	left   int    // bytes of the current block body still to pass
	body   []byte // DSB body being collected
	inDSB  bool
	dead   bool // the block structure was broken; pcapgo reports it
	keylog []byte
}

func (s *ngScanner) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	s.feed(p[:n])
	return n, err
}

func (s *ngScanner) u32(b []byte) uint32 {
	if s.big {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (s *ngScanner) feed(b []byte) {
	for len(b) > 0 && !s.dead {
		if s.left > 0 {
			n := min(s.left, len(b))
			if s.inDSB {
				s.body = append(s.body, b[:n]...)
			}
			s.left -= n
			b = b[n:]
			if s.left == 0 && s.inDSB {
				s.dsb(s.body)
				s.inDSB, s.body = false, s.body[:0]
			}
			continue
		}
		need := 4 // the block type first: a section header has 4 more bytes
		if s.nhead >= 4 {
			need = 8
			if binary.LittleEndian.Uint32(s.head[:4]) == magicPcapng {
				need = 12 // section header: the byte-order magic follows the length
			}
		}
		n := copy(s.head[s.nhead:need], b)
		s.nhead += n
		b = b[n:]
		if s.nhead < need || need == 4 {
			continue
		}
		if need == 12 {
			switch binary.LittleEndian.Uint32(s.head[8:12]) {
			case 0x1a2b3c4d:
				s.big = false
			case 0x4d3c2b1a:
				s.big = true
			default:
				s.dead = true
				return
			}
		}
		typ, length := s.u32(s.head[:4]), int(s.u32(s.head[4:8]))
		if length < 12 || length%4 != 0 {
			s.dead = true
			return
		}
		s.left = length - need
		s.nhead = 0
		s.inDSB = typ == blockDSB && length <= maxKeyLog && len(s.keylog) < maxKeyLog
	}
}

// dsb takes the key log out of one Decryption Secrets Block body (after
// the block header, including options and the trailing length).
func (s *ngScanner) dsb(body []byte) {
	if len(body) < 12 {
		return
	}
	typ, n := s.u32(body[:4]), int(s.u32(body[4:8]))
	if typ != secretsTLSKey || n < 0 || n > len(body)-12 {
		return
	}
	k := body[8 : 8+n]
	s.keylog = append(s.keylog, k...)
	if len(k) > 0 && k[len(k)-1] != '\n' {
		s.keylog = append(s.keylog, '\n')
	}
}
