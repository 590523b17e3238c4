// Package sign implements the order API's request signature, shared by the
// mock exchange (orderapi, which verifies) and the trading clients (trader,
// which signs).
//
// A signed request carries three headers: X-API-Key, X-Timestamp (unix
// milliseconds, decimal) and X-Signature, the lowercase hex HMAC-SHA256 of
//
//	X-Timestamp + METHOD + PATH + BODY
//
// keyed with the API secret (docs/DESIGN.md, "Order signing"). The server rejects a
// timestamp more than Window away from its own clock.
//
// Buffers: Sign and Verify keep nothing. A Signer owns one scratch buffer and
// one HMAC state, reused across calls (so a Signer is for one goroutine);
// AppendSign and Signer.Append append to the caller's dst and keep no
// reference to it or to body. A Verifier is safe for concurrent use.
package sign

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Header names of a signed request.
const (
	HeaderKey       = "X-API-Key"
	HeaderTimestamp = "X-Timestamp"
	HeaderSignature = "X-Signature"
)

// Window is how far X-Timestamp may be from the verifier's clock, either way.
const Window = 5 * time.Second

// SignatureLen is the length of a hex signature (HMAC-SHA256, 32 bytes).
const SignatureLen = 2 * sha256.Size

// Sentinel errors, matched with errors.Is; Verify returns them wrapped in an
// *Error naming the header.
var (
	ErrMissingHeader  = errors.New("missing header")
	ErrBadKey         = errors.New("unknown API key")
	ErrBadSignature   = errors.New("signature does not match")
	ErrBadTimestamp   = errors.New("timestamp is not unix milliseconds")
	ErrStaleTimestamp = errors.New("timestamp outside the allowed window")
)

// Error is a verification failure: which header and why. It never contains
// the secret, the expected signature or the presented key.
type Error struct {
	Header string        // the offending header, e.g. HeaderSignature
	Err    error         // one of the sentinel errors above
	Skew   time.Duration // for ErrStaleTimestamp: request time minus server time
}

