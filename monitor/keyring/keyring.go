// Package keyring reads NSS key log files (the SSLKEYLOGFILE format written by
// browsers, OpenSSL, Go's crypto/tls KeyLogWriter and others) into a
// concurrency-safe Store keyed by the 32-byte TLS client random.
//
// A Store can be filled from bytes (a file read at once, or the text of a
// pcapng Decryption Secrets Block) with Load, or from a file that grows while
// a live monitor runs with a Tail, which remembers its offset and holds back a
// partial last line until its newline arrives. Readers learn of new keys by
// polling Generation or by waiting on Changed.
//
// Traffic secrets after a KeyUpdate (CLIENT_TRAFFIC_SECRET_1.., and
// OpenSSL's literal CLIENT_TRAFFIC_SECRET_N) are skipped without a warning:
// they follow from the _0 secrets.
//
// Buffers: Load does not keep the caller's bytes; it copies every secret.
// The slices inside a Secrets returned by Lookup are shared, immutable and
// must not be modified by the caller.
//
// Secrets are never printed: Secrets.String, Entry.String and every error
// name labels, lengths and positions only.
package keyring

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// Label is the kind of a key log line.
type Label uint8

// Labels of the NSS key log format.
const (
	ClientRandom                 Label = iota // CLIENT_RANDOM: TLS 1.2 (and earlier) 48-byte master secret
	ClientHandshakeTrafficSecret              // CLIENT_HANDSHAKE_TRAFFIC_SECRET (TLS 1.3)
	ServerHandshakeTrafficSecret              // SERVER_HANDSHAKE_TRAFFIC_SECRET (TLS 1.3)
	ClientTrafficSecret0                      // CLIENT_TRAFFIC_SECRET_0 (TLS 1.3)
	ServerTrafficSecret0                      // SERVER_TRAFFIC_SECRET_0 (TLS 1.3)
	ClientEarlyTrafficSecret                  // CLIENT_EARLY_TRAFFIC_SECRET (TLS 1.3 0-RTT)
	ExporterSecret                            // EXPORTER_SECRET (TLS 1.3)
	NumLabels                                 // number of labels; not a label
)

var labelNames = [NumLabels]string{
	"CLIENT_RANDOM",
	"CLIENT_HANDSHAKE_TRAFFIC_SECRET",
	"SERVER_HANDSHAKE_TRAFFIC_SECRET",
	"CLIENT_TRAFFIC_SECRET_0",
	"SERVER_TRAFFIC_SECRET_0",
	"CLIENT_EARLY_TRAFFIC_SECRET",
	"EXPORTER_SECRET",
}

func (l Label) String() string {
	if l < NumLabels {
		return labelNames[l]
	}
	return "Label(" + strconv.Itoa(int(l)) + ")"
}

// ParseLabel returns the label named s as it appears in a key log line.
func ParseLabel(s string) (Label, bool) {
	for i, n := range labelNames {
		if n == s {
			return Label(i), true
		}
	}
	return 0, false
}

// MasterSecretLen is the length of a TLS 1.2 master secret.
const MasterSecretLen = 48

// MaxSecretLen bounds a TLS 1.3 secret (SHA-512 would be 64 bytes).
const MaxSecretLen = 64

// Secrets holds every secret known for one client random, indexed by Label.
// A nil slice means the key log has no such line (yet).
type Secrets struct {
	v [NumLabels][]byte
}

// Get returns the secret for l, or nil. The slice must not be modified.
func (s *Secrets) Get(l Label) []byte {
	if l >= NumLabels {
		return nil
	}
	return s.v[l]
}

// Has reports whether the secret for l is known.
func (s *Secrets) Has(l Label) bool { return s.Get(l) != nil }

// String lists the labels present and their lengths, never their values.
func (s Secrets) String() string {
	b := []byte("Secrets{")
	first := true
	for i, v := range s.v {
		if v == nil {
			continue
		}
		if !first {
			b = append(b, ' ')
		}
		first = false
		b = append(b, labelNames[i]...)
		b = append(b, ":<redacted "...)
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, " bytes>"...)
	}
	return string(append(b, '}'))
}

// Entry is one parsed key log line.
type Entry struct {
	Label        Label
	ClientRandom [32]byte
	Secret       []byte
}

// String shows the label and client random (not secret) and redacts the secret.
func (e Entry) String() string {
	return fmt.Sprintf("%s %x <redacted %d bytes>", e.Label, e.ClientRandom[:], len(e.Secret))
}

