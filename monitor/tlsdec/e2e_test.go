package tlsdec

import (
	"bytes"
	"crypto/tls"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec/internal/tlstest"
)

// collector gathers a Conn's output.
type collector struct {
	plain  [2][]byte
	spans  [2][]stream.Span
	alerts int
	done   *Info
}

func (c *collector) AppData(dir stream.Dir, b []byte, span stream.Span) {
	c.plain[dir] = append(c.plain[dir], b...)
	c.spans[dir] = append(c.spans[dir], span)
}
func (c *collector) Alert(dir stream.Dir, level, desc uint8, span stream.Span) { c.alerts++ }
func (c *collector) HandshakeDone(info *Info)                                  { c.done = info }

// feed replays a session into a Conn. With chunk > 0 every event is cut
// into pieces of random size up to chunk (seeded), as TCP segments would be.
func feed(c *Conn, s *tlstest.Session, chunk int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for _, e := range s.Events {
		b := e.Data
		for len(b) > 0 {
			n := len(b)
			if chunk > 0 {
				n = min(n, 1+r.IntN(chunk))
			}
			c.Data(e.Dir, b[:n], e.TS)
			b = b[n:]
		}
	}
}

func storeFor(t testing.TB, s *tlstest.Session) *keyring.Store {
	t.Helper()
	st := keyring.NewStore()
	if _, w := st.Load("session.keys", s.KeyLog); len(w) != 0 {
		t.Fatal(w)
	}
	return st
}

func checkSession(t *testing.T, c *Conn, col *collector, s *tlstest.Session) {
	t.Helper()
	st := c.Stats()
	for d := range 2 {
		if !bytes.Equal(col.plain[d], s.Plain[d]) {
			t.Errorf("%s plaintext: got %d bytes, want %d (stats %+v, errors %v)", stream.Dir(d), len(col.plain[d]), len(s.Plain[d]), st, c.Errors())
		}
	}
	if st.AuthFailures != 0 || st.NoKey != 0 || st.BadRecords != 0 || st.Stopped != 0 || st.Pending != 0 {
		t.Errorf("stats %+v errors %v", st, c.Errors())
	}
	if col.done == nil {
		t.Errorf("HandshakeDone not called")
	}
}

var testMessages = [][]byte{
	[]byte("hello"),
	bytes.Repeat([]byte("0123456789abcdef"), 40<<10/16), // 40 KiB: several records
	[]byte(`{"op":"order","px":"101.5"}`),
}

func TestGoSessions(t *testing.T) {
	tests := []struct {
		name    string
		opts    tlstest.GoOptions
		version uint16
		suite   uint16
	}{
		{"tls12 aes128gcm", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}, VersionTLS12, 0xc02b},
		{"tls12 aes256gcm", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}, VersionTLS12, 0xc02c},
		{"tls12 chacha20", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}, VersionTLS12, 0xcca9},
		{"tls13 default", tlstest.GoOptions{ALPN: "http/1.1"}, VersionTLS13, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Messages = testMessages
			s, err := tlstest.Go(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, chunk := range []int{0, 1, 700} {
				col := &collector{}
				c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
				feed(c, s, chunk, 7)
				c.Close(0)
				checkSession(t, c, col, s)
				info := c.Info()
				if info.Version != tt.version || (tt.suite != 0 && info.Suite != tt.suite) || !info.Decryptable {
					t.Errorf("version %#x suite %s", info.Version, info.SuiteName())
				}
				if info.SNI != tlstest.Host || info.CertCN != tlstest.Host || len(info.CertSANs) != 1 {
					t.Errorf("info %+v", info)
				}
				if tt.opts.ALPN != "" && info.ALPN != tt.opts.ALPN {
					t.Errorf("ALPN %q", info.ALPN)
				}
				checkSpans(t, col, s)
			}
		})
	}
}

// checkSpans checks every span lies within the capture and is ordered.
func checkSpans(t *testing.T, col *collector, s *tlstest.Session) {
	t.Helper()
	lo, hi := s.Events[0].TS, s.Events[len(s.Events)-1].TS
	for d := range 2 {
		for _, sp := range col.spans[d] {
			if sp.FirstNS < lo || sp.LastNS > hi || sp.FirstNS > sp.LastNS {
				t.Fatalf("span %+v outside [%d,%d]", sp, lo, hi)
			}
		}
	}
}

