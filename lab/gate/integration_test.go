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

// slowThink is the candidate's extra think time (see TestIntegrationGateCI).
const slowThink = "1ms"

var resultsLine = regexp.MustCompile(`(?m)^results: (.+)$`)

// TestIntegrationGateCI runs scenarios/ci.yaml three times through the
// built binary (a baseline, an A/A candidate, and a candidate whose trader
// spins slowThink before each decision) and gates the candidates: the A/A
// pair must pass (exit 0), the slower one must fail (exit 1) on
// tick_to_trade. The gate's statistics are not changed for the test; only
// what the test asks of this shared two-core machine is sized to it.
//
// Sizing, from runs of this scenario here (8 repetitions of 3 s, per-
// repetition tick-to-trade p50, quiet and with both cores loaded by
// `yes`): the baseline's p50s spread over 190-410 µs quiet and 110-185 µs
// loaded (the trader idles between ticks at 300/s, so its latency is mostly
// wake-up, which load shortens), and whole runs drift by up to ~50%
// between each other (one CI run measured 454 µs). A 200 µs think time
// hid inside that spread: it added 79-230 µs, once +17% at p 0.025, and
// the test failed 2 runs in 3. A busy spin is a floor, not an average:
// every order of the candidate leaves at least slowThink after its tick,
// so with 1 ms the candidate's p50s were 1137-1401 µs, at least 2.2x any
// baseline p50 seen, and the 8 against 8 repetitions separate completely
// (p 0.00008). The thresholds leave margin on both sides: min_effect 50%
// (the A/A pair fails only if a whole run drifts by half and separates at
// alpha 0.01), and the slow run passes only if the baseline's median p50
// exceeds 667 µs (1 ms / 1.5), 1.5x the worst seen. One row is gated
// (tick_to_trade p50, what the spin moves) and there is no SLO (ci.yaml's
// p99 ceiling tests the machine, not the gate; SLO checks have their own
// tests).
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
			"--set", "gate.alpha=0.01", "--set", "gate.min_effect=50%",
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
	slow := run("slow", "traders.0.params.think="+slowThink)

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
