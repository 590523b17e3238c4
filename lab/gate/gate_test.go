package gate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

const gateYAML = `name: %s
duration: 3s
repeat: 5
exchanges:
  - name: ex
    feed: {format: lab}
traders:
  - name: t1
    strategy: every
    feeds: [ex]
gate:
%s
`

func mkScenario(t *testing.T, name, gateSection string) *scenario.Scenario {
	t.Helper()
	f, err := scenario.Parse(name+".yaml", fmt.Appendf(nil, gateYAML, name, gateSection))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	return &f.Scenario
}

// spec describes a synthetic run: per-repetition tick-to-trade p50 values
// (µs); the other metrics and quantiles are flat (all repetitions equal, so
// their test is all ties and never significant).
type spec struct {
	scenario string
	t2t      []float64 // µs, one per repetition
	p99      int64     // whole-run tick-to-trade p99 in ns (for SLOs); default 1 ms
	empty    int       // 1-based repetition with no tick-to-trade samples
	partial  bool
}

func mkRun(t *testing.T, gateSection string, s spec) *history.Run {
	t.Helper()
	if s.scenario == "" {
		s.scenario = "ci"
	}
	if s.p99 == 0 {
		s.p99 = 1e6
	}
	flat := func(v int64) latency.Metric {
		return latency.Metric{Count: 100, MinNS: v / 2, P50NS: v, P90NS: v, P99NS: 2 * v, P999NS: 3 * v, MaxNS: 4 * v, MeanNS: v}
	}
	sum := &pipeline.Summary{Metrics: map[string]latency.Metric{
		latency.FeedLatency: flat(330e3), latency.OrderToAck: flat(870e3),
	}}
	top := flat(200e3)
	top.P99NS = s.p99
	sum.Metrics[latency.TickToTrade] = top
	for i, v := range s.t2t {
		m := flat(int64(v * 1e3))
		if i+1 == s.empty {
			m = latency.Metric{}
		}
		sum.Repetitions = append(sum.Repetitions, pipeline.Summary{Metrics: map[string]latency.Metric{
			latency.FeedLatency: flat(330e3), latency.OrderToAck: flat(870e3), latency.TickToTrade: m,
		}})
	}
	if len(s.t2t) == 1 { // a run without repetitions
		sum.Metrics[latency.TickToTrade] = sum.Repetitions[0].Metrics[latency.TickToTrade]
		sum.Repetitions = nil
	}
	env := results.Env{Scenario: s.scenario, Status: results.StatusOK, Start: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
	if s.partial {
		sum.Partial, sum.Reason = true, "repetition 4: trader exited"
		env.Status = "failed: repetition 4: trader exited"
	}
	return &history.Run{Run: &results.Run{Dir: "results/" + s.scenario + "/x", Summary: sum, Env: &env}, Scenario: mkScenario(t, s.scenario, gateSection)}
}

func TestDecisions(t *testing.T) {
	const oneRow = "  metrics: [tick_to_trade]\n  quantiles: [p50]\n  min_effect: 5%\n  floor: 25us"
	base := []float64{200, 205, 210, 195, 202}
	scale := func(xs []float64, f, add float64) []float64 {
		out := make([]float64, len(xs))
		for i, x := range xs {
			out[i] = x*f + add
		}
		return out
	}
	cases := []struct {
		name        string
		gate        string
		base, cand  spec
		opt         Options
		want        Verdict
		row         Verdict // tick_to_trade p50's verdict
		reason      string  // in the row's reason, or in the summary
		wantSummary string
	}{
		{name: "same distribution passes", gate: oneRow,
			base: spec{t2t: base}, cand: spec{t2t: []float64{203, 199, 207, 201, 204}},
			want: Pass, row: Pass, reason: "not significant"},
		{name: "30% slower is a regression", gate: oneRow,
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0)},
			want: Regression, row: Regression, reason: "slower: 202µs → 263µs", wantSummary: "FAIL: regression in tick_to_trade.p50"},
		{name: "significant but under min effect", gate: oneRow,
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1, 8)}, // +4%, +8 µs... floor
			want: Pass, row: Pass, reason: "below min effect"},
		{name: "significant, over min effect, under floor", gate: "  metrics: [tick_to_trade]\n  quantiles: [p50]\n  min_effect: 5%\n  floor: 100us",
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0)},
			want: Pass, row: Pass, reason: "below floor"},
		{name: "min effect 50% lets 30% through", gate: "  metrics: [tick_to_trade]\n  quantiles: [p50]\n  min_effect: 50%",
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0)},
			want: Pass, row: Pass, reason: "below min effect"},
		{name: "p=0.0278 is significant at alpha 0.05", gate: oneRow,
			base: spec{t2t: []float64{200, 210, 220, 230, 265}}, cand: spec{t2t: []float64{240, 250, 260, 270, 280}},
			want: Regression, row: Regression, reason: "p 0.0278"},
		{name: "p=0.0278 is not significant at alpha 0.01", gate: oneRow + "\n  alpha: 0.01",
			base: spec{t2t: []float64{200, 210, 220, 230, 265}}, cand: spec{t2t: []float64{240, 250, 260, 270, 280}},
			want: Pass, row: Pass, reason: "not significant (p 0.0278 > 0.01)"},
		{name: "Holm across six rows needs p <= alpha/6", gate: "  min_effect: 5%",
			base: spec{t2t: []float64{200, 210, 220, 230, 265}}, cand: spec{t2t: []float64{240, 250, 260, 270, 280}},
			want: Pass, row: Pass, reason: "not significant after Holm correction (p 0.0278 > 0.00833)"},
		{name: "no correction: p=0.0278 fails among six rows", gate: "  min_effect: 5%", opt: Options{NoCorrection: true},
			base: spec{t2t: []float64{200, 210, 220, 230, 265}}, cand: spec{t2t: []float64{240, 250, 260, 270, 280}},
			want: Regression, row: Regression},
		{name: "Holm: complete separation passes alpha/6", gate: "  min_effect: 5%",
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0)},
			want: Regression, row: Regression, reason: "p 0.00397 <= 0.00833"},
		{name: "SLO breach alone fails", gate: oneRow + "\n  slo: {tick_to_trade.p99: 2ms}",
			base: spec{t2t: base}, cand: spec{t2t: base, p99: 3e6},
			want: SLOBreach, row: Pass, wantSummary: "FAIL: SLO breached: tick_to_trade.p99"},
		{name: "SLO met", gate: oneRow + "\n  slo: {tick_to_trade.p99: 2ms}",
			base: spec{t2t: base}, cand: spec{t2t: base, p99: 1.9e6},
			want: Pass, row: Pass, wantSummary: "1 SLO(s) met"},
		{name: "too few repetitions", gate: oneRow,
			base: spec{t2t: base[:2]}, cand: spec{t2t: scale(base[:2], 2, 0)},
			want: Inconclusive, row: Inconclusive, reason: "run at least 3 repetitions"},
		{name: "too few repetitions for Holm over six rows", gate: "  min_effect: 5%",
			base: spec{t2t: base[:4]}, cand: spec{t2t: scale(base[:4], 2, 0)},
			want: Inconclusive, row: Inconclusive, reason: "run at least 5 repetitions"},
		{name: "one repetition each", gate: oneRow,
			base: spec{t2t: base[:1]}, cand: spec{t2t: []float64{400}},
			want: Inconclusive, row: Inconclusive, reason: "1 baseline and 1 candidate"},
		{name: "different scenarios", gate: oneRow,
			base: spec{t2t: base}, cand: spec{scenario: "quick", t2t: base},
			want: Inconclusive, row: Pass, wantSummary: "different scenarios (baseline ci, candidate quick)"},
		{name: "different scenarios allowed", gate: oneRow, opt: Options{AllowDifferent: true},
			base: spec{t2t: base}, cand: spec{scenario: "quick", t2t: scale(base, 1.3, 0)},
			want: Regression, row: Regression},
		{name: "partial candidate", gate: oneRow,
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0), partial: true},
			want: Inconclusive, row: Regression, wantSummary: "candidate run is partial (repetition 4: trader exited)"},
		{name: "partial baseline", gate: oneRow,
			base: spec{t2t: base, partial: true}, cand: spec{t2t: base},
			want: Inconclusive, row: Pass, wantSummary: "baseline run is partial"},
		{name: "a repetition without samples", gate: oneRow,
			base: spec{t2t: base}, cand: spec{t2t: base, empty: 3},
			want: Inconclusive, row: Inconclusive, reason: "no tick_to_trade samples in candidate repetition(s) 3"},
		{name: "regression outweighs an inconclusive row", gate: "  metrics: [tick_to_trade]\n  quantiles: [p50]\n  slo: {feed_latency.p99: 1ms, tick_to_trade.p99: 500us}",
			base: spec{t2t: base}, cand: spec{t2t: scale(base, 1.3, 0), p99: 1e6},
			want: Regression, row: Regression, wantSummary: "regression in tick_to_trade.p50; SLO breached: tick_to_trade.p99"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := Compare(mkRun(t, c.gate, c.base), mkRun(t, c.gate, c.cand), c.opt)
			var row *Row
			for i := range rep.Rows {
				if rep.Rows[i].Metric == latency.TickToTrade && rep.Rows[i].Quantile == "p50" {
					row = &rep.Rows[i]
				}
			}
			var text bytes.Buffer
			rep.WriteText(&text)
			if rep.Verdict != c.want || rep.ExitCode != c.want.ExitCode() {
				t.Fatalf("verdict %s exit %d, want %s exit %d\n%s", rep.Verdict, rep.ExitCode, c.want, c.want.ExitCode(), text.String())
			}
			if row == nil || row.Verdict != c.row {
				t.Fatalf("tick_to_trade p50 row: %+v, want %s\n%s", row, c.row, text.String())
			}
			if c.reason != "" && !strings.Contains(row.Reason, c.reason) {
				t.Errorf("row reason %q lacks %q", row.Reason, c.reason)
			}
			if c.wantSummary != "" && !strings.Contains(rep.Summary, c.wantSummary) {
				t.Errorf("summary %q lacks %q", rep.Summary, c.wantSummary)
			}
			// Every report renders and round-trips through JSON (NaN as null).
			var js bytes.Buffer
			if err := rep.WriteJSON(&js); err != nil {
				t.Fatal(err)
			}
			var back map[string]any
			if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["verdict"] != string(c.want) {
				t.Errorf("JSON: %v, verdict %v", err, back["verdict"])
			}
			var md bytes.Buffer
			if err := rep.WriteMarkdown(&md); err != nil || !strings.Contains(md.String(), "| tick_to_trade | p50 |") || !strings.Contains(md.String(), "How to reproduce") {
				t.Errorf("markdown: %v\n%s", err, md.String())
			}
		})
	}
}

