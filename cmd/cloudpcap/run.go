package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/liveview"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/runner"
	"golang.org/x/sys/unix"
)

func init() {
	register(command{name: "run", summary: "run a YAML scenario in the lab (root) and write a results folder", run: runRun})
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("out", results.DefaultRoot, "results root `DIR` (runs land in DIR/<scenario>/<UTC time>/)")
	var sets listFlag
	fs.Var(&sets, "set", "override a scenario field: `path=value` (exchanges.0.link.delay=2ms, traders.0.params.think=200us), repeatable")
	liveAddr := fs.String("live", "", "serve a live view of the run at `ADDR` (127.0.0.1:PORT)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap run SCENARIO.yaml [--out DIR] [--set path=value]...")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return &usageError{msg: "run: name exactly one scenario file"}
	}
	opts := runner.Options{Results: *out, Sets: sets, Out: stdout, Progress: isTerminal(stdout), Checks: scenarioChecks(), Version: version}
	if *liveAddr != "" {
		lv, err := liveview.Start(*liveAddr)
		if err != nil {
			return &usageError{msg: err.Error()}
		}
		defer lv.Close()
		fmt.Fprintf(stdout, "live view: %s\n", lv.URL())
		opts.OnSnapshot = lv.Publish
	}
	res, err := runner.Run(ctx, pos[0], opts)
	if res != nil && res.Summary != nil {
		fmt.Fprintln(stdout)
		if res.Mirror != nil {
			fmt.Fprintln(stdout, "local capture (at the trader's interface):")
		}
		res.Summary.WriteTable(stdout)
		if res.Mirror != nil {
			fmt.Fprintln(stdout, "\nmirror capture (VXLAN at the monitor):")
			res.Mirror.WriteTable(stdout)
		}
	}
	if res != nil {
		db := filepath.Join(*out, results.HistoryFile)
		if herr := history.Index(db, res.Dir); herr != nil {
			fmt.Fprintf(stderr, "warning: indexing the run in %s: %v\n", db, herr)
		}
		if res.Summary != nil {
			rf := &reportFlags{out: filepath.Join(res.Dir, results.ReportFile), history: db, quiet: true}
			if rerr := writeReport([]string{res.Dir}, rf, stdout); rerr != nil {
				fmt.Fprintf(stderr, "warning: report: %v\n", rerr)
			} else {
				abs, _ := filepath.Abs(rf.out)
				fmt.Fprintf(stdout, "report: %s\n", abs)
			}
		}
		abs, _ := filepath.Abs(res.Dir)
		fmt.Fprintf(stdout, "\nresults: %s\n", abs)
	}
	return err
}
