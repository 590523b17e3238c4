package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"regexp"
	"strings"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/capture"
	"github.com/cloudpcap/cloudpcap/monitor/correlate"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/keyring"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
)

func init() {
	register(command{name: "analyze", summary: "measure feed latency, tick-to-trade and order-to-ack in captures (with a TLS key log)", run: runAnalyze})
}

// analyzeArgs is analyze's command line, checked.
type analyzeArgs struct {
	files       []string
	keylogs     []string
	prof        *profile.Profile
	eventsPath  string
	summaryPath string
	payloads    bool
	quiet       bool
	orderTick   *regexp.Regexp
}

func runAnalyze(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	a, err := parseAnalyze(args, stderr)
	if err != nil {
		return err
	}
	keys, err := loadKeyLogs(a.keylogs, stderr)
	if err != nil {
		return err
	}
	src, fileSrcs, err := openCaptures(a.files)
	if err != nil {
		return err
	}
	defer src.Close()

	var evw *event.Writer
	var evf *os.File
	if a.eventsPath != "" {
		evf, err = os.Create(a.eventsPath)
		if err != nil {
			return err
		}
		defer evf.Close()
		evw = event.NewWriter(evf, a.payloads)
	}
	cfg := pipeline.Config{Profile: a.prof, Keys: keys, Payloads: a.payloads}
	if re := a.orderTick; re != nil {
		cfg.Correlate.OrderTick = func(netip.Addr) *regexp.Regexp { return re }
	}
	if evw != nil {
		cfg.Events = evw
	}
	pl, err := pipeline.New(cfg)
	if err != nil {
		return err
	}
	readErr := readCaptures(ctx, src, fileSrcs, keys, pl)
	pl.Finish()
	sum, err := pl.Summary(src.Stats(), a.files, src.Warnings())
	if err != nil {
		return err
	}
	if readErr != nil {
		sum.Partial, sum.Reason = true, readErr.Error()
	}
	if evw != nil {
		if err := evw.Flush(); err != nil {
			return fmt.Errorf("--events %s: %w", a.eventsPath, err)
		}
		if err := evf.Close(); err != nil {
			return fmt.Errorf("--events %s: %w", a.eventsPath, err)
		}
	}
	if err := pl.Err(); err != nil {
		return fmt.Errorf("--events %s: %w", a.eventsPath, err)
	}
	if a.summaryPath != "" {
		if err := results.WriteSummary(a.summaryPath, sum); err != nil {
			return err
		}
	}
	if !a.quiet {
		sum.WriteTable(stdout)
	}
	return analyzeVerdict(ctx, sum, readErr, stderr)
}

// parseAnalyze parses and checks analyze's command line.
func parseAnalyze(args []string, stderr io.Writer) (*analyzeArgs, error) {
	fs := flag.NewFlagSet("analyze", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var keylogs listFlag
	fs.Var(&keylogs, "keylog", "NSS key log `FILE` (repeatable); pcapng Decryption Secrets Blocks are read too")
	profName := fs.String("profile", "auto", "message profile: "+strings.Join(profile.Names(), "|")+", or generic with --json-ts")
	eventsPath := fs.String("events", "", "write events as JSON lines to `FILE.jsonl`")
	summaryPath := fs.String("summary", "", "write the summary to `FILE.json`")
	payloads := fs.Bool("payloads", false, "include decoded payloads in events (and events for every message)")
	jsonTS := fs.String("json-ts", "", "generic profile: dotted path of the exchange timestamp (data.0.ts)")
	jsonSeq := fs.String("json-seq", "", "generic profile: path of the sequence number")
	jsonSym := fs.String("json-symbol", "", "generic profile: path of the symbol")
	tsUnit := fs.String("ts-unit", "auto", "generic profile: s|ms|us|ns|auto|rfc3339")
	quiet := fs.Bool("q", false, "do not print the table")
	orderTick := fs.String("order-tick", "", "`REGEX` whose first group finds, in each order's client order id, the sequence number of the tick that triggered it (e.g. '^bot-(\\d+)$'): exact tick-to-trade for any bot")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap analyze CAPTURE... [--keylog FILE] [--profile NAME] [--order-tick REGEX] [--events FILE.jsonl] [--summary FILE.json] [--payloads]")
		fs.PrintDefaults()
	}
	files, err := parseArgs(fs, args)
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, &usageError{msg: "analyze: name at least one capture file (pcap or pcapng)"}
	}
	a := &analyzeArgs{files: files, keylogs: keylogs, eventsPath: *eventsPath, summaryPath: *summaryPath, payloads: *payloads, quiet: *quiet}
	if *jsonTS != "" || *profName == "generic" {
		a.prof, err = profile.Generic(profile.GenericSpec{TS: *jsonTS, Seq: *jsonSeq, Symbol: *jsonSym, Unit: *tsUnit})
	} else {
		a.prof, err = profile.ByName(*profName)
	}
	if err != nil {
		return nil, &usageError{msg: "--profile: " + err.Error()}
	}
	if *orderTick != "" {
		if a.orderTick, err = correlate.ParseOrderTick(*orderTick); err != nil {
			return nil, &usageError{msg: "--order-tick: " + err.Error()}
		}
	}
	return a, nil
}

