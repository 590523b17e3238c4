package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/report"
	"github.com/cloudpcap/cloudpcap/lab/results"
)

func init() {
	register(command{name: "report", summary: "write RUN_DIR/report.html: percentiles, curves, timelines, split and warnings of one run", run: runReport})
	register(command{name: "compare", summary: "compare runs in one HTML page (the first is the reference): RUN_DIR RUN_DIR... -o FILE.html", run: runCompare})
}

// reportFlags are the flags report and compare share.
type reportFlags struct {
	history string
	out     string
	title   string
	json    string
	labels  listFlag
	quiet   bool
}

func (f *reportFlags) register(fs *flag.FlagSet, defOut string) {
	fs.StringVar(&f.out, "o", defOut, "write the page to `FILE.html`")
	fs.StringVar(&f.title, "title", "", "page title (default: from the runs)")
	fs.StringVar(&f.json, "json", "", "also write the report's data model to `FILE.json`")
	fs.Var(&f.labels, "label", "name of a run on the page, in the order of the RUN_DIRs (repeatable)")
	fs.BoolVar(&f.quiet, "q", false, "print nothing on success")
	fs.StringVar(&f.history, "history", "", "history `DB` for the scenario's trend (default: history.db of the results root, when there is one)")
}

// trendFor reads the reference run's scenario trend from the history index:
// db, or the results root's history.db (results/<scenario>/<time>/../../).
func trendFor(dir, db string) *report.Trend {
	if db == "" {
		db = filepath.Join(dir, "..", "..", results.HistoryFile)
		if _, err := os.Stat(db); err != nil {
			return nil
		}
	}
	run, err := history.ReadRun(dir)
	if err != nil {
		return nil
	}
	h, err := history.Open(db)
	if err != nil {
		return nil
	}
	defer h.Close()
	pts, err := history.Trend(h, run.Scenario.Name, 20)
	if err != nil {
		return nil
	}
	abs, _ := filepath.Abs(dir)
	root, _ := filepath.Abs(filepath.Dir(db))
	return report.TrendFrom(run.Scenario.Name, pts, func(p history.Point) bool {
		pd := p.Dir
		if !filepath.IsAbs(pd) {
			pd = filepath.Join(root, pd)
		}
		return filepath.Clean(pd) == filepath.Clean(abs)
	})
}

func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f reportFlags
	f.register(fs, "")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap report RUN_DIR [-o FILE.html] [--title T] [--label NAME] [--json FILE.json]")
		fmt.Fprintln(stderr, "writes RUN_DIR/report.html unless -o says otherwise")
		fs.PrintDefaults()
	}
	dirs, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) != 1 {
		return &usageError{msg: "report: name exactly one results folder (use 'cloudpcap compare' for several)"}
	}
	if f.out == "" {
		f.out = filepath.Join(dirs[0], results.ReportFile)
	}
	return writeReport(dirs, &f, stdout)
}

func runCompare(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("compare", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f reportFlags
	f.register(fs, "compare.html")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap compare RUN_DIR RUN_DIR... [-o FILE.html] [--label NAME]... [--title T] [--json FILE.json]")
		fmt.Fprintln(stderr, "the first RUN_DIR is the reference: deltas and significance marks are taken against it")
		fs.PrintDefaults()
	}
	dirs, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(dirs) < 2 {
		return &usageError{msg: "compare: name at least two results folders, the reference first"}
	}
	return writeReport(dirs, &f, stdout)
}

func writeReport(dirs []string, f *reportFlags, stdout io.Writer) error {
	if len(f.labels) > len(dirs) {
		return &usageError{msg: fmt.Sprintf("%d --label flags for %d results folders", len(f.labels), len(dirs))}
	}
	start := time.Now()
	var runs []*report.Run
	for _, d := range dirs {
		r, err := report.Load(d)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	m, err := report.Build(runs, report.Options{Title: f.title, Labels: f.labels, Generator: version, Trend: trendFor(dirs[0], f.history)})
	if err != nil {
		return err
	}
	if err := report.WriteFile(f.out, m); err != nil {
		return err
	}
	if f.json != "" {
		b, err := json.MarshalIndent(m, "", " ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(f.json, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("report: %w", err)
		}
	}
	if !f.quiet {
		st, err := os.Stat(f.out)
		if err != nil {
			return err
		}
		warn := ""
		if n := len(m.Warnings); n > 0 {
			warn = fmt.Sprintf(", %d warnings", n)
		}
		fmt.Fprintf(stdout, "%s (%d KB, %d run(s)%s, built in %s)\n", f.out, (st.Size()+1023)/1024, len(runs), warn, time.Since(start).Round(time.Millisecond))
	}
	return nil
}
