package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/cloudpcap/cloudpcap/lab/gate"
	"github.com/cloudpcap/cloudpcap/lab/history"
)

func init() {
	register(command{name: "gate", summary: "compare a candidate run with a baseline for CI (exit 0 pass, 1 regression or SLO breach, 2 inconclusive)", run: runGate})
}

func runGate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseline := fs.String("baseline", "", "baseline run `DIR` (results/baselines/<scenario>)")
	candidate := fs.String("candidate", "", "candidate run `DIR`")
	mdPath := fs.String("markdown", "", "also write a pull-request comment to `FILE`")
	jsonPath := fs.String("json", "", "also write the report as JSON to `FILE`")
	allowDiff := fs.Bool("allow-different", false, "compare runs of different scenarios")
	seed := fs.Uint64("seed", gate.DefaultSeed, "bootstrap `SEED`")
	resamples := fs.Int("resamples", 2000, "bootstrap resamples")
	noCorr := fs.Bool("no-correction", false, "test each row at alpha (no Holm-Bonferroni across rows)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap gate --baseline RUN_DIR --candidate RUN_DIR [--markdown FILE] [--json FILE]\n\nexit status: 0 pass, 1 regression or SLO breach, 2 inconclusive or error")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("gate: unexpected argument %q", fs.Arg(0))}
	}
	if *baseline == "" || *candidate == "" {
		return &usageError{msg: "gate: name both --baseline RUN_DIR and --candidate RUN_DIR"}
	}
	if *resamples < 100 {
		return &usageError{msg: "gate: --resamples wants at least 100"}
	}
	fail := func(err error) error { return &exitError{code: 2, err: fmt.Errorf("gate: %w", err)} }
	base, err := history.ReadRun(*baseline)
	if err != nil {
		return fail(fmt.Errorf("baseline: %w", err))
	}
	cand, err := history.ReadRun(*candidate)
	if err != nil {
		return fail(fmt.Errorf("candidate: %w", err))
	}
	rep := gate.Compare(base, cand, gate.Options{AllowDifferent: *allowDiff, Seed: *seed, Resamples: *resamples, NoCorrection: *noCorr})
	if err := rep.WriteText(stdout); err != nil {
		return fail(err)
	}
	for _, out := range []struct {
		path  string
		write func(io.Writer) error
	}{{*mdPath, rep.WriteMarkdown}, {*jsonPath, rep.WriteJSON}} {
		if out.path == "" {
			continue
		}
		var b bytes.Buffer
		if err := out.write(&b); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(out.path, b.Bytes(), 0o644); err != nil {
			return fail(err)
		}
	}
	if rep.ExitCode != 0 {
		return &exitError{code: rep.ExitCode} // the verdict line is on stdout already
	}
	return nil
}
