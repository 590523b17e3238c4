package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"

	"github.com/cloudpcap/cloudpcap/lab/history"
)

func init() {
	register(command{name: "history", summary: "index runs into results/history.db and show trends per scenario", run: runHistory})
}

func runHistory(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "index" {
		return runHistoryIndex(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("history", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", history.DefaultPath, "history database `FILE`")
	scen := fs.String("scenario", "", "show only scenario `NAME` (default: every scenario)")
	last := fs.Int("last", 10, "show the last `N` runs of each scenario")
	asJSON := fs.Bool("json", false, "write JSON instead of tables")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap history [--scenario NAME] [--db FILE] [--last N] [--json]\n       cloudpcap history index [--db FILE] RUN_DIR...")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("history: unexpected argument %q (to index runs: cloudpcap history index RUN_DIR...)", fs.Arg(0))}
	}
	if *last < 1 {
		return &usageError{msg: "history: --last wants at least 1"}
	}
	db, err := history.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	names := []string{*scen}
	if *scen == "" {
		if names, err = db.Scenarios(); err != nil {
			return err
		}
	}
	var tables []history.Table
	for _, name := range names {
		pts, err := history.Trend(db, name, *last)
		if err != nil {
			return err
		}
		if len(pts) == 0 {
			return fmt.Errorf("history: %s has no runs of scenario %q (index them with: cloudpcap history index RUN_DIR...)", *dbPath, name)
		}
		tables = append(tables, history.MakeTable(name, pts, []string{"p50", "p99"}))
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if tables == nil {
			tables = []history.Table{}
		}
		return enc.Encode(map[string]any{"db": *dbPath, "scenarios": tables})
	}
	if len(tables) == 0 {
		fmt.Fprintf(stdout, "%s: no runs indexed yet (cloudpcap history index RUN_DIR...)\n", *dbPath)
		return nil
	}
	for i, t := range tables {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := t.WriteText(stdout); err != nil {
			return err
		}
	}
	return nil
}

func runHistoryIndex(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("history index", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbPath := fs.String("db", history.DefaultPath, "history database `FILE`")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap history index [--db FILE] RUN_DIR...")
		fs.PrintDefaults()
	}
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return &usageError{msg: "history index: name at least one run folder"}
	}
	db, err := history.Open(*dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	var failed []error
	for _, dir := range pos {
		if err := db.Index(dir); err != nil {
			fmt.Fprintln(stderr, "cloudpcap: history index:", err)
			failed = append(failed, err)
			continue
		}
		fmt.Fprintf(stdout, "indexed %s\n", dir)
	}
	if len(failed) > 0 {
		return &exitError{code: 1, err: fmt.Errorf("history index: %d of %d run folder(s) could not be indexed", len(failed), len(pos))}
	}
	return nil
}
