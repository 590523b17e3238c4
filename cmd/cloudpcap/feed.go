package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/feed"
	"github.com/cloudpcap/cloudpcap/feed/format"
)

func init() {
	register(command{name: "feed", summary: "run the mock exchange's TLS WebSocket market-data feed", run: runFeed})
}

const feedUsage = `usage: cloudpcap feed [flags]

Serves ticks over TLS WebSocket. Subscribe by path (/ws/btcusdt@trade,
/stream?streams=a/b), or by message on /ws (Binance SUBSCRIBE, Coinbase
subscribe). See 'go doc github.com/cloudpcap/cloudpcap/feed' for details.

--pattern:
  constant            evenly spaced at --rate msgs/s per stream (default)
  poisson             exponential gaps, mean --rate msgs/s
  burst:N/T@P         N messages spread over T, every P (burst:100/1ms@100ms)
  staged:R@D,R@D...   R msgs/s for D, then the next stage, looping
                      (staged:500@10s,2000@5s)

--replay FILE / --record FILE: one lab-format tick per line
  {"type":"tick","stream":"btcusdt@tick","seq":1,"ts_ns":...,"symbol":"BTCUSDT",
   "bid":..,"ask":..,"last":..,"size":..,"bid_size":..,"ask_size":..,"side":"buy"}
  replayed at the original ts_ns spacing divided by --speed, from the first
  subscription on.

flags:
`

func runFeed(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("feed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, feedUsage)
		fs.PrintDefaults()
	}
	var (
		cfg      feed.Config
		listen   = fs.String("listen", "127.0.0.1:9443", "listen `ADDR` (host:port; port 0 picks one, logged as listening addr=...)")
		fmtName  = fs.String("format", "lab", "wire format: lab, binance or coinbase")
		symbols  = fs.String("symbols", "", "comma-separated symbols (default BTCUSDT,ETHUSDT; coinbase BTC-USD,ETH-USD)")
		logLevel = fs.String("log-level", "info", "log level: debug, info, warn or error")
	)
	fs.Float64Var(&cfg.Rate, "rate", 100, "msgs/s per stream (constant and poisson patterns)")
	fs.StringVar(&cfg.Pattern, "pattern", "constant", "rate pattern: constant, poisson, burst:N/T@P, staged:R@D,...")
	fs.Int64Var(&cfg.Seed, "seed", 1, "seed of the price process and the poisson schedule")
	fs.StringVar(&cfg.TLS.Version, "tls", "1.3", "TLS version: 1.2 or 1.3")
	fs.StringVar(&cfg.TLS.Cipher, "cipher", "", "TLS 1.2 cipher suite: aes128gcm, aes256gcm, chacha20 (or a full Go suite name)")
	fs.StringVar(&cfg.TLS.CertFile, "cert", "", "PEM certificate `FILE` (self-signed when --cert and --key are absent)")
	fs.StringVar(&cfg.TLS.KeyFile, "key", "", "PEM private key `FILE`")
	fs.BoolVar(&cfg.NoTLS, "plain", false, "serve plain ws:// without TLS (debugging only)")
	fs.BoolVar(&cfg.Deflate, "deflate", false, "offer permessage-deflate")
	fs.BoolVar(&cfg.DeflateNoContextTakeover, "deflate-no-context-takeover", false, "with --deflate: reset the compressor after every message")
	fs.IntVar(&cfg.DeflateThreshold, "deflate-threshold", 1, "with --deflate: compress messages of at least this many `BYTES`")
	fs.IntVar(&cfg.Queue, "queue", 4096, "per-client queue length in ticks")
	fs.StringVar(&cfg.SlowPolicy, "slow-policy", feed.DropOldest, "when a client's queue is full: drop-oldest or disconnect")
	fs.DurationVar(&cfg.PingInterval, "ping-interval", 20*time.Second, "server ping interval (negative: no pings)")
	fs.DurationVar(&cfg.PingTimeout, "ping-timeout", 10*time.Second, "disconnect a client whose pong is this late")
	fs.StringVar(&cfg.Replay, "replay", "", "replay this lab-format JSONL tick `FILE` instead of generating")
	fs.Float64Var(&cfg.Speed, "speed", 1, "replay speed factor (2 = twice as fast)")
	fs.StringVar(&cfg.Record, "record", "", "write generated ticks to this lab-format JSONL `FILE`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("feed: unexpected argument %q (all settings are flags)", fs.Arg(0))}
	}
	f, err := format.ParseFormat(*fmtName)
	if err != nil || f == format.Auto {
		return &usageError{msg: fmt.Sprintf("feed: --format %q: want lab, binance or coinbase", *fmtName)}
	}
	cfg.Format = f
	if *symbols != "" {
		for _, s := range strings.Split(*symbols, ",") {
			cfg.Symbols = append(cfg.Symbols, strings.TrimSpace(s))
		}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return &usageError{msg: fmt.Sprintf("feed: --log-level %q: want debug, info, warn or error", *logLevel)}
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil {
		return &usageError{msg: fmt.Sprintf("feed: --listen %q: %v", *listen, err)}
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		cfg.TLS.Hosts = []string{host}
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{msg: "feed: " + err.Error()}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	srv, err := feed.New(cfg, log)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("feed: %w (is another process on %s? use --listen HOST:0 for a free port)", err, *listen)
	}
	return srv.Run(ctx, ln)
}
