package httpdec

import (
	"bytes"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

type pstate uint8

const (
	psHeader     pstate = iota // start line and header fields
	psBody                     // Content-Length body
	psChunkSize                // chunk-size line
	psChunkData                // chunk data
	psChunkEnd                 // CRLF after chunk data
	psTrailer                  // trailer fields after the last chunk
	psUntilClose               // response body delimited by the end of the connection
	psHold                     // client side: waiting to learn whether an upgrade happened
	psWS                       // bytes belong to the WebSocket decoder
	psDead                     // error, gap or tunnel: bytes are skipped
)

// half parses the messages of one direction.
type half struct {
	c     *Conn
	dir   stream.Dir
	state pstate
	off   int64 // offset of the next byte of the direction

	hbuf      []byte // start line and header fields of the current message
	lineStart int
	fields    Header
	tbuf      []byte // trailer fields
	tlineSt   int
	trailer   Header
	lbuf      []byte // chunk-size line
	body      []byte
	remaining int64 // bytes left of a Content-Length body or a chunk
	chunkCR   bool  // psChunkEnd: the CR was seen

	started bool // the current message has its first byte
	first   int64
	msgOff  int64
	msg     Message
}

func (h *half) reset() {
	h.hbuf = h.hbuf[:0]
	h.lineStart = 0
	h.tbuf = h.tbuf[:0]
	h.tlineSt = 0
	h.lbuf = h.lbuf[:0]
	h.body = h.body[:0]
	h.started = false
	h.state = psHeader
}

func (h *half) fail(off int64, err error, reason string) {
	h.c.fail(h.dir, off, err, reason)
}

func (h *half) begin(span stream.Span) {
	if !h.started {
		h.started = true
		h.first = span.FirstNS
		h.msgOff = h.off
	}
}

// feed consumes b; it returns the bytes it did not consume because the
// direction switched to WebSocket or the hold state (the caller routes them).
func (h *half) feed(b []byte, span stream.Span) []byte {
	for len(b) > 0 {
		switch h.state {
		case psDead:
			h.c.stats.SkippedBytes += int64(len(b))
			return nil
		case psHold, psWS:
			return b
		case psHeader:
			b = h.header(b, span)
		case psBody:
			n := min(int64(len(b)), h.remaining)
			h.body = append(h.body, b[:n]...)
			h.remaining -= n
			h.off += n
			b = b[n:]
			if h.remaining == 0 {
				h.done(span)
			}
		case psChunkSize:
			b = h.chunkSize(b, span)
		case psChunkData:
			n := min(int64(len(b)), h.remaining)
			h.body = append(h.body, b[:n]...)
			h.remaining -= n
			h.off += n
			b = b[n:]
			if h.remaining == 0 {
				h.state = psChunkEnd
				h.chunkCR = false
			}
		case psChunkEnd:
			c := b[0]
			if c == '\r' && !h.chunkCR {
				h.chunkCR = true
			} else if c == '\n' {
				h.state = psChunkSize
			} else {
				h.fail(h.off, ErrSyntax, "missing CRLF after chunk data, found "+quote(b[:1]))
				continue
			}
			h.off++
			b = b[1:]
		case psTrailer:
			b = h.trailerLines(b, span)
		case psUntilClose:
			if len(h.body)+len(b) > h.c.cfg.MaxBody {
				h.fail(h.off+int64(h.c.cfg.MaxBody-len(h.body)), ErrTooLarge, "body delimited by close exceeds "+strconv.Itoa(h.c.cfg.MaxBody)+" bytes")
				continue
			}
			h.body = append(h.body, b...)
			h.off += int64(len(b))
			h.msg.Span.LastNS = span.LastNS
			b = nil
		}
	}
	return nil
}

// header accumulates the start line and header fields up to the empty
// line that ends them.
func (h *half) header(b []byte, span stream.Span) []byte {
	for len(b) > 0 && h.state == psHeader {
		if !h.started && len(h.hbuf) == 0 && (b[0] == '\r' || b[0] == '\n') {
			// RFC 9112 2.2: ignore empty lines before a start line.
			h.off++
			b = b[1:]
			continue
		}
		h.begin(span)
		i := bytes.IndexByte(b, '\n')
		n := len(b)
		if i >= 0 {
			n = i + 1
		}
		if len(h.hbuf)+n > h.c.cfg.MaxHeaderBytes {
			h.fail(h.msgOff, ErrTooLarge, "header section exceeds "+strconv.Itoa(h.c.cfg.MaxHeaderBytes)+" bytes")
			return b
		}
		h.hbuf = append(h.hbuf, b[:n]...)
		h.off += int64(n)
		b = b[n:]
		if i < 0 {
			return b
		}
		line := trimEOL(h.hbuf[h.lineStart:])
		h.lineStart = len(h.hbuf)
		if len(line) == 0 {
			h.headerDone(span)
		}
	}
	return b
}

func trimEOL(line []byte) []byte {
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line
}

// parseFields splits a block of complete lines into fields, reusing dst.
// It returns the offending line on a syntax error.
func parseFields(dst Header, block []byte) (Header, []byte, string) {
	for len(block) > 0 {
		i := bytes.IndexByte(block, '\n')
		line := trimEOL(block[:i+1])
		block = block[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return dst, line, "obsolete line folding"
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return dst, line, "header line without a field name and colon"
		}
		name := line[:colon]
		if !isToken(name) {
			return dst, line, "bad header field name"
		}
		dst = append(dst, Field{Name: name, Value: trimOWS(line[colon+1:])})
	}
	return dst, nil, ""
}

func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
		switch c {
		case '(', ')', ',', '/', ':', ';', '<', '=', '>', '?', '@', '[', '\\', ']', '{', '}', '"':
			return false
		}
	}
	return true
}

