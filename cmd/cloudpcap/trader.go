package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/trader"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

func init() {
	register(command{name: "trader", summary: "run trading clients: feeds in, strategy, signed orders out, TLS key log", run: runTrader})
}

// traderFlags are `cloudpcap trader`'s flags.
type traderFlags struct {
	cfg                      trader.Config
	feeds, subscribe, params listFlag
	format, apiKey, secret   *string
	statsFile, logLevel      *string
	list                     *bool
}

func newTraderFlags(stderr io.Writer) (*flag.FlagSet, *traderFlags) {
	fs := flag.NewFlagSet("trader", flag.ContinueOnError)
	fs.SetOutput(stderr)
	t := &traderFlags{
		format:    fs.String("format", "auto", "feed `FORMAT`: auto (detected per connection from its first tick), lab, binance or coinbase"),
		apiKey:    fs.String("api-key", "", "API `KEY` for X-API-Key (default $"+envAPIKey+", else the lab key)"),
		secret:    fs.String("api-secret", "", "HMAC `SECRET` for X-Signature (default $"+envAPISecret+", else the lab secret); never logged"),
		statsFile: fs.String("stats", "", "write the final counters and latencies as JSON to `FILE`"),
		logLevel:  fs.String("log-level", "info", "`LEVEL`: debug, info, warn or error"),
		list:      fs.Bool("strategies", false, "list the strategies and their parameters, then exit"),
	}
	cfg := &t.cfg
	fs.Var(&t.feeds, "feed", "feed `URL`, repeatable: wss://127.0.0.1:8443/ws/btcusdt@trade (the path subscribes)")
	fs.Var(&t.subscribe, "subscribe", "`MSG` sent after every (re)connect to every feed, repeatable: {\"method\":\"SUBSCRIBE\",\"params\":[\"btcusdt@trade\"],\"id\":1}")
	fs.StringVar(&cfg.Deflate, "deflate", trader.DeflateContext, "permessage-deflate offered to the feed: context, nocontext or off (the feed decides)")
	fs.StringVar(&cfg.Orders, "orders", "", "order API base `URL`: https://127.0.0.1:8444")
	fs.StringVar(&cfg.Strategy, "strategy", "", "strategy `NAME`: "+strings.Join(strategy.Names(), ", ")+" (--strategies lists parameters)")
	fs.Var(&t.params, "param", "strategy parameter `K=V`, repeatable (every strategy takes think=DIST, e.g. think=200us or think=uniform:100us-300us)")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "accept ANY server certificate (the lab's self-signed ones); off by default")
	fs.StringVar(&cfg.CAFile, "ca", "", "PEM `FILE` of trusted CA certificates (instead of the system roots)")
	fs.StringVar(&cfg.TLSVersion, "tls", "", "highest TLS `VERSION` offered: 1.2 or 1.3 (default 1.3)")
	fs.StringVar(&cfg.KeyLogFile, "keylog", "", "append the NSS key log of every TLS connection to `FILE` (mode 0600)")
	fs.StringVar(&cfg.TimestampsFile, "timestamps", "", "write application-side timestamps (JSONL, one line per triggering tick and per order) to `FILE`")
	fs.DurationVar(&cfg.Duration, "duration", 0, "stop after `DUR` (0: run until interrupted)")
	fs.IntVar(&cfg.Clients, "clients", 1, "`N` independent clients (own connections, strategy state and order id prefix)")
	fs.IntVar(&cfg.OrderConns, "order-conns", 1, "order connections per client, `N` orders in flight without waiting for acks")
	fs.IntVar(&cfg.TickQueue, "tick-queue", 4096, "ticks waiting for the strategy per client (`N`; more are dropped and counted)")
	fs.IntVar(&cfg.OrderQueue, "order-queue", 1024, "orders waiting for a connection per client (`N`; more are dropped and counted)")
	fs.StringVar(&cfg.IDPrefix, "id-prefix", "t", "client order ids are `PREFIX`<client>-<n>")
	fs.Uint64Var(&cfg.Seed, "seed", 1, "seed `N` of the reconnect jitter")
	fs.DurationVar(&cfg.ReconnectMin, "reconnect-min", 0, "first reconnect backoff `DUR` (default 50ms; doubles up to --reconnect-max, with jitter)")
	fs.DurationVar(&cfg.ReconnectMax, "reconnect-max", 0, "reconnect backoff cap `DUR` (default 5s)")
	fs.BoolVar(&cfg.NoWarmup, "no-warmup", false, "do not open order connections (GET /healthz) before the first order")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: cloudpcap trader --feed URL [--feed URL...] --orders URL --strategy NAME [--param k=v...] [flags]\n\nflags:\n")
		fs.PrintDefaults()
	}
	return fs, t
}

// config checks the flags and completes the trader's configuration.
func (t *traderFlags) config(fs *flag.FlagSet) (trader.Config, slog.Level, error) {
	cfg := t.cfg
	var level slog.Level
	if fs.NArg() > 0 {
		return cfg, level, &usageError{msg: fmt.Sprintf("trader: unexpected argument %q (feeds are given with --feed)", fs.Arg(0))}
	}
	// Config treats 0 as "default"; on the command line a count below 1
	// is a mistake.
	for _, n := range []struct {
		flag string
		v    int
	}{{"clients", cfg.Clients}, {"order-conns", cfg.OrderConns}, {"tick-queue", cfg.TickQueue}, {"order-queue", cfg.OrderQueue}} {
		if n.v < 1 {
			return cfg, level, &usageError{msg: fmt.Sprintf("trader: --%s: %d is below 1", n.flag, n.v)}
		}
	}
	if err := level.UnmarshalText([]byte(*t.logLevel)); err != nil {
		return cfg, level, &usageError{msg: fmt.Sprintf("trader: --log-level %q: want debug, info, warn or error", *t.logLevel)}
	}
	f, err := format.ParseFormat(*t.format)
	if err != nil {
		return cfg, level, &usageError{msg: "trader: --" + err.Error()}
	}
	kv, err := strategy.ParseKV(t.params)
	if err != nil {
		return cfg, level, &usageError{msg: "trader: " + err.Error()}
	}
	cfg.Feeds, cfg.Subscribe, cfg.Format, cfg.Params = t.feeds, t.subscribe, f, kv
	cfg.APIKey = firstNonEmpty(*t.apiKey, os.Getenv(envAPIKey))
	cfg.APISecret = firstNonEmpty(*t.secret, os.Getenv(envAPISecret))
	if err := cfg.Validate(); err != nil {
		return cfg, level, &usageError{msg: "trader: " + err.Error()}
	}
	return cfg, level, nil
}

func runTrader(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, flags := newTraderFlags(stderr)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *flags.list {
		fmt.Fprint(stdout, strategy.Help())
		return nil
	}
	cfg, level, err := flags.config(fs)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tr, err := trader.New(cfg, log)
	if err != nil {
		var ce *trader.ConfigError
		if errors.As(err, &ce) {
			return &usageError{msg: "trader: " + err.Error()}
		}
		return err
	}
	runErr := tr.Run(ctx)
	st := tr.Stats()
	st.WriteSummary(stdout)
	if *flags.statsFile != "" {
		b, err := json.MarshalIndent(st, "", "  ")
		if err == nil {
			err = os.WriteFile(*flags.statsFile, append(b, '\n'), 0o644)
		}
		if err != nil && runErr == nil {
			runErr = fmt.Errorf("trader: --stats %s: %w", *flags.statsFile, err)
		}
	}
	return runErr
}
