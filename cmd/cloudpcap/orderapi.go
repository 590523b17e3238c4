package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/internal/dist"
	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/orderapi"
)

func init() {
	register(command{name: "orderapi", summary: "run the mock exchange's HTTPS order API (signed orders, acks, /stats)", run: runOrderAPI})
}

// Environment variables read when --api-key / --api-secret are not given.
const (
	envAPIKey    = "CLOUDPCAP_API_KEY"
	envAPISecret = "CLOUDPCAP_API_SECRET"
)

// orderAPIFlags maps Config fields to the flags that set them, so a config
// error names the flag.
var orderAPIFlags = map[string]string{
	"APIKey": "--api-key", "APISecret": "--api-secret", "AckDelay": "--ack-delay", "RejectRate": "--reject-rate",
	"RateLimit": "--rate-limit", "Burst": "--burst", "MaxBody": "--max-body", "Seed": "--seed",
}

func runOrderAPI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("orderapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      orderapi.Config
		listen   = fs.String("listen", "127.0.0.1:8444", "`ADDR` to listen on (host:port; port 0 picks one, logged as 'listening addr=...')")
		apiKey   = fs.String("api-key", "", "API `KEY` accepted in X-API-Key (default $"+envAPIKey+", else "+orderapi.DefaultAPIKey+")")
		secret   = fs.String("api-secret", "", "HMAC `SECRET` for X-Signature (default $"+envAPISecret+", else the lab secret); never logged")
		ackDelay = dist.Constant(0)
		maxBody  = int64(orderapi.DefaultMaxBody)
		logLevel = fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error")
	)
	fs.TextVar(&ackDelay, "ack-delay", dist.Constant(0), "simulated matching latency `DIST`: 200us, uniform:100us-300us, normal:200us,50us, exp:200us, lognormal:200us,100us")
	fs.Float64Var(&cfg.RejectRate, "reject-rate", 0, "fraction `F` of valid orders answered 200 with status REJECTED")
	fs.Float64Var(&cfg.RateLimit, "rate-limit", 0, "orders per second `N` (token bucket; 0 = unlimited); over it: 429 with Retry-After")
	fs.IntVar(&cfg.Burst, "burst", 0, "token bucket size `N` (0 = the rate, at least 1)")
	fs.Func("max-body", "largest order body `SIZE` (e.g. 4096, 64KiB, 1MB; default 64KiB); over it: 413", func(s string) error {
		n, err := units.ParseSize(s)
		if err == nil && n == 0 {
			err = fmt.Errorf("%q is not a positive size (e.g. 4096, 64KiB, 1MB)", s)
		}
		maxBody = n
		return err
	})
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed `N` for rejections and ack-delay samples")
	fs.StringVar(&cfg.TLS.Version, "tls", "1.3", "TLS `VERSION`: 1.2 or 1.3")
	fs.StringVar(&cfg.TLS.Cipher, "cipher", "", "TLS 1.2 cipher suite `NAME`: "+strings.Join(tlsconf.CipherNames(), ", ")+" or a Go suite name")
	fs.StringVar(&cfg.TLS.CertFile, "cert", "", "PEM certificate `FILE` (with --key; self-signed when both are empty)")
	fs.StringVar(&cfg.TLS.KeyFile, "key", "", "PEM private key `FILE`")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cloudpcap orderapi [flags]\n\nServes POST %s (signed), GET %s and GET %s over HTTPS (HTTP/1.1).\n\nflags:\n",
			orderapi.PathOrder, orderapi.PathStats, orderapi.PathHealthz)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("orderapi: unexpected argument %q (all settings are flags)", fs.Arg(0))}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &usageError{msg: fmt.Sprintf("orderapi: --log-level %q: want debug, info, warn or error", *logLevel)}
	}
	cfg.APIKey = firstNonEmpty(*apiKey, os.Getenv(envAPIKey), orderapi.DefaultAPIKey)
	cfg.APISecret = firstNonEmpty(*secret, os.Getenv(envAPISecret), orderapi.DefaultAPISecret)
	cfg.AckDelay = ackDelay
	cfg.MaxBody = maxBody
	if err := cfg.Validate(); err != nil {
		var ce *orderapi.ConfigError
		if errors.As(err, &ce) {
			return &usageError{msg: "orderapi: " + orderAPIFlags[ce.Field] + ": " + ce.Msg}
		}
		return &usageError{msg: "orderapi: " + err.Error()}
	}

	// A self-signed certificate also names the listen host (a lab address
	// such as 198.18.0.2), so clients that verify it can.
	if host, _, err := net.SplitHostPort(*listen); err == nil && host != "" {
		cfg.TLS.Hosts = append(cfg.TLS.Hosts, host)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := orderapi.New(cfg, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("orderapi: --listen %s: %w", *listen, err)
	}
	return srv.Run(ctx, ln)
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