func (e *Error) Error() string {
	s := "sign: " + e.Header + ": " + e.Err.Error()
	if errors.Is(e.Err, ErrStaleTimestamp) {
		s += " (" + e.Skew.Round(time.Millisecond).String() + " from server clock, window ±" + Window.String() + ")"
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// Sign returns the lowercase hex signature of one request. ts is unix
// milliseconds, method is upper case (e.g. "POST"), path is the request path
// including any query string as sent.
func Sign(secret string, ts int64, method, path string, body []byte) string {
	return string(AppendSign(make([]byte, 0, SignatureLen), secret, ts, method, path, body))
}

// AppendSign appends the hex signature to dst and returns the extended slice.
func AppendSign(dst []byte, secret string, ts int64, method, path string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	var sum [sha256.Size]byte
	writeMessage(m, strconv.AppendInt(nil, ts, 10), method, path, body)
	return hex.AppendEncode(dst, m.Sum(sum[:0]))
}

// writeMessage feeds ts+method+path+body to m. scratch holds the timestamp
// text on entry; method and path are appended to it to make one Write.
func writeMessage(m hash.Hash, scratch []byte, method, path string, body []byte) []byte {
	scratch = append(scratch, method...)
	scratch = append(scratch, path...)
	m.Write(scratch)
	m.Write(body)
	return scratch
}

// Signer signs many requests with one secret without allocating in steady
// state. It is not safe for concurrent use: give each goroutine its own.
type Signer struct {
	mac     hash.Hash
	scratch []byte
	sum     [sha256.Size]byte
}

// NewSigner returns a Signer for secret.
func NewSigner(secret string) *Signer {
	return &Signer{mac: hmac.New(sha256.New, []byte(secret)), scratch: make([]byte, 0, 128)}
}

// Append appends the hex signature of one request to dst.
func (s *Signer) Append(dst []byte, ts int64, method, path string, body []byte) []byte {
	s.mac.Reset()
	s.scratch = writeMessage(s.mac, strconv.AppendInt(s.scratch[:0], ts, 10), method, path, body)
	return hex.AppendEncode(dst, s.mac.Sum(s.sum[:0]))
}

// Timestamp returns t as X-Timestamp's value, unix milliseconds.
func Timestamp(t time.Time) int64 { return t.UnixMilli() }

// SetHeaders sets the three signature headers on h.
func SetHeaders(h http.Header, apiKey string, ts int64, signature string) {
	h.Set(HeaderKey, apiKey)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderSignature, signature)
}

// Verifier checks signed requests for one API key. Safe for concurrent use.
type Verifier struct {
	key    string
	secret []byte
	window time.Duration
	macs   sync.Pool // of hash.Hash keyed with secret
}

// NewVerifier returns a Verifier accepting apiKey signed with secret, with the
// standard Window.
func NewVerifier(apiKey, secret string) *Verifier {
	v := &Verifier{key: apiKey, secret: []byte(secret), window: Window}
	v.macs.New = func() any { return &macState{mac: hmac.New(sha256.New, v.secret)} }
	return v
}

type macState struct {
	mac     hash.Hash
	scratch []byte
	want    [sha256.Size]byte
}

// Verify checks the three header values of one request against method, path
// and body, with now as the server clock. The checks run in order: every
// header present, key known, timestamp well-formed and within the window,
// signature matching. Key and signature comparisons take constant time.
func (v *Verifier) Verify(apiKey, ts, signature, method, path string, body []byte, now time.Time) error {
	switch {
	case apiKey == "":
		return &Error{Header: HeaderKey, Err: ErrMissingHeader}
	case ts == "":
		return &Error{Header: HeaderTimestamp, Err: ErrMissingHeader}
	case signature == "":
		return &Error{Header: HeaderSignature, Err: ErrMissingHeader}
	}
	if !hmac.Equal([]byte(apiKey), []byte(v.key)) {
		return &Error{Header: HeaderKey, Err: ErrBadKey}
	}
	ms, ok := parseMillis(ts)
	if !ok {
		return &Error{Header: HeaderTimestamp, Err: ErrBadTimestamp}
	}
	if d, w := ms-now.UnixMilli(), v.window.Milliseconds(); d > w || d < -w {
		return &Error{Header: HeaderTimestamp, Err: ErrStaleTimestamp, Skew: time.Duration(d) * time.Millisecond}
	}
	var got [sha256.Size]byte
	if len(signature) != SignatureLen {
		return &Error{Header: HeaderSignature, Err: ErrBadSignature}
	}
	if !decodeHex(got[:], signature) {
		return &Error{Header: HeaderSignature, Err: ErrBadSignature}
	}
	st := v.macs.Get().(*macState)
	st.mac.Reset()
	// The signature covers the header text as sent.
	st.scratch = writeMessage(st.mac, append(st.scratch[:0], ts...), method, path, body)
	st.mac.Sum(st.want[:0])
	ok = hmac.Equal(got[:], st.want[:])
	v.macs.Put(st)
	if !ok {
		return &Error{Header: HeaderSignature, Err: ErrBadSignature}
	}
	return nil
}

// VerifyRequest is Verify with the header values taken from h.
func (v *Verifier) VerifyRequest(h http.Header, method, path string, body []byte, now time.Time) error {
	return v.Verify(h.Get(HeaderKey), h.Get(HeaderTimestamp), h.Get(HeaderSignature), method, path, body, now)
}

// parseMillis accepts 1 to 18 decimal digits (no sign, no spaces).
func parseMillis(s string) (int64, bool) {
	if len(s) == 0 || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// decodeHex decodes len(dst)*2 hex digits of either case from s.
func decodeHex(dst []byte, s string) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		hi, ok1 := fromHex(s[2*i])
		lo, ok2 := fromHex(s[2*i+1])
		if !ok1 || !ok2 {
			return false
		}
		dst[i] = hi<<4 | lo
	}
	return true
}

func fromHex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
