package gate_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/gate"
	"github.com/cloudpcap/cloudpcap/lab/topology"
)

func requireLab(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test")
	}
	if err := topology.CheckPrivileges(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

var resultsLine = regexp.MustCompile(`(?m)^results: (.+)$`)

// TestIntegrationGateCI runs scenarios/ci.yaml three times through the
// built binary (a baseline, an A/A candidate, and a candidate whose trader
// thinks 200 µs before each order) and gates the candidates: the A/A pair
// must pass (exit 0), the slower one must fail (exit 1) on tick_to_trade.
//
// Two overrides make it about the statistical comparison and reliable on a
// shared two-core machine, where scheduler stalls move a run's tick-to-trade
// p50 by ±40% and its p99 anywhere from 1 ms to 2 s whatever the code does:
// eight repetitions instead of ci.yaml's five (with five, the one-sided
// test at alpha/6 missed the 200 µs slowdown in about one pair of four
// here; with eight it needs far less than complete separation), and no SLO
// (ci.yaml's 5 ms p99 ceiling breached in most runs here; SLO checks have
// their own tests). A CI test must not flake at alpha: one row is gated
// (tick_to_trade p50, what the slowdown moves) at alpha 0.01 with a 25%
// minimum effect, since whole runs drift by tens of percent here; with six
// Holm-corrected rows the 1.75x slowdown once missed the threshold
// (p 0.0035 > 0.0017). Complete separation of 8 vs 8 repetitions gives
// p 0.00008.
func TestIntegrationGateCI(t *testing.T) {
	requireLab(t)
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "cloudpcap")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/cloudpcap")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	results := t.TempDir()
	run := func(name string, sets ...string) string {
		t.Helper()
		args := []string{"run", filepath.Join(root, "scenarios", "ci.yaml"), "--out", results,
			"--set", "duration=3s", "--set", "repeat=8", "--set", "gate.slo={}",
			"--set", "gate.alpha=0.01", "--set", "gate.min_effect=25%",
			"--set", "gate.metrics=tick_to_trade", "--set", "gate.quantiles=p50"}
		for _, s := range sets {
			args = append(args, "--set", s)
		}
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s run: %v\n%s", name, err, out.String())
		}
		m := resultsLine.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("%s run: no results line\n%s", name, out.String())
		}
		t.Logf("%s run: %s (%s)", name, m[1], time.Since(start).Round(time.Second))
		return m[1]
	}
	base := run("baseline")
	aa := run("A/A")
	slow := run("slow", "traders.0.params.think=200us")

	gateRun := func(name, cand string) (int, *gate.Report) {
		t.Helper()
		js := filepath.Join(t.TempDir(), "gate.json")
		cmd := exec.CommandContext(ctx, bin, "gate", "--baseline", base, "--candidate", cand, "--json", js,
			"--markdown", filepath.Join(t.TempDir(), "gate.md"))
		cmd.Dir = root
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		t.Logf("gate %s: exit %d\n%s", name, code, out.String())
		b, err := os.ReadFile(js)
		if err != nil {
			t.Fatalf("gate %s wrote no JSON: %v", name, err)
		}
		var rep struct {
			Verdict gate.Verdict `json:"verdict"`
			Rows    []struct {
				Metric   string       `json:"metric"`
				Quantile string       `json:"quantile"`
				P        *float64     `json:"p"`
				Ratio    *float64     `json:"ratio"`
				Verdict  gate.Verdict `json:"verdict"`
			} `json:"rows"`
		}
		if err := json.Unmarshal(b, &rep); err != nil {
			t.Fatal(err)
		}
		r := &gate.Report{Verdict: rep.Verdict}
		for _, x := range rep.Rows {
			row := gate.Row{Metric: x.Metric, Quantile: x.Quantile, Verdict: x.Verdict}
			if x.P != nil {
				row.P = *x.P
			}
			if x.Ratio != nil {
				row.Ratio = *x.Ratio
			}
			r.Rows = append(r.Rows, row)
		}
		return code, r
	}

	code, rep := gateRun("A/A", aa)
	if code != 0 || rep.Verdict != gate.Pass {
		t.Errorf("A/A gate: exit %d verdict %s, want 0 pass", code, rep.Verdict)
	}
	code, rep = gateRun("slow", slow)
	if code != 1 || rep.Verdict != gate.Regression {
		t.Errorf("slow gate: exit %d verdict %s, want 1 regression", code, rep.Verdict)
	}
	found := false
	for _, r := range rep.Rows {
		if r.Metric == "tick_to_trade" && r.Verdict == gate.Regression {
			found = true
			t.Logf("regression: tick_to_trade %s ratio %.3f p %.4f", r.Quantile, r.Ratio, r.P)
		}
	}
	if !found {
		t.Errorf("slow gate: no tick_to_trade row is a regression")
	}
}
