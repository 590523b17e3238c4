package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed"
	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/orderapi"
	"github.com/cloudpcap/cloudpcap/trader"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

func TestTraderBadFlags(t *testing.T) {
	names := strings.Join(strategy.Names(), ", ")
	base := []string{"--feed", "wss://127.0.0.1:8443/ws/btcusdt@trade", "--orders", "https://127.0.0.1:8444"}
	cases := []struct {
		args []string
		want string // the usage error, exactly
	}{
		{[]string{"--nope"}, "trader: flag provided but not defined: -nope"},
		{[]string{"--strategy", "every", "extra"}, `trader: unexpected argument "extra" (feeds are given with --feed)`},
		{[]string{"--strategy", "every", "--duration", "5x"}, `trader: invalid value "5x" for flag -duration: parse error`},
		{[]string{"--strategy", "every", "--clients", "two"}, `trader: invalid value "two" for flag -clients: parse error`},
		{[]string{"--strategy", "every", "--format", "fix"}, `trader: --format "fix": want auto, lab, binance or coinbase`},
		{[]string{"--strategy", "every", "--log-level", "loud"}, `trader: --log-level "loud": want debug, info, warn or error`},
		{[]string{}, "trader: --strategy: required (one of " + names + ")"},
		{[]string{"--strategy", "hodl"}, `trader: strategy "hodl": unknown strategy (want one of ` + names + ")"},
		{[]string{"--strategy", "every", "--param", "n"}, `trader: --param "n": want key=value`},
		{[]string{"--strategy", "every", "--param", "n=1", "--param", "n=2"}, "trader: --param n: given twice"},
		{[]string{"--strategy", "every", "--param", "n=abc"}, `trader: strategy every: param n: "abc" is not an integer`},
		{[]string{"--strategy", "every", "--param", "level=3"}, "trader: strategy every: param level: unknown parameter (every takes n, qty, seed, side, think, type)"},
		{[]string{"--strategy", "every", "--param", "think=fast"}, `trader: strategy every: param think: "fast" is not a duration;`},
		{[]string{"--strategy", "threshold"}, "trader: strategy threshold: param level: required (the price to watch)"},
		{[]string{"--strategy", "momentum", "--param", "fast=9", "--param", "slow=3"}, "trader: strategy momentum: param slow: 3 must be above fast (9)"},
		{[]string{"--strategy", "arb"}, "trader: strategy arb: param a: arb needs two feeds (give --feed twice)"},
		{[]string{"--strategy", "every", "--clients", "0"}, "trader: --clients: 0 is below 1"},
		{[]string{"--strategy", "every", "--order-conns", "1000"}, "trader: --order-conns: 1000 is outside [1, 256]"},
		{[]string{"--strategy", "every", "--tls", "1.0"}, `trader: --tls: "1.0": want 1.2 or 1.3`},
		{[]string{"--strategy", "every", "--deflate", "max"}, `trader: --deflate: "max": want context, nocontext or off`},
		{[]string{"--strategy", "every", "--insecure", "--ca", "x.pem"}, "trader: --ca: --insecure and --ca exclude each other (--ca verifies, --insecure does not)"},
		{[]string{"--strategy", "every", "--ca", "/nonexistent/ca.pem"}, "trader: --ca: open /nonexistent/ca.pem: no such file or directory"},
		{[]string{"--strategy", "every", "--id-prefix", "a b"}, `trader: --id-prefix: "a b": want A-Z a-z 0-9 . : / _ -`},
		{[]string{"--strategy", "every", "--api-key", "k"}, "trader: --api-secret: empty while --api-key is set"},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			t.Setenv(envAPIKey, "")
			t.Setenv(envAPISecret, "")
			// A case that wrongly passes validation runs the trader: bound it.
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err := run(ctx, append(append([]string{"trader"}, base...), c.args...), io.Discard, io.Discard)
			var ue *usageError
			if !errors.As(err, &ue) || !strings.HasPrefix(err.Error(), c.want) {
				t.Fatalf("got %v\nwant a usage error starting %q", err, c.want)
			}
			if code := exitCode(err, io.Discard); code != 2 {
				t.Errorf("exit code %d", code)
			}
		})
	}
	// Feeds and orders are named when missing.
	for args, want := range map[string]string{
		"--strategy every --orders https://127.0.0.1:1":        "trader: --feed: at least one feed URL is required",
		"--strategy every --feed wss://127.0.0.1:1/ws":         "trader: --orders: the order API base URL is required",
		"--strategy every --feed tcp://x:1 --orders https://x": `trader: --feed: "tcp://x:1": scheme must be wss or ws`,
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := run(ctx, append([]string{"trader"}, strings.Fields(args)...), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", args, err, want)
		}
	}
}

func TestTraderListsStrategies(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"trader", "--strategies"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"every:", "threshold:", "momentum:", "arb:", "think"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("--strategies output lacks %q:\n%s", want, out.String())
		}
	}
}

// TestTraderCommand runs the command for a fixed duration against in-process
// servers (credentials from the environment) and checks the summary, the
// --stats file and that the order API saw what the trader says it sent.
func TestTraderCommand(t *testing.T) {
	const key, secret = "cmd-key", "cmd-secret"
	t.Setenv(envAPIKey, key)
	t.Setenv(envAPISecret, secret)
	ctx, cancel := context.WithCancel(context.Background())
	api, err := orderapi.New(orderapi.Config{APIKey: key, APISecret: secret}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := feed.New(feed.Config{Format: format.Binance, Symbols: []string{"BTCUSDT"}, Rate: 500, PingInterval: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	lnA, _ := net.Listen("tcp", "127.0.0.1:0")
	lnF, _ := net.Listen("tcp", "127.0.0.1:0")
	doneA, doneF := make(chan error, 1), make(chan error, 1)
	go func() { doneA <- api.Run(ctx, lnA) }()
	go func() { doneF <- fd.Run(ctx, lnF) }()
	t.Cleanup(func() { cancel(); <-doneA; <-doneF })

	dir := t.TempDir()
	statsFile, keyLog := filepath.Join(dir, "stats.json"), filepath.Join(dir, "keys.log")
	var out, errOut bytes.Buffer
	err = run(context.Background(), []string{"trader",
		"--feed", "wss://" + lnF.Addr().String() + "/ws/btcusdt@trade", "--orders", "https://" + lnA.Addr().String(),
		"--insecure", "--strategy", "every", "--param", "n=10", "--duration", "1s", "--clients", "2",
		"--keylog", keyLog, "--stats", statsFile}, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	for _, want := range []string{"trader: 2 client(s)", "tick->decision:", "order->ack:", "0 errors"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
	if !strings.Contains(errOut.String(), "server certificates are NOT verified") {
		t.Errorf("no --insecure warning in the log:\n%s", errOut.String())
	}
	if strings.Contains(errOut.String(), secret) || strings.Contains(out.String(), secret) {
		t.Error("the API secret was printed")
	}
	b, err := os.ReadFile(statsFile)
	if err != nil {
		t.Fatal(err)
	}
	var st trader.Stats
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Acked == 0 || st.Acked != api.Stats().Accepted || st.Clients != 2 {
		t.Errorf("trader stats %+v, order API accepted %d", st, api.Stats().Accepted)
	}
	if fi, err := os.Stat(keyLog); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() == 0 {
		t.Errorf("key log: %v %v", fi, err)
	}
}
