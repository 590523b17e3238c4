package capture

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
	"golang.org/x/net/bpf"
)

// LiveConfig configures a live capture on one interface.
type LiveConfig struct {
	Iface string
	Name  string // label in warnings and stats ("t1/eth0"); default Iface
	// FrameSize bounds the captured bytes of one frame (snap length);
	// default 128 KiB, room for a 64 KiB loopback GSO super-segment and its
	// headers.
	FrameSize int
	// BlockSize and NumBlocks size the TPACKET_V3 ring: by default blocks
	// of 256 KiB (or one frame, if larger) filling 32 MiB. The kernel hands
	// over a block when it is full or BlockTimeout after its first frame,
	// so at a low rate every block holds a millisecond of traffic, and the
	// number of blocks, not their size, is how long the reader may stall
	// (descheduled on a busy machine) before the kernel drops frames: 128
	// blocks are 128 ms (32 blocks of 1 MiB dropped frames under load).
	BlockSize int
	NumBlocks int
	// BlockTimeout is how long the kernel may hold a partly filled block
	// before handing it over (default 1 ms): the bound on how late a packet
	// reaches the decoder, not on its timestamp (taken at the interface).
	BlockTimeout time.Duration
	// PollTimeout is how long ReadInto waits before returning ErrNoPacket
	// (default 50 ms), so a quiet capture can still do housekeeping.
	PollTimeout time.Duration
	Filter      Filter
}

// ErrNoPacket is returned by Live.ReadInto when no packet came within the
// poll timeout. It is not an end: call ReadInto again.
var ErrNoPacket = errors.New("capture: no packet within the poll timeout")

// Live is an AF_PACKET (TPACKET_V3) capture with kernel nanosecond
// timestamps. It sees both directions of the interface: the timestamp of an
// outgoing frame is when it passed the interface's tap, of an incoming one
// when the driver received it. It opens its socket in the network
// namespace of the calling thread (the lab calls Open from a thread inside
// the namespace it captures).
type Live struct {
	cfg     LiveConfig
	tp      *afpacket.TPacket
	stats   Stats
	warns   []Warning
	index   uint64
	mu      sync.Mutex // guards closed, reading, freed and drops
	closed  bool       // Close was called
	reading bool       // a ReadInto is inside the ring
	freed   bool       // the ring is unmapped
	drops   uint64

	// The ring captures from the moment it is set up, before the filter
	// is attached: frames stamped before filterOn may have bypassed the
	// kernel's filter, so ReadInto runs them through prefilter (nil: no
	// filter) and skips those it rejects.
	prefilter *bpf.VM
	filterOn  int64
}

// OpenLive opens a live capture.
func OpenLive(cfg LiveConfig) (*Live, error) {
	if cfg.Iface == "" {
		return nil, errors.New("capture: live capture needs an interface")
	}
	if cfg.Name == "" {
		cfg.Name = cfg.Iface
	}
	if cfg.FrameSize == 0 {
		cfg.FrameSize = 1 << 17
	}
	if cfg.BlockSize == 0 {
		cfg.BlockSize = max(256<<10, cfg.FrameSize)
	}
	if cfg.NumBlocks == 0 {
		cfg.NumBlocks = max(32, (32<<20)/cfg.BlockSize)
	}
	if cfg.BlockTimeout == 0 {
		cfg.BlockTimeout = time.Millisecond
	}
	if cfg.PollTimeout == 0 {
		cfg.PollTimeout = 50 * time.Millisecond
	}
	tp, err := afpacket.NewTPacket(
		afpacket.OptInterface(cfg.Iface),
		afpacket.OptFrameSize(cfg.FrameSize),
		afpacket.OptBlockSize(cfg.BlockSize),
		afpacket.OptNumBlocks(cfg.NumBlocks),
		afpacket.OptBlockTimeout(cfg.BlockTimeout),
		afpacket.OptPollTimeout(cfg.PollTimeout),
		afpacket.TPacketVersion3,
		afpacket.SocketRaw,
	)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return nil, fmt.Errorf("capture: AF_PACKET on %s: %w (live capture needs root or CAP_NET_RAW)", cfg.Name, err)
		}
		return nil, fmt.Errorf("capture: AF_PACKET on %s: %w", cfg.Name, err)
	}
	l := &Live{cfg: cfg, tp: tp}
	if prog, err := cfg.Filter.Program(); err != nil {
		tp.Close()
		return nil, err
	} else if prog != nil {
		// NewTPacket bound the socket and set up the ring before the filter
		// could be attached; whatever the interface carried meanwhile (IPv6
		// neighbour discovery and MLD right after a link comes up, say) is
		// in the ring unfiltered. Every such frame was stamped at or before
		// it reached the socket, so before the clock reading below: ReadInto
		// filters those older than it itself.
		ins, ok := bpf.Disassemble(prog)
		vm, err := bpf.NewVM(ins)
		if !ok || err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture: BPF filter on %s: not runnable in user space: %v", cfg.Name, err)
		}
		if err := tp.SetBPF(prog); err != nil {
			tp.Close()
			return nil, fmt.Errorf("capture: BPF filter on %s: %w", cfg.Name, err)
		}
		l.prefilter, l.filterOn = vm, time.Now().UnixNano()
	}
	if err := tp.InitSocketStats(); err != nil {
		tp.Close()
		return nil, fmt.Errorf("capture: socket stats on %s: %w", cfg.Name, err)
	}
	return l, nil
}