// parseVersion parses "HTTP/d.d".
func parseVersion(b []byte) (major, minor int, ok bool) {
	if len(b) != 8 || string(b[:5]) != "HTTP/" || b[6] != '.' ||
		b[5] < '0' || b[5] > '9' || b[7] < '0' || b[7] > '9' {
		return 0, 0, false
	}
	return int(b[5] - '0'), int(b[7] - '0'), true
}

func (h *half) headerDone(span stream.Span) {
	m := &h.msg
	*m = Message{Dir: h.dir, Header: h.fields[:0], Seq: -1}
	m.Span.FirstNS = h.first
	m.Offset = h.msgOff
	i := bytes.IndexByte(h.hbuf, '\n')
	start := trimEOL(h.hbuf[:i+1])
	var ok bool
	if h.dir == stream.ClientToServer {
		m.IsRequest = true
		sp1 := bytes.IndexByte(start, ' ')
		sp2 := bytes.LastIndexByte(start, ' ')
		if sp1 <= 0 || sp2 <= sp1+1 {
			h.fail(h.msgOff, ErrSyntax, "bad request line "+quote(start))
			return
		}
		m.Method, m.Target = start[:sp1], start[sp1+1:sp2]
		if !isToken(m.Method) {
			h.fail(h.msgOff, ErrSyntax, "bad method "+quote(m.Method))
			return
		}
		m.ProtoMajor, m.ProtoMinor, ok = parseVersion(start[sp2+1:])
		if !ok {
			h.fail(h.msgOff, ErrSyntax, "bad HTTP version in request line "+quote(start))
			return
		}
	} else {
		var rest []byte
		ver, rest := cutByte(start, ' ')
		m.ProtoMajor, m.ProtoMinor, ok = parseVersion(ver)
		if !ok {
			h.fail(h.msgOff, ErrSyntax, "bad status line "+quote(start))
			return
		}
		code, reason := cutByte(rest, ' ')
		if len(code) != 3 || code[0] < '1' || code[0] > '5' || code[1] < '0' || code[1] > '9' || code[2] < '0' || code[2] > '9' {
			h.fail(h.msgOff, ErrSyntax, "bad status code "+quote(code))
			return
		}
		m.StatusCode = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
		m.Reason = reason
	}
	if m.ProtoMajor != 1 {
		h.fail(h.msgOff, ErrUnsupported, "HTTP version "+quote(start)+" is not HTTP/1.x")
		return
	}
	fields, bad, why := parseFields(h.fields[:0], h.hbuf[i+1:])
	h.fields = fields
	m.Header = fields
	if why != "" {
		h.fail(h.msgOff, ErrSyntax, why+" "+quote(bad))
		return
	}
	h.c.framing(h, span)
}

