package tlsdec

import (
	"bytes"
	"crypto/tls"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/stream"
	"github.com/cloudpcap/cloudpcap/monitor/tlsdec/internal/tlstest"
)

// countingConsumer keeps nothing, so it allocates nothing.
type countingConsumer struct{ n [2]int }

func (c *countingConsumer) AppData(dir stream.Dir, b []byte, span stream.Span) { c.n[dir] += len(b) }
func (c *countingConsumer) Alert(stream.Dir, uint8, uint8, stream.Span)        {}
func (c *countingConsumer) HandshakeDone(*Info)                                {}

var allocSuites = []struct {
	name string
	opts tlstest.GoOptions
}{
	{"tls13-aes128gcm", tlstest.GoOptions{}},
	{"tls12-aes128gcm", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}}},
	{"tls12-aes256gcm", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384}}},
	{"tls12-chacha20", tlstest.GoOptions{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}}},
}

// Decrypting records in steady state allocates nothing.
func TestDecryptAllocs(t *testing.T) {
	for _, tt := range allocSuites {
		t.Run(tt.name, func(t *testing.T) {
			msgs := make([][]byte, 300)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte{byte(i)}, 200+i*7)
			}
			tt.opts.Messages = msgs
			s, err := tlstest.Go(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			cons := &countingConsumer{}
			c := NewConn(stream.ConnKey{}, Config{Keys: storeFor(t, s)}, cons)
			// Warm up: the handshake and the first exchanges grow the buffers.
			warm := len(s.Events) / 3
			for _, e := range s.Events[:warm] {
				c.Data(e.Dir, e.Data, e.TS)
			}
			rest := s.Events[warm:]
			runs := len(rest) - 2 // AllocsPerRun calls the function runs+1 times
			i := 0
			before := c.Stats().Decrypted
			allocs := testing.AllocsPerRun(runs, func() {
				e := rest[i]
				i++
				c.Data(e.Dir, e.Data, e.TS)
			})
			if allocs != 0 {
				t.Fatalf("%.2f allocations per segment in steady state", allocs)
			}
			if c.Stats().Decrypted-before < uint64(runs)/2 || c.Stats().AuthFailures != 0 {
				t.Fatalf("steady state did not decrypt: %+v", c.Stats())
			}
		})
	}
}

// BenchmarkDecrypt decodes whole recorded sessions (handshake included)
// whose bulk is 16 KiB application records; MB/s counts ciphertext bytes.
func BenchmarkDecrypt(b *testing.B) {
	for _, tt := range allocSuites {
		b.Run(tt.name, func(b *testing.B) {
			msgs := make([][]byte, 128)
			for i := range msgs {
				msgs[i] = bytes.Repeat([]byte{byte(i)}, 16<<10)
			}
			tt.opts.Messages = msgs
			s, err := tlstest.Go(tt.opts)
			if err != nil {
				b.Fatal(err)
			}
			keys := storeFor(b, s)
			total := 0
			for _, e := range s.Events {
				total += len(e.Data)
			}
			b.SetBytes(int64(total))
			b.ReportAllocs()
			var records uint64
			for b.Loop() {
				c := NewConn(stream.ConnKey{}, Config{Keys: keys}, &countingConsumer{})
				for _, e := range s.Events {
					c.Data(e.Dir, e.Data, e.TS)
				}
				c.Close(0)
				if st := c.Stats(); st.AuthFailures != 0 || st.Decrypted == 0 {
					b.Fatalf("stats %+v", st)
				}
				records += c.Stats().Records
			}
			b.ReportMetric(float64(records)/float64(b.N), "records/op")
		})
	}
}