// ReadInto waits for the next frame that the filter keeps, also among those
// captured while OpenLive was attaching it. It returns ErrNoPacket after the
// poll timeout and io.EOF once Close was called. The packet's Data aliases
// the kernel ring and is valid until the next ReadInto.
func (l *Live) ReadInto(p *Packet) error {
	data, ci, err := l.read()
	for err == nil && l.prefilter != nil && ci.Timestamp.UnixNano() < l.filterOn && !l.keep(data) {
		data, ci, err = l.read() // captured before the filter was on, and it rejects it
	}
	if err != nil {
		return err
	}
	l.index++
	p.File = l.cfg.Name
	p.Index = l.index
	p.TS = ci.Timestamp.UnixNano()
	p.CapLen = len(data)
	p.OrigLen = max(ci.Length, len(data))
	p.Interface = 0
	p.Decode(layers.LinkTypeEthernet, data)
	l.stats.count(p, l.cfg.Name, &l.warns)
	return nil
}

// read takes the next frame from the ring, with ReadInto's errors.
func (l *Live) read() ([]byte, gopacket.CaptureInfo, error) {
	l.mu.Lock()
	if l.closed {
		l.free()
		l.mu.Unlock()
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	l.reading = true
	l.mu.Unlock()
	data, ci, err := l.tp.ZeroCopyReadPacketData()
	l.mu.Lock()
	l.reading = false
	if l.closed {
		// Close came while we were in the ring: unmap it now, from the
		// only goroutine that reads it.
		l.free()
		l.mu.Unlock()
		return nil, gopacket.CaptureInfo{}, io.EOF
	}
	l.mu.Unlock()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil, ci, ErrNoPacket
		}
		return nil, ci, &ReadError{File: l.cfg.Name, Packet: l.index + 1, Err: err}
	}
	return data, ci, nil
}

// keep runs the filter on a frame the kernel may not have filtered.
func (l *Live) keep(data []byte) bool {
	n, err := l.prefilter.Run(data)
	return err == nil && n > 0
}

// Stats returns the counts so far, including the kernel's drops. Call it
// from the reading goroutine (Drops may be read from any goroutine via Drops).
func (l *Live) Stats() Stats {
	s := l.stats
	s.Drops = l.Drops()
	return s
}

// Drops returns the frames the kernel dropped because the ring was full.
func (l *Live) Drops() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.freed {
		if _, v3, err := l.tp.SocketStats(); err == nil {
			l.drops = uint64(v3.Drops())
		}
	}
	return l.drops
}

// Warnings returns the first per-packet problems.
func (l *Live) Warnings() []Warning { return l.warns }

// Name is the label of the capture.
func (l *Live) Name() string { return l.cfg.Name }

// Close stops the capture; a ReadInto in progress returns io.EOF after at
// most the poll timeout. The ring is unmapped by whichever comes last:
// Close, or the ReadInto that was inside it (unmapping it under a reader
// would fault).
func (l *Live) Close() error {
	l.Drops()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	if !l.reading {
		l.free()
	}
	return nil
}

// free unmaps the ring once; l.mu must be held.
func (l *Live) free() {
	if l.freed {
		return
	}
	if _, v3, err := l.tp.SocketStats(); err == nil {
		l.drops = uint64(v3.Drops())
	}
	l.freed = true
	l.tp.Close()
}

// Filter selects what a live capture keeps, compiled to classic BPF here
// (no libpcap): IPv4 and IPv6 TCP on the given ports (any port when empty),
// plus UDP to VXLANPort (mirror sessions) when it is set.
type Filter struct {
	TCPPorts  []uint16
	VXLANPort uint16
	All       bool // keep everything (no filter)
}