// SyntaxError is a key log line that could not be parsed. It names the file,
// the 1-based line and, when known, the label; never the secret.
type SyntaxError struct {
	File  string
	Line  int
	Label string // empty when the label itself is the problem
	Msg   string
}

func (e *SyntaxError) Error() string {
	s := e.File + ":" + strconv.Itoa(e.Line) + ": "
	if e.Label != "" {
		s += e.Label + ": "
	}
	return s + e.Msg
}

// ParseLine parses one line (without its newline). It returns ok=false and a
// nil error for comments and blank lines. The returned Entry's Secret aliases
// a fresh slice, not line.
func ParseLine(line []byte) (e Entry, ok bool, err error) {
	line = bytes.TrimRight(line, "\r")
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] == '#' {
		return Entry{}, false, nil
	}
	fields := bytes.Fields(line)
	name := string(fields[0])
	l, known := ParseLabel(name)
	if !known && isLaterTrafficSecret(name) {
		// Secrets after a KeyUpdate (OpenSSL writes them, some versions
		// literally as "..._N"); they follow from _0, so they are not needed.
		return Entry{}, false, nil
	}
	if !known {
		if len(name) > 40 {
			name = name[:40] + "..."
		}
		return Entry{}, false, &SyntaxError{Msg: "unknown label " + strconv.Quote(name)}
	}
	if len(fields) != 3 {
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "have " + strconv.Itoa(len(fields)) + " fields, want 3"}
	}
	cr, sec := fields[1], fields[2]
	if len(cr)%2 != 0 || !isHex(cr) {
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "client random is not hex"}
	}
	if len(cr) != 64 {
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "client random is " + strconv.Itoa(len(cr)/2) + " bytes, want 32"}
	}
	if len(sec)%2 != 0 || !isHex(sec) {
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "secret is not hex"}
	}
	n := len(sec) / 2
	switch {
	case l == ClientRandom && n != MasterSecretLen:
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "master secret is " + strconv.Itoa(n) + " bytes, want 48"}
	case l != ClientRandom && (n < 16 || n > MaxSecretLen):
		return Entry{}, false, &SyntaxError{Label: l.String(), Msg: "secret is " + strconv.Itoa(n) + " bytes, want 16 to 64"}
	}
	e.Label = l
	hex.Decode(e.ClientRandom[:], cr)
	e.Secret = make([]byte, n)
	hex.Decode(e.Secret, sec)
	return e, true, nil
}

func isHex(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		default:
			return false
		}
	}
	return true
}

// Parse parses a whole key log text. name is used in errors (e.g. the file
// name). fn is called for each entry in order. Bad lines do not stop the
// parse; they are returned as *SyntaxError values.
func Parse(name string, data []byte, fn func(Entry)) []error {
	var p parser
	p.name = name
	p.line = 1
	_, errs := p.feed(data, true, fn, nil)
	return errs
}

// parser parses lines incrementally, counting them across calls.
type parser struct {
	name string
	line int // number of the next line
}

// feed parses every complete line of data and returns how many bytes it
// consumed. With final, a last line without a newline counts too; otherwise
// it is left unconsumed.
func (p *parser) feed(data []byte, final bool, fn func(Entry), errs []error) (int, []error) {
	n := 0
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		var line []byte
		if i < 0 {
			if !final {
				break
			}
			line, data = data, nil
			n += len(line)
		} else {
			line, data = data[:i], data[i+1:]
			n += i + 1
		}
		e, ok, err := ParseLine(line)
		if err != nil {
			se := err.(*SyntaxError)
			se.File, se.Line = p.name, p.line
			errs = append(errs, se)
		} else if ok {
			fn(e)
		}
		p.line++
	}
	return n, errs
}

// isLaterTrafficSecret matches CLIENT_TRAFFIC_SECRET_<n> and
// SERVER_TRAFFIC_SECRET_<n> for n other than 0, and OpenSSL's "_N".
func isLaterTrafficSecret(name string) bool {
	var rest string
	switch {
	case strings.HasPrefix(name, "CLIENT_TRAFFIC_SECRET_"):
		rest = name[len("CLIENT_TRAFFIC_SECRET_"):]
	case strings.HasPrefix(name, "SERVER_TRAFFIC_SECRET_"):
		rest = name[len("SERVER_TRAFFIC_SECRET_"):]
	default:
		return false
	}
	if rest == "N" {
		return true
	}
	if rest == "" || rest == "0" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
