package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Synthetic run folders written by lab/history/testdata/gen.
func runFixture(name string) string {
	return filepath.Join("..", "..", "lab", "history", "testdata", "runs", name)
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	code = exitCode(err, &errb)
	return code, out.String(), errb.String()
}

func TestGateCLI(t *testing.T) {
	dir := t.TempDir()
	md, js := filepath.Join(dir, "gate.md"), filepath.Join(dir, "gate.json")
	cases := []struct {
		name     string
		args     []string
		code     int
		stdout   []string
		stderr   string
		files    bool
		verdict  string
		regRows  []string
		notFiles bool
	}{
		{name: "A/A passes", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("aa")},
			code: 0, stdout: []string{"PASS: no significant slowdown", "SLO tick_to_trade.p99 <= 5.00ms: PASS"}},
		{name: "slower tick-to-trade fails", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("slow"), "--markdown", md, "--json", js},
			code: 1, stdout: []string{"FAIL: regression in tick_to_trade.p50, tick_to_trade.p99", "REGRESSION"}, files: true, verdict: "regression",
			regRows: []string{"tick_to_trade.p50", "tick_to_trade.p99"}},
		{name: "partial candidate is inconclusive", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("partial")},
			code: 2, stdout: []string{"INCONCLUSIVE: the candidate run is partial"}},
		{name: "different scenario is inconclusive", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("quick")},
			code: 2, stdout: []string{"--allow-different"}},
		{name: "one repetition cannot be judged", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("quick"), "--allow-different"},
			code: 2, stdout: []string{"too few repetitions", "run at least 5 repetitions"}},
		{name: "missing candidate", args: []string{"--baseline", runFixture("base")}, code: 2, stderr: "name both --baseline"},
		{name: "not a run folder", args: []string{"--baseline", runFixture("base"), "--candidate", runFixture("")},
			code: 2, stderr: "candidate: ../../lab/history/testdata/runs/scenario.yaml: not a cloudpcap run folder"},
		{name: "bad flag", args: []string{"--baseline", "x", "--candidate", "y", "--bogus"}, code: 2, stderr: "bogus"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			os.Remove(md)
			os.Remove(js)
			code, out, errs := runCLI(t, append([]string{"gate"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out, errs)
			}
			for _, s := range c.stdout {
				if !strings.Contains(out, s) {
					t.Errorf("stdout lacks %q:\n%s", s, out)
				}
			}
			if c.stderr != "" && !strings.Contains(errs, c.stderr) {
				t.Errorf("stderr lacks %q:\n%s", c.stderr, errs)
			}
			if !c.files {
				return
			}
			m, err := os.ReadFile(md)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{"### cloudpcap gate: FAIL", "| tick_to_trade | p99 |", "**regression**", "How to reproduce", "cloudpcap gate --baseline"} {
				if !strings.Contains(string(m), s) {
					t.Errorf("markdown lacks %q:\n%s", s, m)
				}
			}
			var rep struct {
				Verdict  string `json:"verdict"`
				ExitCode int    `json:"exit_code"`
				Rows     []struct {
					Metric, Quantile, Verdict string
					Ratio                     float64
					P                         float64
				} `json:"rows"`
			}
			b, err := os.ReadFile(js)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &rep); err != nil {
				t.Fatal(err)
			}
			if rep.Verdict != c.verdict || rep.ExitCode != c.code {
				t.Errorf("json verdict %s exit %d", rep.Verdict, rep.ExitCode)
			}
			var regs []string
			for _, r := range rep.Rows {
				if r.Verdict == "regression" {
					regs = append(regs, r.Metric+"."+r.Quantile)
				}
			}
			if strings.Join(regs, ",") != strings.Join(c.regRows, ",") {
				t.Errorf("regression rows %v, want %v", regs, c.regRows)
			}
		})
	}
}

func TestHistoryCLI(t *testing.T) {
	db := filepath.Join(t.TempDir(), "history.db")
	args := []string{"history", "index", "--db", db}
	for _, f := range []string{"base", "aa", "slow", "partial", "quick"} {
		args = append(args, runFixture(f))
	}
	if code, out, errs := runCLI(t, args...); code != 0 || strings.Count(out, "indexed ") != 5 {
		t.Fatalf("index: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := runCLI(t, "history", "--db", db, "--scenario", "ci", "--last", "3")
	if code != 0 {
		t.Fatalf("history: exit %d\n%s", code, errs)
	}
	for _, s := range []string{"ci: last 3 run(s)", "tick_to_trade  p50 ", "3333333333", "vs median"} {
		if !strings.Contains(out, s) {
			t.Errorf("history lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "1111111111") {
		t.Errorf("--last 3 shows the oldest run:\n%s", out)
	}
	code, out, _ = runCLI(t, "history", "--db", db, "--json")
	var doc struct {
		Scenarios []struct {
			Scenario string
			Runs     []json.RawMessage
		}
	}
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || len(doc.Scenarios) != 2 || len(doc.Scenarios[0].Runs) != 4 || doc.Scenarios[1].Scenario != "quick" {
		t.Errorf("history --json: exit %d\n%s", code, out)
	}
	// A folder that is not a run: error naming the file, exit 1, the
	// others still indexed.
	code, _, errs = runCLI(t, "history", "index", "--db", db, runFixture(""), runFixture("base"))
	if code != 1 || !strings.Contains(errs, "testdata/runs/scenario.yaml: not a cloudpcap run folder") {
		t.Errorf("index of a non-run: exit %d\n%s", code, errs)
	}
	// A database that is not ours.
	other := filepath.Join(t.TempDir(), "notes.db")
	os.WriteFile(other, bytes.Repeat([]byte("hello\n"), 200), 0o644)
	code, _, errs = runCLI(t, "history", "--db", other)
	if code != 1 || !strings.Contains(errs, "not a cloudpcap history database") {
		t.Errorf("foreign db: exit %d\n%s", code, errs)
	}
	code, _, errs = runCLI(t, "history", "--db", db, "--scenario", "nope")
	if code != 1 || !strings.Contains(errs, `no runs of scenario "nope"`) {
		t.Errorf("unknown scenario: exit %d\n%s", code, errs)
	}
}
