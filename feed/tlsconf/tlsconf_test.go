package tlsconf

import (
	"crypto/tls"
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		o       Options
		wantErr string
	}{
		{"default", Options{}, ""},
		{"tls13", Options{Version: "1.3"}, ""},
		{"tls12 short", Options{Version: "1.2", Cipher: "chacha20"}, ""},
		{"tls12 full", Options{Version: "1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"}, ""},
		{"tls12 cbc", Options{Version: "1.2", Cipher: "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"}, "unknown or unsupported"},
		{"tls13 cipher", Options{Version: "1.3", Cipher: "aes128gcm"}, "applies to --tls 1.2 only"},
		{"bad version", Options{Version: "1.1"}, `--tls "1.1": want 1.2 or 1.3`},
		{"cert without key", Options{CertFile: "c.pem"}, "--cert and --key go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestServerConfigVersions(t *testing.T) {
	c, err := ServerConfig(Options{Version: "1.2", Cipher: "aes256gcm"}, "http/1.1")
	if err != nil {
		t.Fatal(err)
	}
	if c.MaxVersion != tls.VersionTLS12 || len(c.CipherSuites) != 2 || c.NextProtos[0] != "http/1.1" {
		t.Fatalf("bad 1.2 config: max %x suites %v alpn %v", c.MaxVersion, c.CipherSuites, c.NextProtos)
	}
	c, err = ServerConfig(Options{Hosts: []string{"198.18.0.2", "feed.lab"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.MinVersion != tls.VersionTLS13 {
		t.Fatalf("default must be TLS 1.3 only, min %x", c.MinVersion)
	}
	leaf := c.Certificates[0].Leaf
	if err := leaf.VerifyHostname("198.18.0.2"); err != nil {
		t.Fatal(err)
	}
	if err := leaf.VerifyHostname("feed.lab"); err != nil {
		t.Fatal(err)
	}
}
