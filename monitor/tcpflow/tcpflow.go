// Package tcpflow reassembles the TCP connections in a stream of captured
// packets and hands each direction's bytes, in order and with their
// capture times, to a stream.Handler per connection.
//
// For every connection (stream.ConnKey, client first) the Assembler keeps,
// per direction, the next expected sequence number (wrap-around safe) and
// a bounded buffer of out-of-order segments, each with its own capture
// time. Retransmitted and overlapping bytes are trimmed and counted; where
// overlapping bytes differ, the bytes that arrived first win and a
// conflict is counted. Holes that cannot be filled (buffer overflow,
// FIN/RST with a hole, idle timeout, end of input) are skipped with
// Handler.Gap and delivery goes on. A hole below an acknowledgement the
// receiver already sent was lost by the capture (kernel drops), not by the
// network, so no retransmission will fill it: it is skipped ackGrace
// (10 ms of capture time) after the ACK, counted as CaptureLost.
//
// Time attached to delivered bytes: Handler.Data's ts is the capture time
// at which those bytes were all present at the capture point, in order.
// For a segment that arrives in order that is its own capture time. For a
// buffered out-of-order segment it is max(its own capture time, the
// capture time of the segment that filled the hole before it): a receiver
// could not have used the bytes any earlier, and latency is measured from
// the moment a message was complete on the wire. A hole that is skipped
// rather than filled never reached the capture point, so the segments
// behind it keep their own capture times. A segment is delivered
// in one Data call even when it is 64 KiB (GSO/GRO captures), so every
// Data call has exactly one time.
//
// Client and server: the sender of a SYN is the client. Without a SYN the
// sender of a SYN-ACK is the server; without either (the capture joined
// mid-stream, counted) the side on a well-known server port (443, 80,
// 8443, ... or Config.ServerPorts), or on an address and port that was
// seen as the server of another connection, is the server; failing that
// the lower port.
//
// Callbacks happen synchronously inside Add, FlushIdle and Flush, in
// packet order; sweeps and flushes visit connections in the order they
// were opened, so the callback sequence is deterministic.
//
// Buffers: the byte slices passed to Handler.Data are valid only during
// the call (they point into the packet or into the Assembler's buffers).
// The Assembler copies out-of-order segments it keeps. Add does not keep
// the Packet.
package tcpflow

