package tlsdec

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec/internal/tlstest"
)

func loadFixtures(t testing.TB) map[string]*tlstest.Session {
	t.Helper()
	files, err := filepath.Glob("testdata/*.session")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures (go run ./monitor/tlsdec/internal/gen): %v", err)
	}
	out := map[string]*tlstest.Session{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s, err := tlstest.Unmarshal(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out[filepath.Base(f)] = s
	}
	return out
}

// The committed fixtures decode to exactly the plaintext recorded with them.
func TestFixtures(t *testing.T) {
	for name, s := range loadFixtures(t) {
		t.Run(name, func(t *testing.T) {
			col := &collector{}
			c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
			feed(c, s, 0, 0)
			c.Close(0)
			checkSession(t, c, col, s)
		})
	}
}

// directionBytes concatenates a session's bytes per direction.
func directionBytes(s *tlstest.Session) (c2s, s2c []byte) {
	for _, e := range s.Events {
		if e.Dir == stream.ClientToServer {
			c2s = append(c2s, e.Data...)
		} else {
			s2c = append(s2c, e.Data...)
		}
	}
	return
}

// handshakeBodies returns the bodies of the plaintext handshake messages of
// the first record of a direction (ClientHello / ServerHello).
func firstHelloBody(b []byte) []byte {
	if len(b) < 9 || b[0] != typeHandshake {
		return nil
	}
	n := int(b[3])<<8 | int(b[4])
	if len(b) < 5+n || n < 4 {
		return nil
	}
	msg := b[5 : 5+n]
	m := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if len(msg) < 4+m {
		return nil
	}
	return msg[4 : 4+m]
}

// FuzzRecordParser feeds arbitrary bytes as both directions of a
// connection without keys, cut into segments, with gaps.
func FuzzRecordParser(f *testing.F) {
	for _, s := range loadFixtures(f) {
		c2s, s2c := directionBytes(s)
		f.Add(c2s[:min(len(c2s), 2000)], s2c[:min(len(s2c), 2000)], uint16(300))
	}
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"), []byte{}, uint16(3))
	f.Add([]byte{0x80, 0x2e, 0x01, 0x00, 0x02}, []byte{22, 3, 3, 0, 0}, uint16(1))
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, cut uint16) {
		c := NewConn(stream.ConnKey{}, Config{}, ConsumerFuncs{})
		step := int(cut%2048) + 1
		for i := 0; i < max(len(c2s), len(s2c)); i += step {
			if i < len(c2s) {
				c.Data(stream.ClientToServer, c2s[i:min(i+step, len(c2s))], int64(i))
			}
			if i < len(s2c) {
				c.Data(stream.ServerToClient, s2c[i:min(i+step, len(s2c))], int64(i))
			}
			if cut&0x8000 != 0 && i == step {
				c.Gap(stream.ServerToClient, int(cut&0xff), int64(i))
			}
		}
		c.Close(0)
		st := c.Stats()
		if st.Records > uint64(len(c2s)+len(s2c))/headerLen || st.Decrypted != 0 || st.Pending != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// FuzzHandshake parses arbitrary ClientHello / ServerHello bodies.
func FuzzHandshake(f *testing.F) {
	for _, s := range loadFixtures(f) {
		c2s, s2c := directionBytes(s)
		f.Add(firstHelloBody(c2s))
		f.Add(firstHelloBody(s2c))
	}
	f.Add(unhex(f, rfc8448ClientHelloBody)[4:])
	f.Add(unhex(f, rfc8448ServerHelloRecord)[9:])
	f.Fuzz(func(t *testing.T, body []byte) {
		if ch, err := ParseClientHello(body); err == nil && ch == nil {
			t.Fatal("nil ClientHello without error")
		}
		if sh, err := ParseServerHello(body); err == nil {
			if sh.HelloRetry != (sh.Random == helloRetryRandom) {
				t.Fatal("HelloRetry flag inconsistent")
			}
		}
		parseEncryptedExtensions(body)
		parseLeafCertificate(body, false)
		parseLeafCertificate(body, true)
	})
}

// FuzzConn runs the whole decoder, with the keys of a recorded session,
// on mutations of that session's bytes.
func FuzzConn(f *testing.F) {
	fx := loadFixtures(f)
	s := fx["go-tls13.session"]
	s12 := fx["go-tls12-chacha20.session"]
	if s == nil || s12 == nil {
		f.Fatal("fixtures missing")
	}
	keys := keyring.NewStore()
	keys.Load("tls13.keys", s.KeyLog)
	keys.Load("tls12.keys", s12.KeyLog)
	for _, x := range []*tlstest.Session{s, s12} {
		c2s, s2c := directionBytes(x)
		f.Add(c2s, s2c, uint16(1000))
		f.Add(c2s, s2c, uint16(0x8000|7))
	}
	f.Fuzz(func(t *testing.T, c2s, s2c []byte, cut uint16) {
		var got [2]int
		c := NewConn(stream.ConnKey{}, Config{Keys: keys, MaxPending: 1 << 16}, ConsumerFuncs{
			OnAppData: func(dir stream.Dir, b []byte, span stream.Span) { got[dir] += len(b) },
		})
		step := int(cut%4096) + 1
		for i := 0; i < max(len(c2s), len(s2c)); i += step {
			if i < len(s2c) {
				c.Data(stream.ServerToClient, s2c[i:min(i+step, len(s2c))], int64(i))
			}
			if i < len(c2s) {
				c.Data(stream.ClientToServer, c2s[i:min(i+step, len(c2s))], int64(i))
			}
			if cut&0x8000 != 0 && i == 3*step {
				c.Gap(stream.ClientToServer, int(cut>>4&0x7ff), int64(i))
			}
		}
		c.Close(0)
		st := c.Stats()
		if uint64(got[0]+got[1]) != st.AppBytes || st.Pending != 0 || got[0] > len(c2s) || got[1] > len(s2c) {
			t.Fatalf("stats %+v got %v", st, got)
		}
	})
}

// The fuzz seeds are the fixtures themselves: decoding them unmodified must
// give the recorded plaintext (guards the seeds against going stale).
func TestFixtureSeedsDecode(t *testing.T) {
	s := loadFixtures(t)["go-tls13.session"]
	c2s, s2c := directionBytes(s)
	col := &collector{}
	c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, col)
	c.Data(stream.ClientToServer, c2s[:600], 1) // ClientHello first
	c.Data(stream.ServerToClient, s2c, 2)
	c.Data(stream.ClientToServer, c2s[600:], 3)
	c.Close(4)
	if !bytes.Equal(col.plain[0], s.Plain[0]) || !bytes.Equal(col.plain[1], s.Plain[1]) {
		t.Fatalf("stats %+v errors %v", c.Stats(), c.Errors())
	}
}
