// Package tlstest records real TLS sessions over loopback TCP for tlsdec's
// tests and fixture generator: the bytes of each direction with the time
// they were seen, the key log and the plaintext each side sent.
//
// Buffers: a Session owns all its slices.
package tlstest

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Event is the bytes one direction carried in one read or write.
type Event struct {
	Dir  stream.Dir
	TS   int64
	Data []byte
}

// Session is a recorded connection.
type Session struct {
	Events []Event
	KeyLog []byte
	Plain  [2][]byte // application bytes sent client→server and server→client
}

// recorder collects events from several goroutines in arrival order.
type recorder struct {
	mu  sync.Mutex
	ev  []Event
	n   [2]int
	cnd *sync.Cond
}

func newRecorder() *recorder {
	r := &recorder{}
	r.cnd = sync.NewCond(&r.mu)
	return r
}

func (r *recorder) add(dir stream.Dir, b []byte) {
	if len(b) == 0 {
		return
	}
	r.mu.Lock()
	r.ev = append(r.ev, Event{Dir: dir, TS: time.Now().UnixNano(), Data: bytes.Clone(b)})
	r.n[dir] += len(b)
	r.cnd.Broadcast()
	r.mu.Unlock()
}

// Bytes returns how many bytes a direction has carried.
func (r *recorder) Bytes(dir stream.Dir) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n[dir]
}

func (r *recorder) events() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.ev...)
}

// recConn records what the client writes (c2s) and reads (s2c).
type recConn struct {
	net.Conn
	r *recorder
}

func (c *recConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.r.add(stream.ClientToServer, b[:n])
	return n, err
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.r.add(stream.ServerToClient, b[:n])
	return n, err
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) Bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return bytes.Clone(l.b.Bytes())
}

// Cert returns a fresh self-signed ECDSA certificate for host, and its PEM
// encoding (certificate, key) for tools such as openssl.
func Cert(host string) (tls.Certificate, []byte, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, nil, nil, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	return c, certPEM, keyPEM, err
}

// Host is the server name used by the recorded sessions.
const Host = "tlsdec.test"

// GoOptions selects what a Go session negotiates and sends.
type GoOptions struct {
	MaxVersion   uint16   // tls.VersionTLS12 or tls.VersionTLS13 (0: 1.3)
	CipherSuites []uint16 // TLS 1.2 suites offered
	Messages     [][]byte // each is sent by the client and answered by the server
	ALPN         string
	ServerCurves []tls.CurveID // server key exchange preferences; one the client sends no key share for forces a HelloRetryRequest
}

// Reply is the server's answer to a message in Go sessions.
func Reply(msg []byte) []byte {
	out := make([]byte, 0, len(msg)+6)
	out = append(out, "reply:"...)
	for i := len(msg) - 1; i >= 0; i-- {
		out = append(out, msg[i])
	}
	return out
}

// Go records a session between a crypto/tls client and server over loopback.
// Each message is framed by a 4-byte length so the server knows where it ends.
func Go(o GoOptions) (*Session, error) {
	cert, _, _, err := Cert(Host)
	if err != nil {
		return nil, err
	}
	var protos []string
	if o.ALPN != "" {
		protos = []string{o.ALPN}
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates:     []tls.Certificate{cert},
		MaxVersion:       o.MaxVersion,
		CipherSuites:     o.CipherSuites,
		NextProtos:       protos,
		CurvePreferences: o.ServerCurves,
	})
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	srvErr := make(chan error, 1)
	var srvPlain bytes.Buffer
	go func() {
		srvErr <- func() error {
			c, err := ln.Accept()
			if err != nil {
				return err
			}
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				var hdr [4]byte
				if _, err := io.ReadFull(br, hdr[:]); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				msg := make([]byte, int(hdr[0])<<24|int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
				if _, err := io.ReadFull(br, msg); err != nil {
					return err
				}
				r := Reply(msg)
				srvPlain.Write(r)
				if _, err := c.Write(r); err != nil {
					return err
				}
			}
		}()
	}()
	raw, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return nil, err
	}
	rec := newRecorder()
	var kl lockedBuffer
	cl := tls.Client(&recConn{Conn: raw, r: rec}, &tls.Config{
		ServerName:   Host,
		RootCAs:      rootsFor(cert),
		MaxVersion:   o.MaxVersion,
		CipherSuites: o.CipherSuites,
		NextProtos:   protos,
		KeyLogWriter: &kl,
	})
	s := &Session{}
	err = func() error {
		for _, m := range o.Messages {
			frame := append([]byte{byte(len(m) >> 24), byte(len(m) >> 16), byte(len(m) >> 8), byte(len(m))}, m...)
			s.Plain[stream.ClientToServer] = append(s.Plain[stream.ClientToServer], frame...)
			if _, err := cl.Write(frame); err != nil {
				return err
			}
			want := Reply(m)
			got := make([]byte, len(want))
			if _, err := io.ReadFull(cl, got); err != nil {
				return err
			}
			if !bytes.Equal(got, want) {
				return errors.New("tlstest: server reply differs")
			}
		}
		return nil
	}()
	cl.Close()
	if serr := <-srvErr; err == nil && serr != nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	s.Plain[stream.ServerToClient] = srvPlain.Bytes()
	s.Events = rec.events()
	s.KeyLog = kl.Bytes()
	return s, nil
}

