// Package gate decides whether a candidate run of a scenario is slower than
// a baseline run, for CI: `cloudpcap gate` exits 0 (pass), 1 (regression or
// SLO breach) or 2 (inconclusive or error).
//
// For every gated metric and quantile (the scenario's gate section; by
// default all three metrics at p50 and p99) it takes one value per
// repetition from each run (summary.json's repetitions; a run without
// repetitions gives one) and
//
//   - tests "the candidate is slower" with a one-sided Mann–Whitney U test
//     (exact permutation distribution up to 50 values in all, normal
//     approximation with tie correction above);
//   - estimates the ratio candidate/baseline of the medians of those values,
//     with a percentile bootstrap confidence interval (seeded, 2000
//     resamples by default). When either run has fewer repetitions than the
//     test needs, the interval comes from resampling the samples inside the
//     HDR histograms instead (stats.BootstrapHDR): that shows the size of the
//     change but, measuring only within-run noise, never decides a verdict.
//
// A row is a regression only when the test is significant at alpha (after
// the Holm–Bonferroni correction across the gated rows, so that an A/A pair
// of runs fails with probability at most alpha, not alpha per row), the
// ratio is at least 1+min_effect and the difference at least floor. SLO
// ceilings (slo: metric.quantile: duration) are static limits on the
// candidate's whole-run quantile. A row is inconclusive when a run has no
// samples of the metric (in any repetition) or too few repetitions for the
// test to ever reach significance; the whole comparison is inconclusive
// when the runs are of different scenarios (unless AllowDifferent) or either
// is partial.
//
// Compare reads nothing itself: it takes runs read by history.ReadRun. The
// Report it returns is the caller's.
package gate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/stats"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// Verdict is the outcome of a row, an SLO check or a whole comparison.
type Verdict string

// Verdicts.
const (
	Pass         Verdict = "pass"
	Regression   Verdict = "regression"
	SLOBreach    Verdict = "slo-breach"
	Inconclusive Verdict = "inconclusive"
)

// ExitCode is the process exit status of a verdict: 0 pass, 1 regression or
// SLO breach, 2 inconclusive.
func (v Verdict) ExitCode() int {
	switch v {
	case Pass:
		return 0
	case Regression, SLOBreach:
		return 1
	}
	return 2
}

// Config holds the thresholds (a scenario's gate section, defaults filled).
type Config struct {
	Metrics   []string         `json:"metrics"`
	Quantiles []string         `json:"quantiles"`
	Alpha     float64          `json:"alpha"`
	MinEffect float64          `json:"min_effect"` // relative: 0.05 is 5%
	Floor     time.Duration    `json:"floor_ns"`
	SLO       map[string]int64 `json:"slo_ns,omitempty"` // "tick_to_trade.p99" → ns
}

// ConfigFrom turns a validated scenario's gate section into a Config,
// filling the defaults Validate leaves unset.
func ConfigFrom(g scenario.Gate) Config {
	c := Config{Metrics: g.Metrics, Quantiles: g.Quantiles, Alpha: g.Alpha, MinEffect: g.MinEffect.F, Floor: g.Floor.D}
	if len(c.Metrics) == 0 {
		c.Metrics = append([]string(nil), latency.MetricNames...)
	}
	if len(c.Quantiles) == 0 {
		c.Quantiles = []string{"p50", "p99"}
	}
	if c.Alpha == 0 {
		c.Alpha = 0.05
	}
	if len(g.SLO) > 0 {
		c.SLO = map[string]int64{}
		for k, d := range g.SLO {
			c.SLO[k] = int64(d.D)
		}
	}
	return c
}

// DefaultSeed is the bootstrap seed of `cloudpcap gate` when none is given;
// the report judges runs with it too, so both draw the same intervals.
const DefaultSeed = 1