// The 40 KiB message spans several records and many segments; its last
// record's span must start at a segment before the one that completes it
// when the bytes are cut finely.
func TestSpansAcrossSegments(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{Messages: testMessages})
	if err != nil {
		t.Fatal(err)
	}
	// Give every segment its own timestamp.
	var evs []tlstest.Event
	ts := int64(1)
	for _, e := range s.Events {
		for i := 0; i < len(e.Data); i += 100 {
			evs = append(evs, tlstest.Event{Dir: e.Dir, TS: ts, Data: e.Data[i:min(i+100, len(e.Data))]})
			ts++
		}
	}
	s2 := *s
	s2.Events = evs
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
	feed(c, &s2, 0, 0)
	checkSession(t, c, col, s)
	multi := 0
	for _, sp := range col.spans[stream.ClientToServer] {
		if sp.LastNS-sp.FirstNS > 10 {
			multi++
		}
	}
	if multi < 2 {
		t.Fatalf("no record spanning many segments: %+v", col.spans[0])
	}
}

func TestLateKeyLog(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{Messages: testMessages})
	if err != nil {
		t.Fatal(err)
	}
	st := keyring.NewStore()
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: st}, col)
	feed(c, s, 0, 0)
	if got := c.Stats(); got.Pending == 0 || got.Decrypted != 0 || len(col.plain[0]) != 0 {
		t.Fatalf("before keys: %+v", got)
	}
	// The key log appears (the live monitor's Tail would do this).
	st.Load("late.keys", s.KeyLog)
	c.KeysChanged()
	c.Close(0)
	checkSession(t, c, col, s)

	// The same for TLS 1.2, where only the Data path notices the new generation.
	s12, err := tlstest.Go(tlstest.GoOptions{MaxVersion: tls.VersionTLS12, Messages: testMessages})
	if err != nil {
		t.Fatal(err)
	}
	st = keyring.NewStore()
	col = &collector{}
	c = NewConn(stream.ConnKey{}, Config{Keys: st}, col)
	half := len(s12.Events) / 2
	feed(c, &tlstest.Session{Events: s12.Events[:half]}, 0, 0)
	st.Load("late.keys", s12.KeyLog)
	feed(c, &tlstest.Session{Events: s12.Events[half:]}, 0, 0)
	c.Close(0)
	checkSession(t, c, col, s12)
}

func TestNoKeyEver(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{Messages: testMessages})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: keyring.NewStore()}, col)
	feed(c, s, 0, 0)
	c.Close(0)
	st := c.Stats()
	if st.NoKey == 0 || st.Decrypted != 0 || st.Pending != 0 || len(col.plain[0]) != 0 {
		t.Fatalf("stats %+v", st)
	}
	cr, ok := c.MissingKey()
	if !ok || len(cr) != 64 || !strings.Contains(string(s.KeyLog), cr) {
		t.Fatalf("MissingKey %q %v", cr, ok)
	}
	// A tiny pending budget: records beyond it are counted as no key at once.
	c = NewConn(stream.ConnKey{}, Config{Keys: keyring.NewStore(), MaxPending: 100}, &collector{})
	feed(c, s, 0, 0)
	if st := c.Stats(); st.Pending > 100 || st.NoKey == 0 {
		t.Fatalf("bounded pending: %+v", st)
	}
	c.Close(0)
}

func TestUnsupportedSuite(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}, Messages: testMessages[:1]})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
	feed(c, s, 0, 0)
	c.Close(0)
	st := c.Stats()
	if st.Unsupported == 0 || st.AuthFailures != 0 || st.NoKey != 0 || len(c.Errors()) != 0 || c.Info().Decryptable {
		t.Fatalf("stats %+v errors %v", st, c.Errors())
	}
}

func TestNotTLS(t *testing.T) {
	for _, tt := range []struct {
		name string
		data string
		err  error
	}{
		{"http", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", ErrNotTLS},
		{"sslv2 hello", "\x80\x2e\x01\x00\x02\x00\x15\x00\x00\x00\x10", ErrSSLv2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := NewConn(stream.ConnKey{}, Config{}, &collector{})
			c.Data(stream.ClientToServer, []byte(tt.data), 1)
			c.Data(stream.ClientToServer, []byte(tt.data), 2)
			c.Close(3)
			st := c.Stats()
			if st.NotTLS != 1 || st.Stopped != 1 || st.Records != 0 {
				t.Fatalf("stats %+v", st)
			}
			if errs := c.Errors(); len(errs) != 1 || !errorsIs(errs[0], tt.err) {
				t.Fatalf("errors %v", errs)
			}
		})
	}
}

