package tlsdec

import (
	"bytes"
	"crypto/x509"
	"errors"

	"golang.org/x/crypto/cryptobyte"
)

// Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
const (
	hsClientHello         = 1
	hsServerHello         = 2
	hsNewSessionTicket    = 4
	hsEncryptedExtensions = 8
	hsCertificate         = 11
	hsFinished            = 20
	hsKeyUpdate           = 24
)

// Extension numbers used here.
const (
	extServerName        = 0
	extALPN              = 16
	extEarlyData         = 42
	extSupportedVersions = 43
)

// VersionTLS12 and VersionTLS13 are the protocol versions this package decrypts.
const (
	VersionTLS12 = 0x0303
	VersionTLS13 = 0x0304
)

// helloRetryRandom is the ServerHello.random that marks a HelloRetryRequest
// (RFC 8446 §4.1.3): SHA-256("HelloRetryRequest").
var helloRetryRandom = [32]byte{
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
}

// ClientHello is what the monitor keeps of a ClientHello.
type ClientHello struct {
	Version   uint16   // legacy_version
	Random    [32]byte // client random: the key log's lookup key
	Suites    []uint16 // cipher suites offered, GREASE included
	Versions  []uint16 // supported_versions, if present
	SNI       string   // server_name (host_name), if present
	ALPN      []string // protocols offered
	EarlyData bool     // early_data extension present (0-RTT attempted)
}

// ServerHello is what the monitor keeps of a ServerHello.
type ServerHello struct {
	Version    uint16 // legacy_version
	Random     [32]byte
	Suite      uint16
	Selected   uint16 // supported_versions value (TLS 1.3), 0 if absent
	ALPN       string // TLS 1.2 only; TLS 1.3 sends it in EncryptedExtensions
	HelloRetry bool   // a HelloRetryRequest, not a real ServerHello
}

// NegotiatedVersion is the protocol version the server chose.
func (s *ServerHello) NegotiatedVersion() uint16 {
	if s.Selected != 0 {
		return s.Selected
	}
	return s.Version
}

var errHello = errors.New("malformed hello")

// ParseClientHello parses a ClientHello body (after the 4-byte handshake header).
func ParseClientHello(body []byte) (*ClientHello, error) {
	s := cryptobyte.String(body)
	ch := new(ClientHello)
	var random, sid, suites, comp cryptobyte.String
	if !s.ReadUint16(&ch.Version) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16LengthPrefixed(&suites) ||
		!s.ReadUint8LengthPrefixed(&comp) {
		return nil, errHello
	}
	copy(ch.Random[:], random)
	for !suites.Empty() {
		var id uint16
		if !suites.ReadUint16(&id) {
			return nil, errHello
		}
		ch.Suites = append(ch.Suites, id)
	}
	if s.Empty() {
		return ch, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, errHello
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errHello
		}
		switch typ {
		case extServerName:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) {
				return nil, errHello
			}
			for !list.Empty() {
				var nt uint8
				var name cryptobyte.String
				if !list.ReadUint8(&nt) || !list.ReadUint16LengthPrefixed(&name) {
					return nil, errHello
				}
				if nt == 0 && ch.SNI == "" {
					ch.SNI = string(name)
				}
			}
		case extALPN:
			var list cryptobyte.String
			if !data.ReadUint16LengthPrefixed(&list) {
				return nil, errHello
			}
			for !list.Empty() {
				var p cryptobyte.String
				if !list.ReadUint8LengthPrefixed(&p) {
					return nil, errHello
				}
				ch.ALPN = append(ch.ALPN, string(p))
			}
		case extSupportedVersions:
			var list cryptobyte.String
			if !data.ReadUint8LengthPrefixed(&list) {
				return nil, errHello
			}
			for !list.Empty() {
				var v uint16
				if !list.ReadUint16(&v) {
					return nil, errHello
				}
				ch.Versions = append(ch.Versions, v)
			}
		case extEarlyData:
			ch.EarlyData = true
		}
	}
	return ch, nil
}

// ParseServerHello parses a ServerHello body (after the 4-byte handshake header).
func ParseServerHello(body []byte) (*ServerHello, error) {
	s := cryptobyte.String(body)
	sh := new(ServerHello)
	var random, sid cryptobyte.String
	var comp uint8
	if !s.ReadUint16(&sh.Version) || !s.ReadBytes((*[]byte)(&random), 32) ||
		!s.ReadUint8LengthPrefixed(&sid) || !s.ReadUint16(&sh.Suite) || !s.ReadUint8(&comp) {
		return nil, errHello
	}
	copy(sh.Random[:], random)
	sh.HelloRetry = sh.Random == helloRetryRandom
	if s.Empty() {
		return sh, nil
	}
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return nil, errHello
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return nil, errHello
		}
		switch typ {
		case extSupportedVersions:
			if !data.ReadUint16(&sh.Selected) {
				return nil, errHello
			}
		case extALPN:
			alpn, ok := parseALPNChoice(data)
			if !ok {
				return nil, errHello
			}
			sh.ALPN = alpn
		}
	}
	return sh, nil
}

func parseALPNChoice(data cryptobyte.String) (string, bool) {
	var list, p cryptobyte.String
	if !data.ReadUint16LengthPrefixed(&list) || !list.ReadUint8LengthPrefixed(&p) {
		return "", false
	}
	return string(p), true
}

// parseEncryptedExtensions returns the ALPN protocol chosen in a TLS 1.3
// EncryptedExtensions body.
func parseEncryptedExtensions(body []byte) (alpn string, err error) {
	s := cryptobyte.String(body)
	var exts cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&exts) {
		return "", errHello
	}
	for !exts.Empty() {
		var typ uint16
		var data cryptobyte.String
		if !exts.ReadUint16(&typ) || !exts.ReadUint16LengthPrefixed(&data) {
			return "", errHello
		}
		if typ == extALPN {
			a, ok := parseALPNChoice(data)
			if !ok {
				return "", errHello
			}
			alpn = a
		}
	}
	return alpn, nil
}

// parseLeafCertificate returns the first certificate of a Certificate
// message body, in the TLS 1.2 layout or (tls13) the TLS 1.3 one.
func parseLeafCertificate(body []byte, tls13 bool) (*x509.Certificate, error) {
	s := cryptobyte.String(body)
	if tls13 {
		var ctx cryptobyte.String
		if !s.ReadUint8LengthPrefixed(&ctx) {
			return nil, errHello
		}
	}
	var list, cert cryptobyte.String
	if !s.ReadUint24LengthPrefixed(&list) {
		return nil, errHello
	}
	if list.Empty() {
		return nil, nil
	}
	if !list.ReadUint24LengthPrefixed(&cert) {
		return nil, errHello
	}
	return x509.ParseCertificate(bytes.Clone(cert))
}