// loadKeyLogs reads the --keylog files into a new store, warning about bad
// lines and files without a usable secret.
func loadKeyLogs(paths []string, stderr io.Writer) (*keyring.Store, error) {
	keys := keyring.NewStore()
	for _, k := range paths {
		added, warns, err := keys.LoadFile(k)
		if err != nil {
			return nil, fmt.Errorf("--keylog %s: %w", k, err)
		}
		for i, w := range warns {
			if i == 10 {
				fmt.Fprintf(stderr, "warning: %s: %d more bad lines\n", k, len(warns)-10)
				break
			}
			fmt.Fprintf(stderr, "warning: %v\n", w)
		}
		if added == 0 {
			fmt.Fprintf(stderr, "warning: %s holds no usable secrets\n", k)
		}
	}
	return keys, nil
}

// openCaptures opens every capture file and merges them in time order.
func openCaptures(names []string) (*capture.Merge, []*capture.File, error) {
	var srcs []capture.Source
	var fileSrcs []*capture.File
	for _, name := range names {
		f, err := capture.Open(name)
		if err != nil {
			for _, s := range srcs {
				s.Close()
			}
			return nil, nil, err
		}
		srcs = append(srcs, f)
		fileSrcs = append(fileSrcs, f)
	}
	return capture.NewMerge(srcs...), fileSrcs, nil
}

// readCaptures feeds every packet to pl, loading the keys embedded in
// pcapng files as they appear. It returns why reading stopped early (nil
// at the end of the captures).
func readCaptures(ctx context.Context, src *capture.Merge, fileSrcs []*capture.File, keys *keyring.Store, pl *pipeline.Pipeline) error {
	dsbLen := make([]int, len(fileSrcs))
	var pkt capture.Packet
	for n := 0; ; n++ {
		if n&1023 == 0 && ctx.Err() != nil {
			return errors.New("interrupted")
		}
		err := src.ReadInto(&pkt)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		for i, f := range fileSrcs { // keys embedded in pcapng (Decryption Secrets Blocks)
			if kl := f.KeyLog(); len(kl) != dsbLen[i] {
				keys.Load(f.Name()+" (DSB)", kl[dsbLen[i]:])
				dsbLen[i] = len(kl)
			}
		}
		pl.Packet(&pkt)
	}
}

// analyzeVerdict is analyze's outcome once the outputs are written: an
// error when nothing could be measured or the run was interrupted, a
// warning when the captures ended early.
func analyzeVerdict(ctx context.Context, sum *pipeline.Summary, readErr error, stderr io.Writer) error {
	if !sum.Analysed() {
		why := "no HTTP or WebSocket message could be decoded"
		if sum.Decode.RecordsNoKey > 0 {
			why += " (TLS records had no key: pass the client's key log with --keylog)"
		}
		if readErr != nil {
			why += "; " + readErr.Error()
		}
		return errors.New("analyze: nothing to measure: " + why)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("analyze: interrupted: the summary and events written are partial")
	}
	if readErr != nil {
		fmt.Fprintf(stderr, "warning: capture ended early: %v (partial results kept)\n", readErr)
	}
	return nil
}
