package trader

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"
)

// dialTimeout bounds one TCP connect plus TLS handshake.
const dialTimeout = 10 * time.Second

// clientTLS builds the client TLS configuration shared by every connection:
// verification (--insecure or --ca), highest version (--tls), ALPN
// http/1.1 only and the key log writer. No session cache: every connection
// makes a full handshake, so the key log has the secrets of each.
func clientTLS(c Config, keyLog io.Writer) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		MaxVersion:         tls.VersionTLS13,
		InsecureSkipVerify: c.Insecure,
		NextProtos:         []string{"http/1.1"},
		KeyLogWriter:       keyLog,
	}
	if c.TLSVersion == "1.2" {
		tc.MaxVersion = tls.VersionTLS12
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, &ConfigError{Flag: "ca", Msg: err.Error()}
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, &ConfigError{Flag: "ca", Msg: c.CAFile + ": no PEM certificate in it"}
		}
		tc.RootCAs = pool
	}
	return tc, nil
}

// connName is a TCP connection in docs/FORMATS.md's conn form, client first:
// "127.0.0.1:53122-127.0.0.1:8443".
func connName(c net.Conn) string {
	return addrPort(c.LocalAddr()).String() + "-" + addrPort(c.RemoteAddr()).String()
}

func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

// dialer connects TCP and, for TLS, handshakes with tc (ServerName from the
// address). onConn, when set, sees every new TCP connection.
type dialer struct {
	tc     *tls.Config
	net    net.Dialer
	onConn func(raw net.Conn)
}

func newDialer(tc *tls.Config) *dialer {
	return &dialer{tc: tc, net: net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}}
}

func (d *dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.net.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	if tcp, ok := raw.(*net.TCPConn); ok {
		tcp.SetNoDelay(true)
	}
	if d.onConn != nil {
		d.onConn(raw)
	}
	return raw, nil
}

func (d *dialer) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	raw, err := d.dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		raw.Close()
		return nil, err
	}
	cfg := d.tc.Clone()
	cfg.ServerName = host
	tc := tls.Client(raw, cfg)
	hctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", addr, err)
	}
	return tc, nil
}

// transport is an HTTP/1.1-only keep-alive transport over d: no h2
// (ForceAttemptHTTP2 false and an empty TLSNextProto), no compression (the
// monitor reads bodies as sent), at most maxConns connections.
func (d *dialer) transport(maxConns int) *http.Transport {
	return &http.Transport{
		DialContext:         d.dial,
		DialTLSContext:      d.dialTLS,
		ForceAttemptHTTP2:   false,
		TLSNextProto:        map[string]func(string, *tls.Conn) http.RoundTripper{},
		DisableCompression:  true,
		MaxConnsPerHost:     maxConns,
		MaxIdleConns:        maxConns,
		MaxIdleConnsPerHost: maxConns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: dialTimeout,
		Proxy:               nil,
	}
}
