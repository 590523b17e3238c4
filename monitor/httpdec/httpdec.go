// Package httpdec decodes HTTP/1.1 requests and responses from the
// plaintext bytes of both directions of one connection, pairs responses
// with requests in order (pipelining included) and, when a request's
// "Upgrade: websocket" is answered by 101 Switching Protocols, hands the
// rest of both directions to monitor/ws with the negotiated
// permessage-deflate parameters.
//
// Input arrives in arbitrary pieces per direction, each with the capture
// span of the segments that carried it (monitor/tlsdec produces them). A
// message's Span runs from the piece holding its first byte to the piece
// that completed it.
//
// Buffers: a []byte given to Conn.Feed belongs to the caller and is valid
// only during the call. The *Message given to Handler.HTTP, every slice in
// it (Method, Target, Reason, Header, Trailer, Body) and the *ws.Message
// given to Handler.WebSocket belong to the Conn and are valid only until
// the call returns: copy what you keep. Memory per connection is bounded
// by Config (header, body, pipeline and upgrade-hold limits); body buffers
// over 1 MiB are released once their message has been emitted.
package httpdec

import (
	"errors"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/ws"
)

// Field is one header or trailer field; both slices point into the Conn's
// buffers.
type Field struct {
	Name  []byte
	Value []byte // with surrounding whitespace removed
}

// Header is the fields of a message in wire order.
type Header []Field

// Get returns the value of the first field named name (ASCII
// case-insensitive), or nil. It does not allocate.
func (h Header) Get(name string) []byte {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return nil
}

// Has reports whether a field named name is present.
func (h Header) Has(name string) bool {
	for i := range h {
		if equalFold(h[i].Name, name) {
			return true
		}
	}
	return false
}

// HasToken reports whether any field named name holds token in its
// comma-separated list (both compared ASCII case-insensitively), as in
// "Connection: keep-alive, Upgrade".
func (h Header) HasToken(name, token string) bool {
	for i := range h {
		if !equalFold(h[i].Name, name) {
			continue
		}
		v := h[i].Value
		for len(v) > 0 {
			var item []byte
			item, v = cutByte(v, ',')
			if equalFold(trimOWS(item), token) {
				return true
			}
		}
	}
	return false
}

// Message is one HTTP request or response.
type Message struct {
	Dir       stream.Dir
	IsRequest bool
	// Request line (requests only).
	Method, Target []byte
	// Status line (responses only).
	StatusCode int
	Reason     []byte
	ProtoMajor int
	ProtoMinor int
	Header     Header
	Trailer    Header // trailer fields of a chunked body
	Body       []byte // de-chunked body; nil when the message has none
	Chunked    bool
	// Span holds the capture times of the pieces carrying the first byte
	// of the start line and the last byte of the message.
	Span      stream.Span
	Offset    int64 // direction's stream offset of the first byte
	WireBytes int64 // bytes the message took on the wire
	// Seq numbers requests from 0 in the connection; a response carries
	// the Seq of the request it answers, or -1 when there was none to pair.
	Seq int64
	// RequestMethod and RequestSpan describe the paired request
	// (responses only; empty when unpaired). RequestMethod is cut at 24 bytes.
	RequestMethod []byte
	RequestSpan   stream.Span
	// Interim marks a 1xx response other than 101; it does not end the
	// exchange, the final response that follows has the same Seq.
	Interim bool
	// Upgrade marks a request asking for a WebSocket upgrade, and the 101
	// response that switched the connection to WebSocket.
	Upgrade bool
}

// Handler receives a connection's decoded messages.
type Handler interface {
	// HTTP receives each complete request and response.
	HTTP(m *Message)
	// WebSocket receives each WebSocket message and control frame after
	// an upgrade.
	WebSocket(dir stream.Dir, m *ws.Message)
}

// Config bounds a Conn's memory. Zero fields take the defaults.
type Config struct {
	MaxHeaderBytes int // start line and header fields, or trailer fields; default 64 KiB
	MaxBody        int // de-chunked body; default 16 MiB
	MaxPipeline    int // requests awaiting their response; default 1024
	MaxPending     int // client bytes held while an upgrade awaits its response; default 1 MiB
	// WS configures the WebSocket decoders after an upgrade; its Deflate
	// field is replaced by what the 101 response negotiated.
	WS ws.Config
}

const (
	DefaultMaxHeaderBytes = 64 << 10
	DefaultMaxBody        = 16 << 20
	DefaultMaxPipeline    = 1024
	DefaultMaxPending     = 1 << 20
)

// Validate reports a configuration that cannot be used.
func (c Config) Validate() error {
	if c.MaxHeaderBytes < 0 || c.MaxBody < 0 || c.MaxPipeline < 0 || c.MaxPending < 0 {
		return errors.New("httpdec: negative limit in Config")
	}
	return c.WS.Validate()
}

func (c Config) withDefaults() Config {
	if c.MaxHeaderBytes == 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxBody == 0 {
		c.MaxBody = DefaultMaxBody
	}
	if c.MaxPipeline == 0 {
		c.MaxPipeline = DefaultMaxPipeline
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	return c
}

// Sentinel causes wrapped by *Error.
var (
	ErrSyntax      = errors.New("malformed HTTP")
	ErrTooLarge    = errors.New("over a configured limit")
	ErrTruncated   = errors.New("connection ended inside a message")
	ErrGap         = errors.New("bytes missing from the capture")
	ErrUnsupported = errors.New("unsupported protocol")
)

// Error is a decoding error at a byte offset of one direction.
type Error struct {
	Dir    stream.Dir
	Offset int64
	Reason string
	Err    error
}

func (e *Error) Error() string {
	return "httpdec: " + e.Dir.String() + " byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Reason
}

func (e *Error) Unwrap() error { return e.Err }

// Stats counts what a Conn has seen.
type Stats struct {
	Bytes        [2]int64 // fed per direction (index: stream.Dir)
	Requests     int64
	Responses    int64 // final and interim
	Unpaired     int64 // responses with no request to pair
	Upgrades     int64 // switches to WebSocket
	Errors       int64 // HTTP errors (at most 1: the Conn then stops decoding HTTP)
	SkippedBytes int64 // bytes ignored after an error, a gap or a non-WebSocket tunnel
	Tunnels      int64 // CONNECT or non-WebSocket 101: the rest is not decoded
	WS           [2]ws.Stats
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		x, y := b[i], s[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func cutByte(b []byte, c byte) (before, after []byte) {
	for i, x := range b {
		if x == c {
			return b[:i], b[i+1:]
		}
	}
	return b, nil
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// quote formats a token for an error message, cut to 32 bytes.
func quote(b []byte) string {
	if len(b) > 32 {
		return strconv.Quote(string(b[:32])) + "..."
	}
	return strconv.Quote(string(b))
}
