package orderapi

import (
	"fmt"
	"math"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/internal/dist"
)

// Lab credentials, used by orderapi and trader when none are given. They are
// not secret: the lab is a closed loopback/namespace network, and the monitor
// decrypts with the TLS key log, not with these.
const (
	DefaultAPIKey    = "cloudpcap-lab-key"
	DefaultAPISecret = "cloudpcap-lab-secret"
)

// Defaults and bounds for Config.
const (
	DefaultMaxBody = 64 << 10 // bytes
	MaxMaxBody     = 64 << 20
	MaxAckDelay    = time.Minute // bound on AckDelay's mean, so shutdown stays prompt
)

// Config is the plain-data configuration of one order API server.
type Config struct {
	APIKey     string    // X-API-Key accepted
	APISecret  string    // HMAC secret; never logged
	AckDelay   dist.Dist // simulated matching latency between receipt and ack
	RejectRate float64   // fraction in [0, 1] of valid orders answered REJECTED
	RateLimit  float64   // orders per second (token bucket); 0 means unlimited
	Burst      int       // bucket size; 0 means max(1, ceil(RateLimit))
	MaxBody    int64     // largest accepted body in bytes; 0 means DefaultMaxBody
	Seed       uint64    // seeds rejections and ack-delay samples
	TLS        tlsconf.Options
}

// ConfigError is an invalid Config field.
type ConfigError struct {
	Field string // Config field name, e.g. "RejectRate"
	Msg   string
}

func (e *ConfigError) Error() string { return "orderapi: config " + e.Field + ": " + e.Msg }

// Validate checks c; New calls it. The TLS error, if any, is tlsconf's
// (which names its flag).
func (c Config) Validate() error {
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Msg: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.APIKey == "":
		return bad("APIKey", "empty")
	case c.APISecret == "":
		return bad("APISecret", "empty")
	case math.IsNaN(c.RejectRate) || c.RejectRate < 0 || c.RejectRate > 1:
		return bad("RejectRate", "%v is not a fraction in [0, 1]", c.RejectRate)
	case math.IsNaN(c.RateLimit) || math.IsInf(c.RateLimit, 0) || c.RateLimit < 0:
		return bad("RateLimit", "%v is not a rate >= 0 (0 means unlimited)", c.RateLimit)
	case c.Burst < 0:
		return bad("Burst", "%d is negative", c.Burst)
	case c.MaxBody < 0 || c.MaxBody > MaxMaxBody:
		return bad("MaxBody", "%d bytes is outside [1, %d] (0 means %d)", c.MaxBody, MaxMaxBody, DefaultMaxBody)
	case c.AckDelay.Mean() > MaxAckDelay:
		return bad("AckDelay", "%s has a mean above %v", c.AckDelay, MaxAckDelay)
	}
	if _, err := dist.Parse(c.AckDelay.String()); err != nil {
		return bad("AckDelay", "%v", err)
	}
	return c.TLS.Validate()
}

func (c Config) maxBody() int64 {
	if c.MaxBody == 0 {
		return DefaultMaxBody
	}
	return c.MaxBody
}

func (c Config) burst() float64 {
	if c.Burst > 0 {
		return float64(c.Burst)
	}
	return math.Max(1, math.Ceil(c.RateLimit))
}