// Options control a comparison.
type Options struct {
	AllowDifferent bool    // compare runs of different scenarios
	Seed           uint64  // bootstrap seed (the same seed gives the same intervals)
	Resamples      int     // bootstrap resamples (default 2000)
	Confidence     float64 // interval level (default 0.95)
	NoCorrection   bool    // test each row at alpha, without Holm–Bonferroni
	// Config overrides the baseline scenario's gate section when non-nil.
	Config *Config
}

// RunRef identifies a compared run.
type RunRef struct {
	Dir         string    `json:"dir"`
	Scenario    string    `json:"scenario"`
	Revision    string    `json:"revision,omitempty"`
	Start       time.Time `json:"start"`
	Repetitions int       `json:"repetitions"`
	Partial     bool      `json:"partial"`
	Status      string    `json:"status"`
}

// Row is one metric and quantile.
type Row struct {
	Metric      string         `json:"metric"`
	Quantile    string         `json:"quantile"`
	BaselineNS  []int64        `json:"baseline_ns"`  // per repetition
	CandidateNS []int64        `json:"candidate_ns"` // per repetition
	Baseline    float64        `json:"baseline_median_ns"`
	Candidate   float64        `json:"candidate_median_ns"`
	DeltaNS     float64        `json:"delta_ns"`
	Ratio       float64        `json:"ratio"`
	CI          stats.Interval `json:"ci"`
	CIMethod    string         `json:"ci_method"` // "repetitions" or "hdr" (the fallback)
	U           float64        `json:"u"`
	P           float64        `json:"p"`
	Test        string         `json:"test"`      // "exact" or "normal"
	AlphaUsed   float64        `json:"alpha_row"` // the Holm threshold this row was held to
	Significant bool           `json:"significant"`
	Verdict     Verdict        `json:"verdict"`
	Reason      string         `json:"reason"`
}

// SLOCheck is one static ceiling on the candidate.
type SLOCheck struct {
	Key         string  `json:"key"` // metric.quantile
	LimitNS     int64   `json:"limit_ns"`
	CandidateNS int64   `json:"candidate_ns"`
	Verdict     Verdict `json:"verdict"`
	Reason      string  `json:"reason,omitempty"`
}

// Report is the outcome of Compare.
type Report struct {
	Baseline   RunRef     `json:"baseline"`
	Candidate  RunRef     `json:"candidate"`
	Config     Config     `json:"config"`
	Seed       uint64     `json:"seed"`
	Resamples  int        `json:"resamples"`
	Confidence float64    `json:"confidence"`
	Correction string     `json:"correction"` // "holm" or "none"
	Rows       []Row      `json:"rows"`
	SLOs       []SLOCheck `json:"slos,omitempty"`
	Notes      []string   `json:"notes,omitempty"` // run-level reasons (different scenarios, partial runs)
	Verdict    Verdict    `json:"verdict"`
	Summary    string     `json:"summary"` // the verdict line
	ExitCode   int        `json:"exit_code"`
}

func ref(r *history.Run) RunRef {
	return RunRef{Dir: r.Dir, Scenario: r.Scenario.Name, Revision: r.Env.Revision, Start: r.Env.Start,
		Repetitions: len(r.RepSummaries()), Partial: r.Partial(), Status: r.Env.Status}
}

// Compare judges cand against base.
func Compare(base, cand *history.Run, o Options) *Report {
	if o.Resamples <= 0 {
		o.Resamples = 2000
	}
	if o.Confidence <= 0 || o.Confidence >= 1 {
		o.Confidence = 0.95
	}
	cfg := ConfigFrom(base.Scenario.Gate)
	if o.Config != nil {
		cfg = *o.Config
	}
	rep := &Report{Baseline: ref(base), Candidate: ref(cand), Config: cfg, Seed: o.Seed, Resamples: o.Resamples,
		Confidence: o.Confidence, Correction: "holm"}
	if o.NoCorrection {
		rep.Correction = "none"
	}
	runInconclusive := rep.checkRuns(base, cand, o)
	rng := rand.New(rand.NewPCG(o.Seed, 0x67617465)) // "gate"
	for _, m := range cfg.Metrics {
		for _, q := range cfg.Quantiles {
			rep.Rows = append(rep.Rows, row(base, cand, m, q, cfg, o, rng))
		}
	}
	decide(rep.Rows, cfg, !o.NoCorrection)
	rep.SLOs = checkSLOs(cand, cfg)
	rep.conclude(runInconclusive)
	rep.ExitCode = rep.Verdict.ExitCode()
	return rep
}

