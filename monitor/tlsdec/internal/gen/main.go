// Command gen records the small TLS sessions that tlsdec's tests and fuzz
// targets use as fixtures, and writes them to monitor/tlsdec/testdata.
// Run it from the repository root: go run ./monitor/tlsdec/internal/gen.
// CI never runs it; the fixtures are committed.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/monitor/tlsdec/internal/tlstest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "monitor/tlsdec/testdata", "folder for the fixtures")
	if err := fs.Parse(args); err != nil {
		return err
	}
	msgs := [][]byte{[]byte("hello"), []byte(`{"op":"subscribe","symbols":["BTCUSDT"]}`), make([]byte, 3000)}
	fixtures := []struct {
		name string
		opts tlstest.GoOptions
	}{
		{"go-tls13.session", tlstest.GoOptions{Messages: msgs, ALPN: "http/1.1"}},
		{"go-tls12-chacha20.session", tlstest.GoOptions{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256}, Messages: msgs}},
		{"go-tls12-aes128gcm.session", tlstest.GoOptions{MaxVersion: tls.VersionTLS12,
			CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256}, Messages: msgs}},
	}
	for _, f := range fixtures {
		s, err := tlstest.Go(f.opts)
		if err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
		if err := os.WriteFile(filepath.Join(*out, f.name), s.Marshal(), 0o644); err != nil {
			return err
		}
	}
	return nil
}