func TestRowNumbers(t *testing.T) {
	g := "  metrics: [tick_to_trade]\n  quantiles: [p50]"
	base := mkRun(t, g, spec{t2t: []float64{200, 210, 190, 205, 195}})
	cand := mkRun(t, g, spec{t2t: []float64{300, 315, 285, 307, 293}})
	rep := Compare(base, cand, Options{Seed: 3})
	r := rep.Rows[0]
	if r.Baseline != 200e3 || r.Candidate != 300e3 || r.DeltaNS != 100e3 || math.Abs(r.Ratio-1.5) > 1e-12 {
		t.Errorf("medians %g %g delta %g ratio %g", r.Baseline, r.Candidate, r.DeltaNS, r.Ratio)
	}
	if r.U != 25 || math.Abs(r.P-1.0/252) > 1e-12 || r.Test != "exact" || r.CIMethod != "repetitions" {
		t.Errorf("U %g p %g %s %s", r.U, r.P, r.Test, r.CIMethod)
	}
	// Every resample's ratio lies between min(c)/max(b) and max(c)/min(b).
	if !(r.CI.Lo >= 285.0/210 && r.CI.Hi <= 315.0/190 && r.CI.Lo <= 1.5 && 1.5 <= r.CI.Hi) {
		t.Errorf("CI %v", r.CI)
	}
	again := Compare(base, cand, Options{Seed: 3})
	if again.Rows[0].CI != r.CI {
		t.Errorf("same seed, different CI: %v %v", again.Rows[0].CI, r.CI)
	}
}