// checkRuns notes what makes the two runs unfit to compare (different
// scenarios, a partial run) and reports whether any does.
func (rep *Report) checkRuns(base, cand *history.Run, o Options) (inconclusive bool) {
	if base.Scenario.Name != cand.Scenario.Name {
		if o.AllowDifferent {
			rep.Notes = append(rep.Notes, fmt.Sprintf("comparing different scenarios (%s vs %s), as allowed", base.Scenario.Name, cand.Scenario.Name))
		} else {
			inconclusive = true
			rep.Notes = append(rep.Notes, fmt.Sprintf("the runs are of different scenarios (baseline %s, candidate %s): pass --allow-different to compare them anyway", base.Scenario.Name, cand.Scenario.Name))
		}
	}
	for _, r := range []struct {
		role string
		run  *history.Run
	}{{"baseline", base}, {"candidate", cand}} {
		if r.run.Partial() {
			inconclusive = true
			why := r.run.Summary.Reason
			if why == "" {
				why = "status " + r.run.Env.Status
			}
			rep.Notes = append(rep.Notes, fmt.Sprintf("the %s run is partial (%s): rerun it", r.role, why))
		}
	}
	if !equalGate(base.Scenario.Gate, cand.Scenario.Gate) && o.Config == nil {
		rep.Notes = append(rep.Notes, "the candidate's gate section differs from the baseline's; the baseline's thresholds apply")
	}
	return inconclusive
}

// conclude sets the overall verdict and summary: a regression or breach
// fails; otherwise anything inconclusive makes the whole inconclusive; else
// pass. A run-level problem makes every finding untrustworthy.
func (rep *Report) conclude(runInconclusive bool) {
	var regs, breaches, inconc []string
	for _, r := range rep.Rows {
		switch r.Verdict {
		case Regression:
			regs = append(regs, r.Metric+"."+r.Quantile)
		case Inconclusive:
			inconc = append(inconc, r.Metric+"."+r.Quantile)
		}
	}
	for _, s := range rep.SLOs {
		switch s.Verdict {
		case SLOBreach:
			breaches = append(breaches, s.Key)
		case Inconclusive:
			inconc = append(inconc, s.Key)
		}
	}
	switch {
	case runInconclusive:
		rep.Verdict = Inconclusive
		rep.Summary = "INCONCLUSIVE: " + strings.Join(rep.Notes, "; ")
	case len(regs) > 0 || len(breaches) > 0:
		rep.Verdict = Regression
		var parts []string
		if len(regs) > 0 {
			parts = append(parts, "regression in "+strings.Join(regs, ", "))
		}
		if len(breaches) > 0 {
			parts = append(parts, "SLO breached: "+strings.Join(breaches, ", "))
			if len(regs) == 0 {
				rep.Verdict = SLOBreach
			}
		}
		rep.Summary = "FAIL: " + strings.Join(parts, "; ")
	case len(inconc) > 0:
		rep.Verdict = Inconclusive
		rep.Summary = "INCONCLUSIVE: " + strings.Join(inconc, ", ") + " could not be judged (see the rows)"
	default:
		rep.Verdict = Pass
		rep.Summary = fmt.Sprintf("PASS: no significant slowdown of at least %s and %s in %d gated quantiles", pct(rep.Config.MinEffect), units.FormatNS(float64(rep.Config.Floor)), len(rep.Rows))
		if len(rep.SLOs) > 0 {
			rep.Summary += fmt.Sprintf("; %d SLO(s) met", len(rep.SLOs))
		}
	}
}

