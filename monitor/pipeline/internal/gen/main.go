// Command gen records the pipeline's fixture sessions and writes them as
// captures, without root: each session (package session) runs on loopback
// through a Recorder that notes every write of both ends with its time, and
// the writes become Ethernet/IPv4/TCP frames in a pcapng file with
// nanosecond timestamps. For each session NAME it writes, under -out:
//
//	NAME.pcapng      the capture
//	NAME.keys        the client's NSS key log
//	NAME-dsb.pcapng  the same capture with the key log in a Decryption Secrets Block
//	NAME.truth.json  what the servers sent (ticks with E, orders)
//
// Run it from the repository root: go run ./monitor/pipeline/internal/gen
// Fixtures are committed; tests never regenerate them.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline/internal/session"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// fixtures are the recorded sessions; keep them small (< 200 KB in all).
var fixtures = []struct {
	name string
	dsb  bool
	opts session.Options
}{
	{"tls13-ws", true, session.Options{TLS: "1.3", Ticks: 40, OrderEvery: 5, BigEvery: 25, Seed: 1}},
	{"tls12-chacha-deflate", false, session.Options{TLS: "1.2", Cipher: "chacha20", WS: "gorilla", Deflate: true, Ticks: 16, OrderEvery: 4, Seed: 2}},
}

func run(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", "monitor/pipeline/testdata", "output folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	for _, f := range fixtures {
		if err := record(*out, f.name, f.dsb, f.opts); err != nil {
			return fmt.Errorf("%s: %w", f.name, err)
		}
	}
	return nil
}

func record(dir, name string, dsb bool, o session.Options) error {
	rec := session.NewRecorder(nil)
	var keys bytes.Buffer
	o.KeyLog = &keys
	o.Dial = rec.Dial
	o.Listen = rec.Listen
	s, err := session.Start(o)
	if err != nil {
		return err
	}
	rec.Serve(uint16(s.FeedAddr().Port), netip.MustParseAddrPort("198.18.1.1:443"))
	rec.Serve(uint16(s.OrderAddr().Port), netip.MustParseAddrPort("198.18.1.2:443"))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	truth, runErr := s.Run(ctx)
	if err := s.Close(); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil {
		return runErr
	}
	frames := rec.Frames()
	write := func(file string, withDSB bool) error {
		var b bytes.Buffer
		if err := session.WritePcapng(&b, frames, keys.Bytes(), withDSB); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, file), b.Bytes(), 0o644)
	}
	if err := write(name+".pcapng", false); err != nil {
		return err
	}
	if dsb {
		if err := write(name+"-dsb.pcapng", true); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(dir, name+".keys"), keys.Bytes(), 0o644); err != nil {
		return err
	}
	tj, err := json.MarshalIndent(truth, "", " ")
	if err != nil {
		return err
	}
	fmt.Printf("%s: %d frames, %d ticks, %d orders\n", name, len(frames), len(truth.Ticks), len(truth.Orders))
	return os.WriteFile(filepath.Join(dir, name+".truth.json"), append(tj, '\n'), 0o644)
}