// Program returns the BPF program, or nil for All.
func (f Filter) Program() ([]bpf.RawInstruction, error) {
	if f.All {
		return nil, nil
	}
	var a bpfAsm
	// ethertype
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(0x0800, "", "v6")
	// IPv4: protocol, then the transport header at 14 + IHL.
	a.emit(bpf.LoadAbsolute{Off: 23, Size: 1})
	a.jeq(6, "", "v4udp")
	f.tcpPorts(&a, bpf.LoadMemShift{Off: 14}, 14)
	a.label("v4udp")
	f.vxlanPort(&a, 23, bpf.LoadMemShift{Off: 14}, bpf.LoadIndirect{Off: 16, Size: 2})
	a.label("v6")
	a.emit(bpf.LoadAbsolute{Off: 12, Size: 2})
	a.jeq(0x86dd, "", reject)
	a.emit(bpf.LoadAbsolute{Off: 20, Size: 1}) // next header (no extension headers)
	a.jeq(6, "", "v6udp")
	f.tcpPorts(&a, bpf.LoadConstant{Dst: bpf.RegX, Val: 54}, 0)
	a.label("v6udp")
	f.vxlanPort(&a, 20, nil, bpf.LoadAbsolute{Off: 56, Size: 2})
	a.label(accept)
	a.emit(bpf.RetConstant{Val: 0x40000})
	a.label(reject)
	a.emit(bpf.RetConstant{Val: 0})
	out, ok := a.resolve()
	if !ok {
		return nil, fmt.Errorf("capture: BPF filter: %d ports are too many for conditional jumps (at most about 40)", len(f.TCPPorts))
	}
	raw, err := bpf.Assemble(out)
	if err != nil {
		return nil, fmt.Errorf("capture: BPF filter: %w", err)
	}
	return raw, nil
}

// tcpPorts accepts a TCP segment from or to one of the filter's ports (any
// TCP segment without ports): loadX puts the transport header's offset in
// X, off is added to it.
func (f Filter) tcpPorts(a *bpfAsm, loadX bpf.Instruction, off uint32) {
	if len(f.TCPPorts) == 0 {
		a.jump(accept)
		return
	}
	a.emit(loadX)
	for _, port := range f.TCPPorts {
		a.emit(bpf.LoadIndirect{Off: off, Size: 2})
		a.jeq(uint32(port), accept, "")
		a.emit(bpf.LoadIndirect{Off: off + 2, Size: 2})
		a.jeq(uint32(port), accept, "")
	}
	a.jump(reject)
}

// vxlanPort accepts a UDP datagram to the filter's VXLAN port (rejects
// every datagram without one): protoOff is the IP protocol byte, loadX
// (optional) and loadPort load the destination port.
func (f Filter) vxlanPort(a *bpfAsm, protoOff uint32, loadX, loadPort bpf.Instruction) {
	if f.VXLANPort == 0 {
		a.jump(reject)
		return
	}
	a.emit(bpf.LoadAbsolute{Off: protoOff, Size: 1})
	a.jeq(17, "", reject)
	if loadX != nil {
		a.emit(loadX)
	}
	a.emit(loadPort)
	a.jeq(uint32(f.VXLANPort), accept, reject)
}

const accept, reject = "accept", "reject"

// bpfAsm is a tiny assembler with symbolic jump targets ("" = next).
type bpfAsm struct{ prog []bpfIns }

type bpfIns struct {
	i           bpf.Instruction
	jt, jf, lbl string
}

func (a *bpfAsm) emit(i bpf.Instruction) { a.prog = append(a.prog, bpfIns{i: i}) }
func (a *bpfAsm) label(l string)         { a.prog = append(a.prog, bpfIns{lbl: l}) }
func (a *bpfAsm) jump(l string)          { a.prog = append(a.prog, bpfIns{i: bpf.Jump{}, jt: l}) }
func (a *bpfAsm) jeq(v uint32, jt, jf string) {
	a.prog = append(a.prog, bpfIns{i: bpf.JumpIf{Cond: bpf.JumpEqual, Val: v}, jt: jt, jf: jf})
}

// resolve turns labels into relative jumps; it fails on a jump over more
// than 255 instructions (classic BPF's conditional jumps are 8 bits).
func (a *bpfAsm) resolve() ([]bpf.Instruction, bool) {
	pos := map[string]int{}
	n := 0
	for _, p := range a.prog {
		if p.lbl != "" {
			pos[p.lbl] = n
			continue
		}
		n++
	}
	var out []bpf.Instruction
	for _, p := range a.prog {
		if p.lbl != "" {
			continue
		}
		idx := len(out)
		far := false
		rel := func(l string) uint8 {
			if l == "" {
				return 0
			}
			d := pos[l] - idx - 1
			far = far || d > 255
			return uint8(d)
		}
		switch i := p.i.(type) {
		case bpf.JumpIf:
			i.SkipTrue, i.SkipFalse = rel(p.jt), rel(p.jf)
			out = append(out, i)
		case bpf.Jump:
			i.Skip = uint32(rel(p.jt))
			out = append(out, i)
		default:
			out = append(out, p.i)
		}
		if far {
			return nil, false
		}
	}
	return out, true
}