func equalGate(a, b scenario.Gate) bool {
	ca, cb := ConfigFrom(a), ConfigFrom(b)
	return fmt.Sprint(ca) == fmt.Sprint(cb)
}

func pct(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", f*100), "0"), ".0") + "%"
}

// perRep returns metric m's quantile q of each repetition, and the
// repetitions (1-based) that have no samples of m.
func perRep(r *history.Run, m, q string) (vals []float64, ns []int64, empty []int) {
	for i, s := range r.RepSummaries() {
		met, ok := s.Metrics[m]
		if !ok || met.Count == 0 {
			empty = append(empty, i+1)
			continue
		}
		v, _ := history.QuantileNS(met, q)
		vals = append(vals, float64(v))
		ns = append(ns, v)
	}
	return vals, ns, empty
}

// row computes everything but the verdict's significance (decide does that
// across rows).
func row(base, cand *history.Run, m, q string, cfg Config, o Options, rng *rand.Rand) Row {
	r := Row{Metric: m, Quantile: q}
	bv, bns, bEmpty := perRep(base, m, q)
	cv, cns, cEmpty := perRep(cand, m, q)
	r.BaselineNS, r.CandidateNS = bns, cns
	var missing []string
	if len(bEmpty) > 0 {
		missing = append(missing, fmt.Sprintf("baseline repetition(s) %s", ints(bEmpty)))
	}
	if len(cEmpty) > 0 {
		missing = append(missing, fmt.Sprintf("candidate repetition(s) %s", ints(cEmpty)))
	}
	if len(missing) > 0 {
		r.Verdict = Inconclusive
		r.Reason = fmt.Sprintf("no %s samples in %s", m, strings.Join(missing, " and "))
		r.P, r.Ratio = math.NaN(), math.NaN()
		r.CI = stats.Interval{Lo: math.NaN(), Hi: math.NaN()}
		if len(bv) > 0 && len(cv) > 0 {
			r.Baseline, r.Candidate = stats.Median(bv), stats.Median(cv)
			r.Ratio, r.DeltaNS = r.Candidate/r.Baseline, r.Candidate-r.Baseline
		}
		return r
	}
	r.Baseline, r.Candidate = stats.Median(bv), stats.Median(cv)
	r.DeltaNS = r.Candidate - r.Baseline
	r.Ratio = math.NaN()
	if r.Baseline > 0 {
		r.Ratio = r.Candidate / r.Baseline
	}
	mw := stats.MannWhitney(bv, cv)
	r.U, r.P, r.Test = mw.U, mw.P, mw.Method
	if len(bv) >= minBootstrapReps && len(cv) >= minBootstrapReps {
		r.CIMethod = "repetitions"
		r.CI = stats.BootstrapRatio(bv, cv, o.Resamples, o.Confidence, rng)
	} else {
		r.CIMethod = "hdr"
		r.CI = stats.Interval{Lo: math.NaN(), Hi: math.NaN()}
		hb, errB := latency.FromMetric(base.Summary.Metrics[m])
		hc, errC := latency.FromMetric(cand.Summary.Metrics[m])
		if errB == nil && errC == nil {
			r.CI = stats.BootstrapHDR(hb.HDR(), hc.HDR(), q, o.Resamples, o.Confidence, rng)
		}
	}
	return r
}

// minBootstrapReps is the fewest repetitions per run for which resampling
// per-repetition values says anything; below, the HDR fallback is used.
const minBootstrapReps = 3

func ints(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ", ")
}