func rootsFor(c tls.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err == nil {
		p.AddCert(leaf)
	}
	return p
}

// Proxy forwards one TCP connection from a listener to target and records
// both directions. Close stops it.
type Proxy struct {
	ln   net.Listener
	rec  *recorder
	done chan struct{}
	mu   sync.Mutex
	cs   []net.Conn
}

// NewProxy listens on a loopback port and forwards the first connection to target.
func NewProxy(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, rec: newRecorder(), done: make(chan struct{})}
	go p.run(target)
	return p, nil
}

// Addr is where clients connect.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Bytes returns how many bytes a direction has carried so far.
func (p *Proxy) Bytes(dir stream.Dir) int { return p.rec.Bytes(dir) }

// WaitBytes waits until dir has carried more than n bytes or the deadline passes.
func (p *Proxy) WaitBytes(dir stream.Dir, n int, timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	t := time.AfterFunc(timeout, func() { p.rec.mu.Lock(); p.rec.cnd.Broadcast(); p.rec.mu.Unlock() })
	defer t.Stop()
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	for p.rec.n[dir] <= n {
		if time.Now().After(deadline) {
			return false
		}
		p.rec.cnd.Wait()
	}
	return true
}

// Events returns what was recorded so far.
func (p *Proxy) Events() []Event { return p.rec.events() }

func (p *Proxy) run(target string) {
	defer close(p.done)
	c, err := p.ln.Accept()
	if err != nil {
		return
	}
	s, err := net.Dial("tcp", target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.cs = append(p.cs, c, s)
	p.mu.Unlock()
	var wg sync.WaitGroup
	pipe := func(dst, src net.Conn, dir stream.Dir) {
		defer wg.Done()
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				p.rec.add(dir, buf[:n])
				if _, werr := dst.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		if tc, ok := dst.(*net.TCPConn); ok {
			tc.CloseWrite()
		}
	}
	wg.Add(2)
	go pipe(s, c, stream.ClientToServer)
	go pipe(c, s, stream.ServerToClient)
	wg.Wait()
	c.Close()
	s.Close()
}

// Close stops the proxy and waits for its goroutines.
func (p *Proxy) Close() {
	p.ln.Close()
	p.mu.Lock()
	for _, c := range p.cs {
		c.Close()
	}
	p.mu.Unlock()
	<-p.done
}

// Marshal writes a session as text: "keylog <hex>", "plain <dir> <hex>" and
// one "<dir> <ts> <hex>" line per event. It is the fixture format.
func (s *Session) Marshal() []byte {
	var b bytes.Buffer
	b.WriteString("# tlsdec session fixture: made by go run ./monitor/tlsdec/internal/gen\n")
	fmt.Fprintf(&b, "keylog %s\n", hex.EncodeToString(s.KeyLog))
	for d := range s.Plain {
		fmt.Fprintf(&b, "plain %s %s\n", stream.Dir(d), hex.EncodeToString(s.Plain[d]))
	}
	for _, e := range s.Events {
		fmt.Fprintf(&b, "%s %d %s\n", e.Dir, e.TS, hex.EncodeToString(e.Data))
	}
	return b.Bytes()
}

// Unmarshal parses Marshal's format.
func Unmarshal(data []byte) (*Session, error) {
	s := &Session{}
	for i, line := range strings.Split(string(data), "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		bad := fmt.Errorf("tlstest: line %d: malformed", i+1)
		dec := func(h string) ([]byte, error) {
			b, err := hex.DecodeString(h)
			if err != nil {
				return nil, bad
			}
			return b, nil
		}
		dir := func(n string) (stream.Dir, bool) {
			switch n {
			case "c2s":
				return stream.ClientToServer, true
			case "s2c":
				return stream.ServerToClient, true
			}
			return 0, false
		}
		var err error
		switch {
		case len(f) == 2 && f[0] == "keylog":
			s.KeyLog, err = dec(f[1])
		case len(f) == 3 && f[0] == "plain":
			d, ok := dir(f[1])
			if !ok {
				return nil, bad
			}
			s.Plain[d], err = dec(f[2])
		case len(f) == 3:
			d, ok := dir(f[0])
			ts, perr := strconv.ParseInt(f[1], 10, 64)
			if !ok || perr != nil {
				return nil, bad
			}
			var b []byte
			b, err = dec(f[2])
			s.Events = append(s.Events, Event{Dir: d, TS: ts, Data: b})
		case len(f) == 2 && f[0] == "plain": // empty plaintext
		default:
			return nil, bad
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}
