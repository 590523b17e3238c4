package ws

import (
	"encoding/binary"
	"slices"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

const maxControlPayload = 125

type state uint8

const (
	stHeader state = iota
	stPayload
	stDead
)

type target uint8

const (
	toControl target = iota
	toMessage
	toCompressed
)

// Decoder decodes the frames of one direction of one WebSocket connection.
// It is not safe for concurrent use.
type Decoder struct {
	dir  stream.Dir
	cfg  Config
	max  int
	emit func(*Message)

	off   int64 // stream offset of the next byte
	state state
	err   error
	stats Stats

	// frame header being read
	hdr        [14]byte
	hn, hlen   int
	frameFirst int64
	frameOff   int64

	// frame being read
	fin       bool
	op        Opcode
	masked    bool
	key       [4]byte
	maskPos   int
	remaining int64
	flen      int64
	tgt       target

	// data message being assembled
	inMsg      bool
	msgOp      Opcode
	msgComp    bool
	msgMasked  bool
	msgFrames  int
	msgWire    int64
	msgFirst   int64
	msgOff     int64
	payload    []byte // uncompressed payload, or inflated output
	compressed []byte // compressed payload of a message (with room for the tail)

	ctrl    [maxControlPayload]byte
	ctrlLen int

	inf inflater
	out Message
}

// NewDecoder returns a decoder for direction dir that calls emit for every
// complete message and control frame. The *Message and its slices are valid
// only during the call. cfg must pass Validate; an invalid cfg is reported
// by Err on the first Feed.
func NewDecoder(dir stream.Dir, cfg Config, emit func(*Message)) *Decoder {
	d := &Decoder{dir: dir, cfg: cfg, emit: emit}
	d.max = cfg.MaxMessage
	if d.max == 0 {
		d.max = DefaultMaxMessage
	}
	if err := cfg.Validate(); err != nil {
		d.err = err
		d.state = stDead
		return d
	}
	if cfg.Deflate.Enabled {
		bits, noTakeover := cfg.Deflate.ServerMaxWindowBits, cfg.Deflate.ServerNoContextTakeover
		if dir == stream.ClientToServer {
			bits, noTakeover = cfg.Deflate.ClientMaxWindowBits, cfg.Deflate.ClientNoContextTakeover
		}
		if bits == 0 {
			bits = 15
		}
		d.inf.init(bits, !noTakeover)
	}
	return d
}

// Err returns the error that stopped the decoder, or nil.
func (d *Decoder) Err() error { return d.err }

// Stats returns the decoder's counters.
func (d *Decoder) Stats() Stats { return d.stats }

// Offset returns the number of bytes fed so far.
func (d *Decoder) Offset() int64 { return d.stats.Bytes }

// Partial reports whether the decoder holds an incomplete frame or message
// (bytes that a Close now would lose).
func (d *Decoder) Partial() bool {
	return d.state != stDead && (d.hn > 0 || d.state == stPayload || d.inMsg)
}

func (d *Decoder) fail(err error, reason string) {
	d.err = &Error{Dir: d.dir, Offset: d.frameOff, Reason: reason, Err: err}
	d.stats.Errors++
	d.state = stDead
	d.payload, d.compressed = nil, nil // give the memory back
}

// Feed decodes the next piece of the direction's bytes, captured over span.
// b is not retained. After an error, Feed only counts the bytes it skips.
func (d *Decoder) Feed(b []byte, span stream.Span) {
	d.stats.Bytes += int64(len(b))
	for len(b) > 0 {
		switch d.state {
		case stDead:
			d.stats.SkippedBytes += int64(len(b))
			return
		case stHeader:
			if d.hn == 0 {
				d.frameFirst = span.FirstNS
				d.frameOff = d.off
				d.hlen = 2
			}
			n := copy(d.hdr[d.hn:d.hlen], b)
			d.hn += n
			d.off += int64(n)
			b = b[n:]
			if d.hn == 2 && d.hlen == 2 {
				d.hlen = headerLen(d.hdr[1])
			}
			if d.hn < d.hlen {
				continue
			}
			if !d.beginFrame() {
				continue // failed; the stDead case counts the rest
			}
			if d.remaining == 0 {
				d.endFrame(span)
			}
		case stPayload:
			n := len(b)
			if int64(n) > d.remaining {
				n = int(d.remaining)
			}
			d.copyPayload(b[:n])
			d.remaining -= int64(n)
			d.off += int64(n)
			b = b[n:]
			if d.remaining == 0 {
				d.endFrame(span)
			}
		}
	}
}

func headerLen(b1 byte) int {
	n := 2
	switch b1 & 0x7f {
	case 126:
		n += 2
	case 127:
		n += 8
	}
	if b1&0x80 != 0 {
		n += 4
	}
	return n
}

// beginFrame validates the complete header in d.hdr and prepares to read
// the payload. It reports false after failing the decoder.
func (d *Decoder) beginFrame() bool {
	b0 := d.hdr[0]
	if !d.readHeader() {
		return false
	}
	if b0&0x30 != 0 {
		d.fail(ErrProtocol, "reserved bits RSV2/RSV3 set")
		return false
	}
	rsv1 := b0&0x40 != 0
	var ok bool
	switch d.op {
	case OpClose, OpPing, OpPong:
		ok = d.startControl(rsv1)
	case OpText, OpBinary:
		ok = d.startMessage(rsv1)
	case OpContinuation:
		ok = d.continueMessage(rsv1)
	default:
		d.fail(ErrProtocol, "reserved opcode 0x"+strconv.FormatUint(uint64(d.op), 16))
	}
	if !ok {
		return false
	}
	d.msgWireAdd(int64(d.hlen))
	if d.tgt != toControl && !d.reservePayload() {
		return false
	}
	d.state = stPayload
	return true
}

// readHeader decodes the fin bit, opcode, mask and payload length of the
// complete header in d.hdr and counts the frame.
func (d *Decoder) readHeader() bool {
	h := d.hdr[:d.hlen]
	d.hn = 0
	b0, b1 := h[0], h[1]
	d.fin = b0&0x80 != 0
	d.op = Opcode(b0 & 0x0f)
	d.masked = b1&0x80 != 0
	p := 2
	switch l := b1 & 0x7f; l {
	case 126:
		d.flen = int64(binary.BigEndian.Uint16(h[2:]))
		p = 4
	case 127:
		u := binary.BigEndian.Uint64(h[2:])
		if u>>63 != 0 {
			d.fail(ErrProtocol, "64-bit payload length has its top bit set")
			return false
		}
		d.flen = int64(u)
		p = 10
	default:
		d.flen = int64(l)
	}
	if d.masked {
		copy(d.key[:], h[p:p+4])
	}
	d.maskPos = 0
	d.remaining = d.flen
	d.stats.Frames++
	if d.masked != (d.dir == stream.ClientToServer) {
		d.stats.UnexpectedMasks++
	}
	return true
}

// startControl checks a close, ping or pong frame (RFC 6455 5.5).
func (d *Decoder) startControl(rsv1 bool) bool {
	if !d.fin {
		d.fail(ErrProtocol, "fragmented "+d.op.String()+" frame")
		return false
	}
	if rsv1 {
		d.fail(ErrProtocol, "RSV1 set on a "+d.op.String()+" frame")
		return false
	}
	if d.flen > maxControlPayload {
		d.fail(ErrProtocol, d.op.String()+" frame payload of "+strconv.FormatInt(d.flen, 10)+" bytes exceeds 125")
		return false
	}
	d.tgt = toControl
	d.ctrlLen = 0
	return true
}

// startMessage begins a text or binary message with its first frame.
func (d *Decoder) startMessage(rsv1 bool) bool {
	if d.inMsg {
		d.fail(ErrProtocol, "new "+d.op.String()+" frame inside a fragmented message")
		return false
	}
	if rsv1 && !d.cfg.Deflate.Enabled {
		d.fail(ErrProtocol, "RSV1 set without permessage-deflate")
		return false
	}
	d.inMsg = true
	d.msgOp = d.op
	d.msgComp = rsv1
	d.msgMasked = d.masked
	d.msgFrames = 0
	d.msgWire = 0
	d.msgFirst = d.frameFirst
	d.msgOff = d.frameOff
	d.payload = d.payload[:0]
	d.compressed = d.compressed[:0]
	d.tgt = toMessage
	if rsv1 {
		d.tgt = toCompressed
	}
	return true
}

// continueMessage adds a continuation frame to the message in progress.
func (d *Decoder) continueMessage(rsv1 bool) bool {
	if !d.inMsg {
		d.fail(ErrProtocol, "continuation frame without a message to continue")
		return false
	}
	if rsv1 {
		d.fail(ErrProtocol, "RSV1 set on a continuation frame")
		return false
	}
	d.tgt = toMessage
	if d.msgComp {
		d.tgt = toCompressed
	}
	return true
}

// reservePayload makes room for the frame's payload in the message,
// failing a message that would exceed the limit.
func (d *Decoder) reservePayload() bool {
	have := len(d.payload)
	if d.tgt == toCompressed {
		have = len(d.compressed)
	}
	if d.flen > int64(d.max-have) {
		d.fail(ErrTooLarge, "message of more than "+strconv.Itoa(d.max)+" bytes")
		return false
	}
	if d.tgt == toCompressed {
		// +4: room for the deflate tail appended before inflating.
		d.compressed = slices.Grow(d.compressed, int(d.flen)+4)
	} else {
		d.payload = slices.Grow(d.payload, int(d.flen))
	}
	return true
}

func (d *Decoder) msgWireAdd(n int64) {
	if d.op.IsControl() {
		return
	}
	d.msgWire += n
}

func (d *Decoder) copyPayload(b []byte) {
	var dst []byte
	switch d.tgt {
	case toControl:
		dst = d.ctrl[d.ctrlLen : d.ctrlLen+len(b)]
		d.ctrlLen += len(b)
	case toMessage:
		n := len(d.payload)
		d.payload = d.payload[:n+len(b)]
		dst = d.payload[n:]
	case toCompressed:
		n := len(d.compressed)
		d.compressed = d.compressed[:n+len(b)]
		dst = d.compressed[n:]
	}
	copy(dst, b)
	if d.masked {
		d.maskPos = maskBytes(d.key, d.maskPos, dst)
	}
}

func (d *Decoder) endFrame(span stream.Span) {
	d.state = stHeader
	m := &d.out
	if d.op.IsControl() {
		*m = Message{
			Opcode:    d.op,
			Payload:   d.ctrl[:d.ctrlLen],
			Span:      stream.Span{FirstNS: d.frameFirst, LastNS: span.LastNS},
			Control:   true,
			Masked:    d.masked,
			Frames:    1,
			WireBytes: int64(d.hlen) + d.flen,
			Offset:    d.frameOff,
		}
		if d.op == OpClose && d.ctrlLen >= 2 {
			m.CloseCode = binary.BigEndian.Uint16(d.ctrl[:2])
			m.CloseReason = d.ctrl[2:d.ctrlLen]
		}
		d.stats.ControlFrames++
		d.emit(m)
		return
	}
	d.msgFrames++
	d.msgWire += d.flen
	if !d.fin {
		return
	}
	d.inMsg = false
	if d.msgComp {
		out, reason, err := d.inf.inflate(d.compressed, d.payload[:0], d.max)
		if err != nil {
			d.frameOff = d.msgOff
			d.fail(err, reason)
			return
		}
		d.payload = out
		d.stats.Compressed++
		d.stats.InflatedBytes += int64(len(out))
	}
	*m = Message{
		Opcode:     d.msgOp,
		Payload:    d.payload,
		Span:       stream.Span{FirstNS: d.msgFirst, LastNS: span.LastNS},
		Compressed: d.msgComp,
		Masked:     d.msgMasked,
		Frames:     d.msgFrames,
		WireBytes:  d.msgWire,
		Offset:     d.msgOff,
	}
	d.stats.Messages++
	d.emit(m)
	if cap(d.payload) > keepBuffer {
		d.payload = nil
	}
	if cap(d.compressed) > keepBuffer {
		d.compressed = nil
	}
}

// keepBuffer is the largest message buffer kept for the next message.
const keepBuffer = 1 << 20

// maskBytes XORs b with the masking key, starting at key position pos
// (0..3), and returns the key position after b.
func maskBytes(key [4]byte, pos int, b []byte) int {
	i := 0
	if len(b) >= 8 {
		k := uint64(key[pos&3]) | uint64(key[(pos+1)&3])<<8 | uint64(key[(pos+2)&3])<<16 | uint64(key[(pos+3)&3])<<24
		k |= k << 32
		for ; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= key[(pos+i)&3]
	}
	return (pos + len(b)) & 3
}

// StartAt sets the stream offset of the next byte, so that offsets in
// messages and errors count from the start of the connection rather than
// from the upgrade. Call it before the first Feed.
func (d *Decoder) StartAt(off int64) { d.off = off }
