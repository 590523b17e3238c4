package httpdec

import (
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// pending is a request awaiting its response.
type pending struct {
	seq     int64
	method  [24]byte
	mlen    int
	head    bool
	connect bool
	upgrade bool
	span    stream.Span
}

type heldPiece struct {
	n    int
	span stream.Span
}

// Conn decodes both directions of one connection and pairs responses with
// requests first in, first out. It implements stream.Handler for callers
// that have one capture time per piece. It is not safe for concurrent use.
type Conn struct {
	cfg   Config
	hd    Handler
	h     [2]half
	err   error
	stats Stats

	// requests awaiting responses: a ring of up to cfg.MaxPipeline
	ring    []pending
	rhead   int
	rcount  int
	nextSeq int
	cur     pending // the request paired with the response being decoded

	// client bytes held after an upgrade request until its response
	held       []byte
	heldPieces []heldPiece

	ws    [2]*ws.Decoder
	wsCfg ws.Config
}

var _ stream.Handler = (*Conn)(nil)

// NewConn returns a Conn that sends decoded messages to hd. An invalid cfg
// is reported by Err and nothing is decoded.
func NewConn(cfg Config, hd Handler) *Conn {
	c := &Conn{cfg: cfg.withDefaults(), hd: hd}
	for d := range c.h {
		c.h[d].c = c
		c.h[d].dir = stream.Dir(d)
	}
	if err := cfg.Validate(); err != nil {
		c.err = err
		c.h[0].state, c.h[1].state = psDead, psDead
	}
	return c
}

// Err returns the first error of the connection (HTTP, or WebSocket after
// an upgrade), or nil.
func (c *Conn) Err() error {
	if c.err != nil {
		return c.err
	}
	for _, d := range c.ws {
		if d != nil && d.Err() != nil {
			return d.Err()
		}
	}
	return nil
}

// Stats returns the connection's counters.
func (c *Conn) Stats() Stats {
	s := c.stats
	for i, d := range c.ws {
		if d != nil {
			s.WS[i] = d.Stats()
		}
	}
	return s
}

// WebSocket reports whether the connection switched to WebSocket, and the
// configuration its decoders use.
func (c *Conn) WebSocket() (ws.Config, bool) { return c.wsCfg, c.ws[0] != nil }

// Feed decodes the next piece of direction dir, captured over span. b is
// not retained.
func (c *Conn) Feed(dir stream.Dir, b []byte, span stream.Span) {
	dir &= 1
	c.stats.Bytes[dir] += int64(len(b))
	c.route(dir, b, span)
}

func (c *Conn) route(dir stream.Dir, b []byte, span stream.Span) {
	h := &c.h[dir]
	b = h.feed(b, span)
	if len(b) == 0 {
		return
	}
	switch h.state {
	case psWS:
		c.ws[dir].Feed(b, span)
	case psHold:
		c.hold(b, span)
	}
}

// Data implements stream.Handler: a piece with a single capture time.
func (c *Conn) Data(dir stream.Dir, b []byte, ts int64) {
	c.Feed(dir, b, stream.Span{FirstNS: ts, LastNS: ts})
}

// Gap implements stream.Handler. Neither HTTP nor WebSocket can find
// their place again after missing bytes, so the connection is abandoned
// with an ErrGap error.
func (c *Conn) Gap(dir stream.Dir, n int, ts int64) {
	dir &= 1
	c.fail(dir, c.h[dir].off, ErrGap, strconv.Itoa(n)+" bytes missing from the capture")
}

// Close implements stream.Handler: it completes a response delimited by
// the end of the connection and reports (ErrTruncated) a message left
// incomplete.
func (c *Conn) Close(ts int64) {
	for d := range c.h {
		h := &c.h[d]
		switch {
		case h.state == psUntilClose:
			m := &h.msg
			m.WireBytes = h.off - h.msgOff
			if len(h.body) > 0 {
				m.Body = h.body
			}
			h.reset()
			c.emit(h, m)
		case h.state == psWS:
			if c.ws[d].Partial() && c.err == nil {
				c.fail(stream.Dir(d), c.ws[d].Offset(), ErrTruncated, "connection closed inside a WebSocket frame")
			}
		case h.state == psHold:
			if len(c.held) > 0 && c.err == nil {
				c.fail(stream.Dir(d), h.off, ErrTruncated, "connection closed while an upgrade awaited its response")
			}
		case h.state != psDead && (h.started || h.state != psHeader):
			c.fail(stream.Dir(d), h.msgOff, ErrTruncated, "connection closed inside a message")
		}
	}
}

func (c *Conn) fail(dir stream.Dir, off int64, err error, reason string) {
	if c.err == nil {
		c.err = &Error{Dir: dir, Offset: off, Reason: reason, Err: err}
	}
	c.stats.Errors++
	c.abandon()
}

func (c *Conn) abandon() {
	for d := range c.h {
		c.h[d].state = psDead
		c.h[d].hbuf, c.h[d].body, c.h[d].tbuf = nil, nil, nil
	}
	c.stats.SkippedBytes += int64(len(c.held))
	c.held, c.heldPieces = nil, nil
}

func (c *Conn) hold(b []byte, span stream.Span) {
	if len(c.held)+len(b) > c.cfg.MaxPending {
		c.stats.SkippedBytes += int64(len(b))
		c.fail(stream.ClientToServer, c.h[0].off, ErrTooLarge, "more than "+strconv.Itoa(c.cfg.MaxPending)+" client bytes while an upgrade awaited its response")
		return
	}
	c.held = append(c.held, b...)
	c.heldPieces = append(c.heldPieces, heldPiece{n: len(b), span: span})
}

// release hands the held client bytes to the client side again, now
// routed to HTTP or to WebSocket.
func (c *Conn) release() {
	held, pieces := c.held, c.heldPieces
	c.held, c.heldPieces = nil, nil
	for _, p := range pieces {
		c.route(stream.ClientToServer, held[:p.n], p.span)
		held = held[p.n:]
	}
}

// framing decides how the body of h's message is delimited, once its
// header is parsed.
func (c *Conn) framing(h *half, span stream.Span) {
	m := &h.msg
	if m.IsRequest {
		c.requestFraming(h, span)
	} else {
		c.responseFraming(h, span)
	}
}

func (c *Conn) requestFraming(h *half, span stream.Span) {
	m := &h.msg
	m.Upgrade = m.Header.HasToken("Upgrade", "websocket")
	if c.rcount == c.cfg.MaxPipeline {
		h.fail(h.msgOff, ErrTooLarge, "more than "+strconv.Itoa(c.cfg.MaxPipeline)+" requests awaiting responses")
		return
	}
	if c.ring == nil {
		c.ring = make([]pending, min(16, c.cfg.MaxPipeline))
	} else if c.rcount == len(c.ring) {
		grown := make([]pending, min(2*len(c.ring), c.cfg.MaxPipeline))
		for i := 0; i < c.rcount; i++ {
			grown[i] = c.ring[(c.rhead+i)%len(c.ring)]
		}
		c.ring, c.rhead = grown, 0
	}
	p := &c.ring[(c.rhead+c.rcount)%len(c.ring)]
	c.rcount++
	*p = pending{seq: int64(c.nextSeq), head: equalFold(m.Method, "HEAD"), connect: equalFold(m.Method, "CONNECT"), upgrade: m.Upgrade}
	p.mlen = copy(p.method[:], m.Method)
	p.span = stream.Span{FirstNS: m.Span.FirstNS, LastNS: span.LastNS}
	m.Seq = int64(c.nextSeq)
	c.nextSeq++

	if te := m.Header.Get("Transfer-Encoding"); te != nil {
		if !lastCodingChunked(m.Header) {
			h.fail(h.msgOff, ErrSyntax, "request Transfer-Encoding "+quote(te)+" does not end in chunked")
			return
		}
		m.Chunked = true
		h.state = psChunkSize
		return
	}
	n, ok, why := contentLength(m.Header)
	if why != "" {
		h.fail(h.msgOff, ErrSyntax, why)
		return
	}
	if !ok {
		h.done(span)
		return
	}
	h.startContentLength(n, span)
}

func (c *Conn) responseFraming(h *half, span stream.Span) {
	m := &h.msg
	code := m.StatusCode
	if code/100 == 1 && code != 101 {
		m.Interim = true
		if c.rcount > 0 {
			c.pair(m, &c.ring[c.rhead])
		}
		h.done(span)
		return
	}
	c.cur = pending{seq: -1}
	if c.rcount > 0 {
		c.cur = c.ring[c.rhead]
		c.rhead = (c.rhead + 1) % len(c.ring)
		c.rcount--
		c.pair(m, &c.cur)
	} else {
		c.stats.Unpaired++
	}
	if code == 101 || (c.cur.connect && code/100 == 2) {
		m.Upgrade = code == 101 && c.cur.upgrade && m.Header.HasToken("Upgrade", "websocket")
		h.done(span)
		return
	}
	if c.cur.head || code == 204 || code == 304 {
		h.done(span)
		return
	}
	if m.Header.Has("Transfer-Encoding") {
		if lastCodingChunked(m.Header) {
			m.Chunked = true
			h.state = psChunkSize
		} else {
			h.state = psUntilClose
			m.Span.LastNS = span.LastNS
		}
		return
	}
	n, ok, why := contentLength(m.Header)
	if why != "" {
		h.fail(h.msgOff, ErrSyntax, why)
		return
	}
	if !ok {
		h.state = psUntilClose
		m.Span.LastNS = span.LastNS
		return
	}
	h.startContentLength(n, span)
}

func (c *Conn) pair(m *Message, p *pending) {
	m.Seq = p.seq
	m.RequestMethod = p.method[:p.mlen]
	m.RequestSpan = p.span
}

// emit hands a complete message to the handler and then acts on
// upgrades and tunnels.
func (c *Conn) emit(h *half, m *Message) {
	if m.IsRequest {
		c.stats.Requests++
		// Keep the paired request's span current: its last byte is now known.
		if c.rcount > 0 {
			if p := &c.ring[(c.rhead+c.rcount-1)%len(c.ring)]; p.seq == m.Seq {
				p.span.LastNS = m.Span.LastNS
			}
		}
	} else {
		c.stats.Responses++
	}
	var deflate ws.Deflate
	var extErr string
	if !m.IsRequest && m.Upgrade {
		deflate, extErr = parseDeflate(m.Header)
	}
	c.hd.HTTP(m)
	if c.err != nil {
		return
	}
	if m.IsRequest {
		// The client may send tunnel or WebSocket bytes before the
		// response says whether the switch happened: hold them.
		if m.Upgrade || equalFold(m.Method, "CONNECT") {
			h.state = psHold
		}
		return
	}
	if m.Interim {
		return
	}
	switch {
	case m.Upgrade:
		if extErr != "" {
			h.fail(m.Offset, ErrSyntax, extErr)
			return
		}
		c.stats.Upgrades++
		c.wsCfg = c.cfg.WS
		c.wsCfg.Deflate = deflate
		for d := range c.ws {
			dir := stream.Dir(d)
			c.ws[d] = ws.NewDecoder(dir, c.wsCfg, func(wm *ws.Message) { c.hd.WebSocket(dir, wm) })
			c.ws[d].StartAt(c.h[d].off)
			c.h[d].state = psWS
		}
		c.release()
	case m.StatusCode == 101 || (c.cur.connect && m.StatusCode/100 == 2):
		c.stats.Tunnels++
		c.abandon()
	case (c.cur.upgrade || c.cur.connect) && c.h[stream.ClientToServer].state == psHold:
		c.h[stream.ClientToServer].state = psHeader
		c.release()
	}
}

// lastCodingChunked reports whether the last transfer coding is chunked.
func lastCodingChunked(hdr Header) bool {
	var last []byte
	for i := range hdr {
		if !equalFold(hdr[i].Name, "Transfer-Encoding") {
			continue
		}
		v := hdr[i].Value
		for len(v) > 0 {
			var item []byte
			item, v = cutByte(v, ',')
			if item = trimOWS(item); len(item) > 0 {
				last = item
			}
		}
	}
	return equalFold(last, "chunked")
}

// contentLength returns the Content-Length, whether there is one, and a
// reason when it is malformed or repeated with different values.
func contentLength(hdr Header) (int64, bool, string) {
	var n int64 = -1
	for i := range hdr {
		if !equalFold(hdr[i].Name, "Content-Length") {
			continue
		}
		v := hdr[i].Value
		if len(v) == 0 || len(v) > 18 {
			return 0, false, "bad Content-Length " + quote(v)
		}
		var x int64
		for _, c := range v {
			if c < '0' || c > '9' {
				return 0, false, "bad Content-Length " + quote(v)
			}
			x = x*10 + int64(c-'0')
		}
		if n >= 0 && x != n {
			return 0, false, "conflicting Content-Length values"
		}
		n = x
	}
	return n, n >= 0, ""
}

// parseDeflate reads the permessage-deflate parameters that a 101
// response agreed to (RFC 7692 section 7.1).
func parseDeflate(hdr Header) (ws.Deflate, string) {
	var d ws.Deflate
	for i := range hdr {
		if !equalFold(hdr[i].Name, "Sec-WebSocket-Extensions") {
			continue
		}
		v := hdr[i].Value
		for len(v) > 0 {
			var ext []byte
			ext, v = cutByte(v, ',')
			name, params := cutByte(ext, ';')
			if !equalFold(trimOWS(name), "permessage-deflate") {
				continue
			}
			if d.Enabled {
				return d, "permessage-deflate accepted twice"
			}
			d.Enabled = true
			for len(params) > 0 {
				var p []byte
				p, params = cutByte(params, ';')
				k, val := cutByte(p, '=')
				k, val = trimOWS(k), trimOWS(val)
				if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
					val = val[1 : len(val)-1]
				}
				switch {
				case equalFold(k, "server_no_context_takeover"):
					d.ServerNoContextTakeover = true
				case equalFold(k, "client_no_context_takeover"):
					d.ClientNoContextTakeover = true
				case equalFold(k, "server_max_window_bits"), equalFold(k, "client_max_window_bits"):
					bits := 15
					if len(val) > 0 {
						b, err := strconv.Atoi(string(val))
						if err != nil || b < 8 || b > 15 {
							return d, "bad " + string(k) + " " + quote(val)
						}
						bits = b
					}
					if equalFold(k, "server_max_window_bits") {
						d.ServerMaxWindowBits = bits
					} else {
						d.ClientMaxWindowBits = bits
					}
				case len(k) == 0:
				default:
					return d, "unknown permessage-deflate parameter " + quote(k)
				}
			}
		}
	}
	return d, ""
}
