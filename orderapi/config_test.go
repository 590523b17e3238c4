package orderapi

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/internal/dist"
	"github.com/cloudpcap/cloudpcap/internal/units"
)

func TestConfigValidate(t *testing.T) {
	good := Config{APIKey: "k", APISecret: "s"}
	cases := []struct {
		name      string
		edit      func(*Config)
		wantField string // "" means valid
		wantMsg   string
	}{
		{"minimal", func(*Config) {}, "", ""},
		{"full", func(c *Config) {
			c.AckDelay = dist.MustParse("uniform:100us-300us")
			c.RejectRate, c.RateLimit, c.Burst, c.MaxBody = 0.05, 1000, 50, 1<<20
			c.TLS = tlsconf.Options{Version: "1.2", Cipher: "chacha20"}
		}, "", ""},
		{"reject all", func(c *Config) { c.RejectRate = 1 }, "", ""},
		{"no key", func(c *Config) { c.APIKey = "" }, "APIKey", "empty"},
		{"no secret", func(c *Config) { c.APISecret = "" }, "APISecret", "empty"},
		{"reject negative", func(c *Config) { c.RejectRate = -0.1 }, "RejectRate", "-0.1 is not a fraction"},
		{"reject over 1", func(c *Config) { c.RejectRate = 1.5 }, "RejectRate", "1.5 is not a fraction"},
		{"reject NaN", func(c *Config) { c.RejectRate = math.NaN() }, "RejectRate", "NaN"},
		{"rate negative", func(c *Config) { c.RateLimit = -1 }, "RateLimit", "-1 is not a rate"},
		{"rate inf", func(c *Config) { c.RateLimit = math.Inf(1) }, "RateLimit", "+Inf"},
		{"burst negative", func(c *Config) { c.Burst = -2 }, "Burst", "-2 is negative"},
		{"max body negative", func(c *Config) { c.MaxBody = -1 }, "MaxBody", "-1 bytes"},
		{"max body huge", func(c *Config) { c.MaxBody = 1 << 40 }, "MaxBody", "outside"},
		{"ack delay huge", func(c *Config) { c.AckDelay = dist.Constant(2 * time.Minute) }, "AckDelay", "mean above 1m0s"},
		{"ack delay invalid", func(c *Config) { c.AckDelay = dist.Dist{Kind: units.Uniform, A: 5, B: 1} }, "AckDelay", "low bound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := good
			c.edit(&cfg)
			err := cfg.Validate()
			if c.wantField == "" {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != c.wantField || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("got %v, want ConfigError on %s containing %q", err, c.wantField, c.wantMsg)
			}
		})
	}
	// TLS errors come from tlsconf and name the flag.
	cfg := good
	cfg.TLS = tlsconf.Options{Version: "1.1"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "--tls") {
		t.Errorf("bad TLS version: %v", err)
	}
	if _, err := New(Config{}, nil); err == nil {
		t.Error("New accepted an empty config")
	}
}