import (
	"bytes"
	"errors"
	"net/netip"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Config tunes an Assembler. The zero value takes the defaults.
type Config struct {
	// MaxBuffered bounds the out-of-order bytes held per connection (both
	// directions); when it is exceeded the oldest hole is skipped as a
	// gap. Default 4 MiB.
	MaxBuffered int
	// IdleTimeout closes a connection that saw no packet for this long in
	// capture time. Default 2 minutes.
	IdleTimeout time.Duration
	// CloseWait is how long, after a FIN, a hole before it may still be
	// filled (reordering, retransmission) before it is skipped; it is also
	// how long a closed connection's late packets are recognised and
	// dropped. Default 1 s.
	CloseWait time.Duration
	// ServerPorts are ports judged to be the server's when a connection is
	// joined mid-stream, added to the built-in 80, 443, 8080, 8443, 9443.
	ServerPorts []uint16
}

// Defaults.
const (
	DefaultMaxBuffered = 4 << 20
	DefaultIdleTimeout = 2 * time.Minute
	DefaultCloseWait   = time.Second
)

var builtinServerPorts = []uint16{80, 443, 8080, 8443, 9443}

func (c *Config) setDefaults() error {
	if c.MaxBuffered < 0 || c.IdleTimeout < 0 || c.CloseWait < 0 {
		return errors.New("tcpflow: negative MaxBuffered, IdleTimeout or CloseWait")
	}
	if c.MaxBuffered == 0 {
		c.MaxBuffered = DefaultMaxBuffered
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.CloseWait == 0 {
		c.CloseWait = DefaultCloseWait
	}
	for _, p := range c.ServerPorts {
		if p == 0 {
			return errors.New("tcpflow: server port 0")
		}
	}
	return nil
}

// Opened says how a connection's client and server were judged.
type Opened uint8

const (
	OpenedSYN       Opened = iota // the client's SYN was captured
	OpenedSYNACK                  // only the server's SYN-ACK was captured
	OpenedMidStream               // no SYN at all: judged by port
)

func (o Opened) String() string {
	switch o {
	case OpenedSYN:
		return "syn"
	case OpenedSYNACK:
		return "syn-ack"
	default:
		return "mid-stream"
	}
}

// ConnInfo describes a new connection to the Factory.
type ConnInfo struct {
	FirstNS int64  // capture time of its first packet
	Opened  Opened // how client and server were judged
}

// Factory makes the handler of a new connection. A nil handler discards
// the connection's bytes (it is still tracked).
type Factory func(key stream.ConnKey, info ConnInfo) stream.Handler

// Stats counts what the Assembler saw.
type Stats struct {
	Packets            uint64 // TCP packets
	Bytes              uint64 // TCP payload bytes on the wire
	Ignored            uint64 // non-TCP packets, and TCP packets of no connection (stray ACK/FIN/RST, late packets after close)
	Connections        uint64 // connections opened
	MidStreamJoins     uint64 // connections whose client SYN was not captured
	RetransmittedBytes uint64 // bytes of segments that were entirely delivered or buffered already
	OverlapBytes       uint64 // bytes of partly new segments that were already delivered or buffered
	Conflicts          uint64 // overlaps whose bytes differed from the first copy (the first was kept)
	OutOfOrder         uint64 // segments buffered ahead of a hole
	OutOfWindow        uint64 // segments more than 1 GiB ahead, dropped
	Gaps               uint64 // holes skipped
	GapBytes           uint64 // bytes in skipped holes
	Overflows          uint64 // holes skipped because the buffer was full
	CaptureLost        uint64 // holes the receiver had acknowledged: bytes the capture missed (kernel drops), not the network
	ClosedFIN          uint64
	ClosedRST          uint64
	ClosedIdle         uint64
	ClosedFlush        uint64
}

// maxWindow bounds how far ahead of the next expected byte a segment may
// start; farther segments are taken as bogus.
const maxWindow = 1 << 30

// sweepEvery is how often, in capture time, idle and closing connections
// are checked.
const sweepEvery = int64(100 * time.Millisecond)

// ackGrace is how long (capture time) a hole that the receiver has already
// acknowledged may still be filled before it is skipped as lost by the
// capture. At a single tap an ACK never precedes its data, but merged
// captures and per-CPU timestamping can reorder them slightly.
const ackGrace = int64(10 * time.Millisecond)

// Assembler reassembles TCP connections. It is not safe for concurrent use.
type Assembler struct {
	cfg       Config
	newH      Factory
	conns     map[pairKey]*conn
	order     []*conn // open and recently closed connections, oldest first
	servers   map[netip.AddrPort]struct{}
	portBits  [1024]uint64
	nextSweep int64
	free      [][]byte // spare out-of-order buffers
	stats     Stats
}

// New makes an Assembler that calls newHandler for every new connection.
func New(cfg Config, newHandler Factory) (*Assembler, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	if newHandler == nil {
		return nil, errors.New("tcpflow: nil Factory")
	}
	a := &Assembler{cfg: cfg, newH: newHandler, conns: make(map[pairKey]*conn), servers: make(map[netip.AddrPort]struct{})}
	for _, p := range builtinServerPorts {
		a.portBits[p/64] |= 1 << (p % 64)
	}
	for _, p := range cfg.ServerPorts {
		a.portBits[p/64] |= 1 << (p % 64)
	}
	return a, nil
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats { return a.stats }

// Open returns the number of connections not yet closed.
func (a *Assembler) Open() int {
	n := 0
	for _, c := range a.order {
		if !c.closed {
			n++
		}
	}
	return n
}

// pairKey is a connection's endpoints in a fixed order (lower first).
type pairKey struct{ lo, hi netip.AddrPort }

func makePair(a, b netip.AddrPort) pairKey {
	if a.Compare(b) > 0 {
		a, b = b, a
	}
	return pairKey{a, b}
}

type conn struct {
	key      stream.ConnKey
	pair     pairKey
	h        stream.Handler
	half     [2]half
	buffered int   // out-of-order bytes held, both directions
	last     int64 // capture time of the last packet
	closed   bool
	closedAt int64
	gone     bool // replaced by a new connection on the same pair
}

type half struct {
	init   bool
	next   uint32 // next expected sequence number
	fin    bool
	finSeq uint32 // sequence number of the FIN
	done   bool   // every byte up to the FIN was delivered or skipped
	finBy  int64  // FIN seen with a hole before it: skip the hole at this capture time
	segs   []seg  // out-of-order segments, sorted, not overlapping
	// acked is the highest acknowledgement the other side sent for this
	// direction: bytes below it reached the receiver, so a hole below it
	// was lost by the capture and will never be retransmitted.
	acked    uint32
	ackValid bool
	ackSkip  int64 // an acknowledged hole is skipped at this capture time (0: none pending)
	lastTS   int64 // time attached to the last bytes delivered (delivery times never go back)
}

type seg struct {
	seq  uint32
	data []byte // owned copy
	tail int    // bytes after data that were on the wire but not captured
	ts   int64
}

// diff returns a-b as a signed distance in sequence space.
func diff(a, b uint32) int { return int(int32(a - b)) }

type discard struct{}

func (discard) Data(stream.Dir, []byte, int64) {}
func (discard) Gap(stream.Dir, int, int64)     {}
func (discard) Close(int64)                    {}

// Add feeds one captured packet. Packets that are not TCP are counted as
// ignored. Packets must come in capture order (a capture.Merge gives
// that for several files).
func (a *Assembler) Add(p *capture.Packet) {
	if !p.TCPUsable() {
		a.stats.Ignored++
		return
	}
	a.stats.Packets++
	a.stats.Bytes += uint64(p.PayloadLen)
	if p.TS >= a.nextSweep {
		a.sweep(p.TS)
		a.nextSweep = p.TS + sweepEvery
	}
	pk := makePair(p.Src, p.Dst)
	c := a.conns[pk]
	syn := p.Flags&capture.SYN != 0
	clientSYN := syn && p.Flags&capture.ACK == 0
	if c != nil && clientSYN {
		// A SYN on a known pair: a retransmission, or a new connection
		// reusing the ports.
		if !c.closed && c.key.Client == p.Src && c.half[stream.ClientToServer].init && c.half[stream.ClientToServer].next == p.Seq+1 && !c.half[stream.ClientToServer].done {
			c.last = p.TS
			return
		}
		if !c.closed {
			a.close(c, p.TS, &a.stats.ClosedFlush)
		}
		a.forget(c)
		c = nil
	}
	if c != nil && c.closed {
		a.stats.Ignored++ // late packet of a closed connection
		return
	}
	if c == nil {
		if !syn && p.PayloadLen == 0 {
			a.stats.Ignored++ // a stray ACK, FIN or RST opens nothing
			return
		}
		c = a.open(p, pk)
	}
	c.last = p.TS
	d := stream.ClientToServer
	if p.Src != c.key.Client {
		d = stream.ServerToClient
	}
	if p.Flags&capture.RST != 0 {
		a.close(c, p.TS, &a.stats.ClosedRST)
		return
	}
	h := &c.half[d]
	seq := p.Seq
	if syn {
		if !h.init {
			h.init, h.next = true, p.Seq+1
		}
		seq++
	}
	if p.Flags&capture.ACK != 0 {
		o := &c.half[d.Reverse()]
		if !o.init {
			// The peer's next byte is what this side acknowledges.
			o.init, o.next = true, p.Ack
		}
		if !o.ackValid || diff(p.Ack, o.acked) > 0 {
			o.acked, o.ackValid = p.Ack, true
			if len(o.segs) > 0 && diff(p.Ack, o.next) > 0 && o.ackSkip == 0 {
				o.ackSkip = p.TS + ackGrace
			}
		}
	}
	for hd := stream.ClientToServer; hd <= stream.ServerToClient; hd++ {
		if hh := &c.half[hd]; hh.ackSkip != 0 && p.TS >= hh.ackSkip {
			a.ackedHoles(c, hd, hh.ackSkip)
			if c.closed {
				return
			}
		}
	}
	if !h.init {
		h.init, h.next = true, seq // joined mid-stream: start here
	}
	if p.PayloadLen > 0 {
		a.segment(c, d, seq, p.Payload, p.PayloadLen-len(p.Payload), p.TS)
	}
	if p.Flags&capture.FIN != 0 && !h.fin {
		h.fin, h.finSeq = true, seq+uint32(p.PayloadLen)
		a.checkDone(c, d, p.TS)
	}
}

func (a *Assembler) isServer(ap netip.AddrPort) bool {
	port := ap.Port()
	if a.portBits[port/64]&(1<<(port%64)) != 0 {
		return true
	}
	_, ok := a.servers[ap]
	return ok
}

// maxKnownServers bounds the servers remembered from SYNs.
const maxKnownServers = 4096

func (a *Assembler) open(p *capture.Packet, pk pairKey) *conn {
	info := ConnInfo{FirstNS: p.TS, Opened: OpenedMidStream}
	key := stream.ConnKey{Client: p.Src, Server: p.Dst}
	switch {
	case p.Flags&capture.SYN != 0 && p.Flags&capture.ACK == 0:
		info.Opened = OpenedSYN
		if len(a.servers) < maxKnownServers {
			a.servers[p.Dst] = struct{}{}
		}
	case p.Flags&capture.SYN != 0:
		info.Opened = OpenedSYNACK
		key = stream.ConnKey{Client: p.Dst, Server: p.Src}
	default:
		srcS, dstS := a.isServer(p.Src), a.isServer(p.Dst)
		if srcS && !dstS || srcS == dstS && p.Src.Port() < p.Dst.Port() {
			key = stream.ConnKey{Client: p.Dst, Server: p.Src}
		}
	}
	if info.Opened != OpenedSYN {
		a.stats.MidStreamJoins++
	}
	a.stats.Connections++
	c := &conn{key: key, pair: pk}
	c.h = a.newH(key, info)
	if c.h == nil {
		c.h = discard{}
	}
	a.conns[pk] = c
	a.order = append(a.order, c)
	return c
}

// segment takes payload bytes [seq, seq+len(data)+tail) of direction d.
func (a *Assembler) segment(c *conn, d stream.Dir, seq uint32, data []byte, tail int, ts int64) {
	h := &c.half[d]
	n := len(data) + tail
	if h.fin { // nothing counts after the FIN
		if lim := diff(h.finSeq, seq); lim < n {
			if lim <= 0 {
				return
			}
			if lim < len(data) {
				data, tail = data[:lim], 0
			} else {
				tail = lim - len(data)
			}
			n = lim
		}
	}
	if h.done {
		a.stats.RetransmittedBytes += uint64(n)
		return
	}
	off := diff(seq, h.next)
	if off > maxWindow {
		a.stats.OutOfWindow++
		return
	}
	if off < 0 {
		dup := -off
		if dup >= n {
			a.stats.RetransmittedBytes += uint64(n)
			return
		}
		a.stats.OverlapBytes += uint64(dup)
		if dup <= len(data) {
			data = data[dup:]
		} else {
			tail -= dup - len(data)
			data = data[:0]
		}
		seq, off = h.next, 0
	}
	if off == 0 && len(h.segs) == 0 {
		// The common case: in order, nothing buffered. No copy.
		a.deliver(c, d, data, ts)
		if tail > 0 {
			a.gap(c, d, tail, ts)
		}
		a.checkDone(c, d, ts)
		return
	}
	if off > 0 && h.ackValid && diff(h.acked, h.next) > 0 && h.ackSkip == 0 {
		// The receiver already acknowledged bytes the capture never saw:
		// a retransmission will not come; skip them after the grace.
		h.ackSkip = ts + ackGrace
	}
	if off > 0 {
		a.stats.OutOfOrder++
	}
	a.insert(c, d, seq, data, tail, ts)
	a.drain(c, d, ts)
	for (c.buffered > a.cfg.MaxBuffered || len(c.half[d].segs) > maxSegs) && a.skipHole(c, ts) {
	}
	a.checkDone(c, d, ts)
}

// insert copies [seq, seq+len(data)+tail) into the buffer of direction d,
// keeping bytes already buffered where the new segment overlaps them.
func (a *Assembler) insert(c *conn, d stream.Dir, seq uint32, data []byte, tail int, ts int64) {
	h := &c.half[d]
	start := diff(seq, h.next)       // relative to next
	end := start + len(data) + tail  // exclusive
	dend := start + len(data)        // end of captured bytes
	piece := func(i, s, e int) int { // insert [s, e) before segs[i]
		if s >= e {
			return i
		}
		sg := seg{seq: h.next + uint32(s), ts: ts}
		if s < dend {
			de := min(e, dend)
			sg.data = a.alloc(de - s)
			copy(sg.data, data[s-start:de-start])
		}
		if e > dend {
			sg.tail = e - max(s, dend)
		}
		c.buffered += segCost(sg)
		h.segs = append(h.segs, seg{})
		copy(h.segs[i+1:], h.segs[i:])
		h.segs[i] = sg
		return i + 1
	}
	cur := start
	i := 0
	for i < len(h.segs) && cur < end {
		x := &h.segs[i]
		xs := diff(x.seq, h.next)
		xe := xs + len(x.data) + x.tail
		if xe <= cur {
			i++
			continue
		}
		if xs >= end {
			break
		}
		if cur < xs {
			i = piece(i, cur, xs)
			x = &h.segs[i]
		}
		// Overlap [max(cur, xs), min(end, xe)): the buffered copy wins.
		os, oe := max(cur, xs), min(end, xe)
		a.stats.OverlapBytes += uint64(oe - os)
		// Compare the captured bytes both copies have.
		cs, ce := max(os, start), min(oe, dend, xs+len(x.data))
		if cs < ce && !bytes.Equal(data[cs-start:ce-start], x.data[cs-xs:ce-xs]) {
			a.stats.Conflicts++
		}
		cur = xe
		i++
	}
	if cur < end {
		piece(i, cur, end)
	}
}

// drain delivers the buffered segments of direction d that are now in
// order, after the hole before them was filled at capture time fillTS.
// After a hole that was skipped rather than filled, fillTS is 0: the
// missing bytes never reached the capture point, so nothing says the
// segments behind them waited; each keeps its own capture time (using the
// skip time instead stamped every buffered tick with the end of the capture).
func (a *Assembler) drain(c *conn, d stream.Dir, fillTS int64) {
	h := &c.half[d]
	for len(h.segs) > 0 {
		s := h.segs[0]
		off := diff(s.seq, h.next)
		if off > 0 {
			break
		}
		copy(h.segs, h.segs[1:])
		h.segs = h.segs[:len(h.segs)-1]
		c.buffered -= segCost(s)
		data, tail := s.data, s.tail
		if dup := -off; dup > 0 { // a gap or an overlap moved next past its start
			if dup >= len(data)+tail {
				a.release(s.data)
				continue
			}
			if dup <= len(data) {
				data = data[dup:]
			} else {
				tail -= dup - len(data)
				data = data[:0]
			}
		}
		// Never earlier than bytes already delivered: a segment behind
		// another could not be complete before it.
		ts := max(s.ts, fillTS, h.lastTS)
		a.deliver(c, d, data, ts)
		if tail > 0 {
			a.gap(c, d, tail, ts)
		}
		a.release(s.data)
	}
}

// ackedHoles skips the holes of direction d below the other side's
// acknowledgement: the receiver has those bytes, the capture lost them.
func (a *Assembler) ackedHoles(c *conn, d stream.Dir, ts int64) {
	h := &c.half[d]
	h.ackSkip = 0
	for len(h.segs) > 0 && !h.done {
		lim := diff(h.acked, h.next)
		if h.fin {
			lim = min(lim, diff(h.finSeq, h.next))
		}
		hole := diff(h.segs[0].seq, h.next)
		if lim <= 0 || hole <= 0 {
			return
		}
		a.captureGap(c, d, min(lim, hole), ts)
		a.drain(c, d, 0)
	}
	a.checkDone(c, d, ts)
}

// captureGap skips n bytes that the receiver acknowledged but the capture
// never saw.
func (a *Assembler) captureGap(c *conn, d stream.Dir, n int, ts int64) {
	if n <= 0 {
		return
	}
	a.stats.CaptureLost++
	a.gap(c, d, n, ts)
}

// skipHole skips the hole before the earliest buffered segment (of either
// direction, client first on a tie) because the buffer is full. It
// reports whether there was one.
func (a *Assembler) skipHole(c *conn, ts int64) bool {
	d := stream.ClientToServer
	h0, h1 := &c.half[0], &c.half[1]
	if len(h0.segs) == 0 || len(h1.segs) > 0 && h1.segs[0].ts < h0.segs[0].ts {
		d = stream.ServerToClient
	}
	h := &c.half[d]
	if len(h.segs) == 0 {
		return false
	}
	a.stats.Overflows++
	a.gap(c, d, diff(h.segs[0].seq, h.next), ts)
	a.drain(c, d, 0)
	a.checkDone(c, d, ts)
	return true
}

func (a *Assembler) deliver(c *conn, d stream.Dir, b []byte, ts int64) {
	if len(b) == 0 {
		return
	}
	c.h.Data(d, b, ts)
	c.half[d].next += uint32(len(b))
	c.half[d].lastTS = max(c.half[d].lastTS, ts)
}

func (a *Assembler) gap(c *conn, d stream.Dir, n int, ts int64) {
	if n <= 0 {
		return
	}
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	c.h.Gap(d, n, ts)
	c.half[d].next += uint32(n)
}

// checkDone marks direction d finished when everything up to its FIN is
// through, and closes the connection when both are.
func (a *Assembler) checkDone(c *conn, d stream.Dir, ts int64) {
	h := &c.half[d]
	if h.fin && !h.done && diff(h.next, h.finSeq) >= 0 {
		h.done = true
		h.next = h.finSeq + 1
		for _, s := range h.segs {
			c.buffered -= segCost(s)
			a.release(s.data)
		}
		h.segs = h.segs[:0]
	}
	if c.half[0].done && c.half[1].done {
		a.close(c, ts, &a.stats.ClosedFIN)
		return
	}
	if h.fin && !h.done && h.finBy == 0 {
		h.finBy = ts + int64(a.cfg.CloseWait)
	}
}

// finishHalf skips the holes left before direction d's FIN.
func (a *Assembler) finishHalf(c *conn, d stream.Dir, ts int64) {
	h := &c.half[d]
	for len(h.segs) > 0 && !h.done {
		a.gap(c, d, diff(h.segs[0].seq, h.next), ts)
		a.drain(c, d, 0)
	}
	if h.fin && !h.done {
		a.gap(c, d, diff(h.finSeq, h.next), ts)
		h.done = true
	}
}

// close skips every remaining hole and closes the connection.
func (a *Assembler) close(c *conn, ts int64, counter *uint64) {
	if c.closed {
		return
	}
	for d := stream.ClientToServer; d <= stream.ServerToClient; d++ {
		a.finishHalf(c, d, ts)
		h := &c.half[d]
		for _, s := range h.segs {
			a.release(s.data)
		}
		h.segs = nil
	}
	c.buffered = 0
	c.closed, c.closedAt = true, ts
	*counter++
	c.h.Close(ts)
}

// forget drops a closed connection from the table.
func (a *Assembler) forget(c *conn) {
	if a.conns[c.pair] == c {
		delete(a.conns, c.pair)
	}
	c.gone = true // the next sweep drops it from order
}

// sweep skips the holes before FINs that waited CloseWait, closes idle
// connections, and forgets connections closed more than CloseWait ago.
func (a *Assembler) sweep(now int64) {
	idle, wait := int64(a.cfg.IdleTimeout), int64(a.cfg.CloseWait)
	keep := a.order[:0]
	for _, c := range a.order {
		if !c.closed {
			for d := stream.ClientToServer; d <= stream.ServerToClient; d++ {
				if h := &c.half[d]; h.ackSkip != 0 && now >= h.ackSkip {
					a.ackedHoles(c, d, h.ackSkip)
				}
				if c.closed {
					break
				}
				if h := &c.half[d]; h.finBy != 0 && !h.done && now >= h.finBy {
					at := h.finBy // the time we gave up, whatever the sweep's
					a.finishHalf(c, d, at)
					a.checkDone(c, d, at)
				}
			}
		}
		if !c.closed && now-c.last >= idle {
			a.close(c, c.last+idle, &a.stats.ClosedIdle)
		}
		if c.gone || c.closed && now-c.closedAt >= wait {
			if a.conns[c.pair] == c {
				delete(a.conns, c.pair)
			}
			continue
		}
		keep = append(keep, c)
	}
	clear(a.order[len(keep):])
	a.order = keep
}

// FlushIdle closes connections idle since before now-IdleTimeout (capture
// time), at the time they reached the timeout, and skips holes before FINs
// that waited CloseWait, at that time. Add does this by itself as capture time advances; call FlushIdle
// when no packets come (a quiet live capture).
func (a *Assembler) FlushIdle(now int64) { a.sweep(now) }

// Flush closes every open connection at capture time ts, skipping their
// holes, oldest connection first. Call it at the end of input.
func (a *Assembler) Flush(ts int64) {
	for _, c := range a.order {
		if !c.closed {
			a.close(c, ts, &a.stats.ClosedFlush)
		}
	}
	clear(a.order)
	a.order = a.order[:0]
	clear(a.conns)
}

// alloc returns a buffer of n bytes for an out-of-order segment.
func (a *Assembler) alloc(n int) []byte {
	for i := len(a.free) - 1; i >= 0 && i >= len(a.free)-8; i-- {
		if b := a.free[i]; cap(b) >= n {
			a.free[i] = a.free[len(a.free)-1]
			a.free = a.free[:len(a.free)-1]
			return b[:n]
		}
	}
	return make([]byte, n, max(n, 2048))
}

// segCost is what a buffered segment counts against MaxBuffered: its
// buffer's capacity plus its bookkeeping, so that many tiny (or snap-cut,
// data-less) segments cannot hold far more memory than the bound says.
func segCost(s seg) int { return cap(s.data) + 64 }

// maxSegs bounds the out-of-order segments held per direction (inserting
// shifts the slice, so a hostile capture must not make it huge).
const maxSegs = 1 << 14

// maxFree bounds the spare buffers kept.
const maxFree = 256

func (a *Assembler) release(b []byte) {
	if cap(b) >= 2048 && cap(b) <= 1<<17 && len(a.free) < maxFree {
		a.free = append(a.free, b[:0])
	}
}
