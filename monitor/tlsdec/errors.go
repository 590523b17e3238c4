package tlsdec

import (
	"errors"
	"strconv"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Sentinel errors, matched with errors.Is against an *Error's cause.
var (
	ErrAuth         = errors.New("bad record authentication tag")
	ErrNotTLS       = errors.New("not a TLS stream")
	ErrSSLv2        = errors.New("SSLv2-style ClientHello, not decoded")
	ErrBadHeader    = errors.New("implausible record header")
	ErrGapLost      = errors.New("could not resynchronise after a capture gap")
	ErrTooManyFails = errors.New("too many records failed to decrypt")
	ErrHandshake    = errors.New("malformed handshake message")
	errShort        = errors.New("record too short for its cipher")
	errNoInnerType  = errors.New("TLS 1.3 record without inner content type")
	errUnsupported  = errors.New("cipher suite not decrypted")
	errAuth         = ErrAuth
)

// Error is a problem with one record of one connection. It never carries
// key material.
type Error struct {
	Conn   stream.ConnKey
	Dir    stream.Dir
	Record uint64 // 1-based record number within the direction; 0: not tied to a record
	Err    error
}

func (e *Error) Error() string {
	b := []byte("tlsdec: ")
	if e.Record > 0 {
		b = append(b, "record "...)
		b = strconv.AppendUint(b, e.Record, 10)
		b = append(b, ' ')
	}
	b = append(b, '(')
	b = append(b, e.Dir.String()...)
	b = append(b, ") of "...)
	b = e.Conn.AppendText(b)
	b = append(b, ": "...)
	b = append(b, e.Err.Error()...)
	return string(b)
}

func (e *Error) Unwrap() error { return e.Err }