// decide sets Significant, AlphaUsed and Verdict on rows that are not
// already inconclusive. With holm, the rows' p-values are held to the
// Holm–Bonferroni step-down thresholds alpha/m, alpha/(m-1), ... (m: rows
// tested), which bounds the chance of any false alarm by alpha.
func decide(rows []Row, cfg Config, holm bool) {
	var tested []int
	for i := range rows {
		if rows[i].Verdict == "" {
			tested = append(tested, i)
		}
	}
	m := len(tested)
	// A row can reach significance only if its smallest possible p-value
	// is below the strictest threshold it may be held to.
	for _, i := range tested {
		r := &rows[i]
		nb, nc := len(r.BaselineNS), len(r.CandidateNS)
		strictest := cfg.Alpha
		if holm {
			strictest = cfg.Alpha / float64(m)
		}
		if stats.MinP(nb, nc) > strictest {
			need := stats.NeededRepetitions(strictest)
			r.Verdict = Inconclusive
			r.Reason = fmt.Sprintf("too few repetitions to reach significance: %d baseline and %d candidate give p >= %.3g, the test needs p <= %.3g; run at least %d repetitions per run (scenario repeat: %d)",
				nb, nc, stats.MinP(nb, nc), strictest, need, need)
		}
	}
	order := append([]int(nil), tested...)
	sort.SliceStable(order, func(a, b int) bool { return rows[order[a]].P < rows[order[b]].P })
	stopped := false
	for k, i := range order {
		r := &rows[i]
		r.AlphaUsed = cfg.Alpha
		if holm {
			r.AlphaUsed = cfg.Alpha / float64(m-k)
		}
		if !stopped && r.P <= r.AlphaUsed {
			r.Significant = true
		} else {
			stopped = stopped || holm
		}
		if r.Verdict != "" {
			continue // too few repetitions
		}
		minEffect := 1 + cfg.MinEffect
		switch {
		case !r.Significant:
			r.Verdict = Pass
			r.Reason = fmt.Sprintf("not significant (p %.3g > %.3g)", r.P, r.AlphaUsed)
			if holm && r.P <= cfg.Alpha {
				r.Reason = fmt.Sprintf("not significant after Holm correction (p %.3g > %.3g)", r.P, r.AlphaUsed)
			}
		case math.IsNaN(r.Ratio) || r.Ratio < minEffect:
			r.Verdict = Pass
			r.Reason = fmt.Sprintf("significant but below min effect (ratio %.3f < %.3f)", r.Ratio, minEffect)
		case r.DeltaNS < float64(cfg.Floor):
			r.Verdict = Pass
			r.Reason = fmt.Sprintf("significant but below floor (+%s < %s)", units.FormatNS(r.DeltaNS), units.FormatNS(float64(cfg.Floor)))
		default:
			r.Verdict = Regression
			r.Reason = fmt.Sprintf("slower: %s → %s (p %.3g <= %.3g)", units.FormatNS(r.Baseline), units.FormatNS(r.Candidate), r.P, r.AlphaUsed)
		}
	}
}

// checkSLOs holds the candidate's whole-run quantiles to the ceilings.
func checkSLOs(cand *history.Run, cfg Config) []SLOCheck {
	keys := make([]string, 0, len(cfg.SLO))
	for k := range cfg.SLO {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []SLOCheck
	for _, k := range keys {
		c := SLOCheck{Key: k, LimitNS: cfg.SLO[k]}
		m, q, _ := strings.Cut(k, ".")
		met, ok := cand.Summary.Metrics[m]
		v, known := history.QuantileNS(met, q)
		switch {
		case !known:
			c.Verdict, c.Reason = Inconclusive, fmt.Sprintf("unknown quantile %q", q)
		case !ok || met.Count == 0:
			c.Verdict, c.Reason = Inconclusive, fmt.Sprintf("the candidate has no %s samples", m)
		case v > c.LimitNS:
			c.CandidateNS = v
			c.Verdict, c.Reason = SLOBreach, fmt.Sprintf("%s > %s", units.FormatNS(float64(v)), units.FormatNS(float64(c.LimitNS)))
		default:
			c.CandidateNS = v
			c.Verdict = Pass
		}
		out = append(out, c)
	}
	return out
}