// A gap in the middle of the big message: the decoder resynchronises on
// the next record header, finds the sequence number and goes on.
func TestGapResync(t *testing.T) {
	for _, tt := range []struct {
		name string
		opts tlstest.GoOptions
	}{
		{"tls13", tlstest.GoOptions{}},
		{"tls12 gcm", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}},
		{"tls12 chacha", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Messages = [][]byte{[]byte("a"), bytes.Repeat([]byte{'x'}, 100<<10), []byte("after the gap")}
			s, err := tlstest.Go(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			col := &collector{}
			c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
			// Cut c2s into 1000-byte segments and drop 20 of them in the middle of the big message.
			var c2s []byte
			for _, e := range s.Events {
				if e.Dir == stream.ClientToServer {
					c2s = append(c2s, e.Data...)
				}
			}
			dropFrom, dropTo := 40_000, 60_000
			for _, e := range s.Events {
				if e.Dir == stream.ServerToClient {
					c.Data(e.Dir, e.Data, e.TS)
				}
			}
			c.Data(stream.ClientToServer, c2s[:dropFrom], 1)
			c.Gap(stream.ClientToServer, dropTo-dropFrom, 2)
			c.Data(stream.ClientToServer, c2s[dropTo:], 3)
			c.Close(4)
			st := c.Stats()
			if st.Gaps != 1 || st.Resyncs != 1 || st.Stopped != 0 || st.AuthFailures != 0 {
				t.Fatalf("stats %+v errors %v", st, c.Errors())
			}
			if !bytes.HasSuffix(col.plain[0], []byte("after the gap")) {
				t.Fatalf("no data after the gap: %+v %v", st, c.Errors())
			}
			if len(col.plain[0]) >= len(s.Plain[0]) || len(col.plain[0]) < len(s.Plain[0])-(dropTo-dropFrom)-2*(16<<10) {
				t.Fatalf("decoded %d of %d bytes", len(col.plain[0]), len(s.Plain[0]))
			}
		})
	}
}

// tcpflow may hand over one direction's bytes well before the other's (a
// capture where the server's side was flushed first): records that cannot
// be decoded yet wait for the ClientHello / ServerHello instead of failing.
func TestDirectionsOutOfOrder(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  tlstest.GoOptions
		first stream.Dir
	}{
		{"tls13 server first", tlstest.GoOptions{}, stream.ServerToClient},
		{"tls13 client first", tlstest.GoOptions{}, stream.ClientToServer},
		{"tls12 server first", tlstest.GoOptions{MaxVersion: tls.VersionTLS12}, stream.ServerToClient},
		{"tls12 client first", tlstest.GoOptions{MaxVersion: tls.VersionTLS12}, stream.ClientToServer},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Messages = testMessages
			s, err := tlstest.Go(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			col := &collector{}
			c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
			for _, d := range []stream.Dir{tt.first, tt.first.Reverse()} {
				for _, e := range s.Events {
					if e.Dir == d {
						c.Data(e.Dir, e.Data, e.TS)
					}
				}
			}
			c.Close(0)
			checkSession(t, c, col, s)
		})
	}
}

// Garbage in the middle of a direction (not a gap: the bytes are there but
// are not a record) is reported and skipped; decoding resumes.
func TestGarbageResync(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{MaxVersion: tls.VersionTLS12, Messages: testMessages})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
	injected := false
	for _, e := range s.Events {
		c.Data(e.Dir, e.Data, e.TS)
		if e.Dir == stream.ServerToClient && !injected && c.Stats().Decrypted > 2 && len(c.h[1].buf) == 0 {
			c.Data(e.Dir, []byte("\x99garbage that is no record header"), e.TS)
			injected = true
		}
	}
	c.Close(0)
	st := c.Stats()
	if !injected || st.BadRecords != 1 || st.Resyncs != 1 || st.Stopped != 0 || st.AuthFailures != 0 {
		t.Fatalf("injected %v stats %+v errors %v", injected, st, c.Errors())
	}
	if !bytes.Equal(col.plain[0], s.Plain[0]) || !bytes.Equal(col.plain[1], s.Plain[1]) {
		t.Fatalf("plaintext differs after garbage")
	}
}

// A server that wants a group the client sent no key share for answers with
// a HelloRetryRequest; the client's second ClientHello (after a
// compatibility ChangeCipherSpec) is plaintext and the handshake goes on.
func TestHelloRetryRequest(t *testing.T) {
	s, err := tlstest.Go(tlstest.GoOptions{Messages: testMessages, ServerCurves: []tls.CurveID{tls.CurveP384}})
	if err != nil {
		t.Fatal(err)
	}
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
	feed(c, s, 0, 0)
	c.Close(0)
	checkSession(t, c, col, s)
	if info := c.Info(); !info.HelloRetry || info.Version != VersionTLS13 {
		t.Fatalf("info %+v", info)
	}
}
