// Package tlsconf builds the server-side TLS configuration shared by the mock
// exchange's servers (feed and order API): protocol version, TLS 1.2 cipher
// suite by name, and a self-signed certificate made at start when no
// certificate files are given.
//
// The monitor must be exercised against every AEAD suite it claims to decrypt,
// so the TLS 1.2 suite is selectable here. TLS 1.3 suites are chosen by Go's
// crypto/tls and cannot be pinned by a server; a TLS 1.3 suite other than the
// negotiated default comes from the client side (see the monitor's tests).
//
// Nothing here keeps buffers; the returned *tls.Config is owned by the caller.
package tlsconf

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"net"
	"sort"
	"strings"
	"time"
)

// Options is the plain-data TLS configuration of one server, as set by the
// --tls, --cipher, --cert and --key flags.
type Options struct {
	Version  string // "1.2" or "1.3"; empty means "1.3"
	Cipher   string // TLS 1.2 suite: short name (aes128gcm, aes256gcm, chacha20) or Go's IANA-style name
	CertFile string // PEM certificate; empty with KeyFile empty means self-signed
	KeyFile  string // PEM private key
	Hosts    []string
}

// suites maps short names to the ECDHE suites that carry that AEAD, for both
// certificate key types; crypto/tls picks the one matching the certificate.
var suites = map[string][]uint16{
	"aes128gcm": {tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256},
	"aes256gcm": {tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384},
	"chacha20":  {tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256},
}

// CipherNames lists the accepted short cipher names.
func CipherNames() []string {
	n := make([]string, 0, len(suites))
	for k := range suites {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// cipherSuites resolves a cipher name (short or Go's full name) to suite IDs.
func cipherSuites(name string) ([]uint16, error) {
	if ids, ok := suites[strings.ToLower(name)]; ok {
		return ids, nil
	}
	for _, s := range tls.CipherSuites() {
		if strings.EqualFold(s.Name, name) {
			if !strings.Contains(s.Name, "ECDHE") || !(strings.Contains(s.Name, "GCM") || strings.Contains(s.Name, "CHACHA20")) {
				break
			}
			return []uint16{s.ID}, nil
		}
	}
	return nil, fmt.Errorf("--cipher %q: unknown or unsupported (want one of %s, or an ECDHE AEAD suite name such as TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256)",
		name, strings.Join(CipherNames(), ", "))
}

// Validate checks the options without touching files.
func (o Options) Validate() error {
	switch o.Version {
	case "", "1.3":
		if o.Cipher != "" {
			return errors.New("--cipher applies to --tls 1.2 only: TLS 1.3 suites are negotiated by crypto/tls")
		}
	case "1.2":
		if o.Cipher != "" {
			if _, err := cipherSuites(o.Cipher); err != nil {
				return err
			}
		}
	default:
		return fmt.Errorf("--tls %q: want 1.2 or 1.3", o.Version)
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return errors.New("--cert and --key go together (leave both empty for a self-signed certificate)")
	}
	return nil
}

// ServerConfig returns a server *tls.Config for the options. nextProtos is
// the ALPN list offered (for example {"http/1.1"} to pin HTTP/1.1).
func ServerConfig(o Options, nextProtos ...string) (*tls.Config, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	var cert tls.Certificate
	var err error
	if o.CertFile != "" {
		cert, err = tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading --cert %s / --key %s: %w", o.CertFile, o.KeyFile, err)
		}
	} else {
		cert, err = SelfSigned(o.Hosts...)
		if err != nil {
			return nil, err
		}
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		MaxVersion:   tls.VersionTLS13,
		NextProtos:   nextProtos,
	}
	if o.Version == "1.2" {
		cfg.MaxVersion = tls.VersionTLS12
		if o.Cipher != "" {
			cfg.CipherSuites, _ = cipherSuites(o.Cipher)
		}
	} else {
		cfg.MinVersion = tls.VersionTLS13
	}
	return cfg, nil
}

// SelfSigned makes an ECDSA P-256 certificate valid for a day for localhost,
// 127.0.0.1, ::1 and the given extra host names or IP addresses.
func SelfSigned(hosts ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "cloudpcap lab", Organization: []string{"cloudpcap"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