func TestHDRFallback(t *testing.T) {
	g := "  metrics: [tick_to_trade]\n  quantiles: [p50, p99]"
	mk := func(scale float64) *history.Run {
		r := mkRun(t, g, spec{t2t: []float64{200}})
		h := latency.NewHistogram()
		for i := range 1000 {
			h.Record(int64(scale * float64(100e3+i*200)))
		}
		m, err := h.Metric()
		if err != nil {
			t.Fatal(err)
		}
		r.Summary.Metrics[latency.TickToTrade] = m
		return r
	}
	rep := Compare(mk(1), mk(1.5), Options{Seed: 1, Resamples: 1000})
	for _, r := range rep.Rows {
		if r.CIMethod != "hdr" || r.Verdict != Inconclusive || !(r.CI.Lo < 1.5 && 1.5 < r.CI.Hi) || r.CI.Hi-r.CI.Lo > 0.3 {
			t.Errorf("%s: method %s verdict %s CI %v, want an HDR interval around 1.5 and no verdict", r.Quantile, r.CIMethod, r.Verdict, r.CI)
		}
	}
	var b bytes.Buffer
	rep.WriteText(&b)
	if !strings.Contains(b.String(), "* interval from resampling the HDR histograms") {
		t.Errorf("text does not explain the fallback:\n%s", b.String())
	}
}

func TestConfigDefaults(t *testing.T) {
	c := ConfigFrom(scenario.Gate{})
	if strings.Join(c.Metrics, ",") != "feed_latency,tick_to_trade,order_to_ack" || strings.Join(c.Quantiles, ",") != "p50,p99" || c.Alpha != 0.05 {
		t.Errorf("defaults %+v", c)
	}
}