// startContentLength sets up a body of n bytes.
func (h *half) startContentLength(n int64, span stream.Span) {
	if n > int64(h.c.cfg.MaxBody) {
		h.fail(h.msgOff, ErrTooLarge, "Content-Length "+strconv.FormatInt(n, 10)+" exceeds "+strconv.Itoa(h.c.cfg.MaxBody)+" bytes")
		return
	}
	if n == 0 {
		h.done(span)
		return
	}
	h.remaining = n
	h.state = psBody
}

func (h *half) chunkSize(b []byte, span stream.Span) []byte {
	i := bytes.IndexByte(b, '\n')
	n := len(b)
	if i >= 0 {
		n = i + 1
	}
	if len(h.lbuf)+n > 4096 {
		h.fail(h.off-int64(len(h.lbuf)), ErrTooLarge, "chunk-size line exceeds 4096 bytes")
		return b
	}
	h.lbuf = append(h.lbuf, b[:n]...)
	lineOff := h.off + int64(n) - int64(len(h.lbuf))
	h.off += int64(n)
	b = b[n:]
	if i < 0 {
		return b
	}
	line := trimEOL(h.lbuf)
	h.lbuf = h.lbuf[:0]
	hex, _ := cutByte(line, ';') // chunk extensions are ignored
	hex = trimOWS(hex)
	size, ok := parseHex(hex)
	if !ok {
		h.fail(lineOff, ErrSyntax, "bad chunk size "+quote(hex))
		return b
	}
	if size == 0 {
		h.state = psTrailer
		return b
	}
	if size > int64(h.c.cfg.MaxBody-len(h.body)) {
		h.fail(lineOff, ErrTooLarge, "chunked body exceeds "+strconv.Itoa(h.c.cfg.MaxBody)+" bytes")
		return b
	}
	h.remaining = size
	h.state = psChunkData
	return b
}

func parseHex(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 15 {
		return 0, false
	}
	var v int64
	for _, c := range b {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		v = v<<4 | int64(c)
	}
	return v, true
}

func (h *half) trailerLines(b []byte, span stream.Span) []byte {
	for len(b) > 0 && h.state == psTrailer {
		i := bytes.IndexByte(b, '\n')
		n := len(b)
		if i >= 0 {
			n = i + 1
		}
		if len(h.tbuf)+n > h.c.cfg.MaxHeaderBytes {
			h.fail(h.off-int64(len(h.tbuf)), ErrTooLarge, "trailer section exceeds "+strconv.Itoa(h.c.cfg.MaxHeaderBytes)+" bytes")
			return b
		}
		h.tbuf = append(h.tbuf, b[:n]...)
		h.off += int64(n)
		b = b[n:]
		if i < 0 {
			return b
		}
		line := trimEOL(h.tbuf[h.tlineSt:])
		h.tlineSt = len(h.tbuf)
		if len(line) > 0 {
			continue
		}
		tr, bad, why := parseFields(h.trailer[:0], h.tbuf)
		h.trailer = tr
		if why != "" {
			h.fail(h.off-int64(len(h.tbuf)), ErrSyntax, "trailer: "+why+" "+quote(bad))
			return b
		}
		h.msg.Trailer = tr
		h.done(span)
	}
	return b
}

// done completes the current message and emits it.
func (h *half) done(span stream.Span) {
	m := &h.msg
	m.Span.LastNS = span.LastNS
	m.WireBytes = h.off - h.msgOff
	if len(h.body) > 0 {
		m.Body = h.body
	}
	h.reset()
	h.c.emit(h, m)
	if cap(h.body) > keepBody {
		h.body = nil
	}
}

// keepBody is the largest body buffer kept for the next message.
const keepBody = 1 << 20
