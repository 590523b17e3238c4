package report

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/lab/gate"
	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
)

// The page's significance marks are cloudpcap gate's verdicts, not a test of
// its own: for every run after the first, Build runs gate.Compare with the
// command's defaults against the reference, and again with the two runs
// swapped under the reference's thresholds. A cell is marked slower exactly
// when `cloudpcap gate --baseline REFERENCE --candidate RUN` finds a
// regression in that metric and quantile, and faster when the gate finds one
// the other way round.

// gateQuantiles names the table's columns as the gate names quantiles.
var gateQuantiles = [5]string{"p50", "p90", "p99", "p999", "max"}

// gateLine is cloudpcap gate's verdict on one run against the reference.
type gateLine struct {
	Run      int          `json:"run"`
	Verdict  gate.Verdict `json:"verdict"`
	Summary  string       `json:"summary"` // the gate's verdict line, or why it could not judge
	ExitCode int          `json:"exit_code"`
}

// gateRows are the gate's rows for one run against the reference, by
// "metric.quantile": forward judges the run, reverse the reference.
type gateRows struct {
	forward, reverse map[string]*gate.Row
}

// judge runs the gate on run against ref, both ways.
func judge(ref, run *Run) (gateLine, gateRows) {
	base, err := gateRun(ref)
	if err != nil {
		return gateLine{Verdict: gate.Inconclusive, ExitCode: 2, Summary: "the gate cannot judge: reference: " + err.Error()}, gateRows{}
	}
	cand, err := gateRun(run)
	if err != nil {
		return gateLine{Verdict: gate.Inconclusive, ExitCode: 2, Summary: "the gate cannot judge: " + err.Error()}, gateRows{}
	}
	o := gate.Options{Seed: gate.DefaultSeed}
	fwd := gate.Compare(base, cand, o)
	o.Config = &fwd.Config
	rev := gate.Compare(cand, base, o)
	rows := gateRows{forward: map[string]*gate.Row{}, reverse: map[string]*gate.Row{}}
	for i := range fwd.Rows {
		rows.forward[fwd.Rows[i].Metric+"."+fwd.Rows[i].Quantile] = &fwd.Rows[i]
		rows.reverse[rev.Rows[i].Metric+"."+rev.Rows[i].Quantile] = &rev.Rows[i]
	}
	return gateLine{Verdict: fwd.Verdict, Summary: fwd.Summary, ExitCode: fwd.ExitCode}, rows
}

// gateRun is r as the gate reads a results folder (history.ReadRun): the
// scenario parsed and validated, and the env.json fields the gate reports.
func gateRun(r *Run) (*history.Run, error) {
	if r.Env == nil {
		return nil, errors.New("env.json is missing")
	}
	if r.ScenarioYAML == "" {
		return nil, errors.New("scenario.yaml is missing or empty")
	}
	f, err := scenario.Parse(filepath.Join(r.Dir, results.ScenarioFile), []byte(r.ScenarioYAML))
	if err != nil {
		return nil, err
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	rr := &results.Run{Dir: r.Dir, ScenarioYAML: []byte(r.ScenarioYAML), Summary: r.Summary, Mirror: r.Mirror, Env: r.Env}
	return &history.Run{Run: rr, Scenario: &f.Scenario}, nil
}

// mark sets d's gate rows and verdict for column k of metric name; a column
// the gate does not judge keeps none.
func (g gateRows) mark(d *delta, name string, k int) {
	key := name + "." + gateQuantiles[k]
	fwd, rev := g.forward[key], g.reverse[key]
	if fwd == nil || rev == nil {
		return
	}
	d.Gate, d.Reverse = fwd, rev
	switch {
	case fwd.Verdict == gate.Regression:
		d.Sig = "slower"
	case rev.Verdict == gate.Regression:
		d.Sig = "faster"
	case fwd.Verdict == gate.Inconclusive:
		d.Sig = "inconclusive"
	default:
		d.Sig = "same"
	}
}

// gateText is what a judged cell shows under its delta: the gate's ratio
// run/reference with its interval (* when it comes from the HDR fallback)
// and the smaller of the two one-sided p-values, or "inconclusive"; why is
// the reason of the row that p-value belongs to.
func gateText(d *delta) (text, why string) {
	if d.Gate == nil {
		return "", ""
	}
	row := d.Gate
	if d.Reverse.P < row.P {
		row = d.Reverse
	}
	text = "gate ×" + ratio(d.Gate.Ratio)
	if iv := d.Gate.CI; !math.IsNaN(iv.Lo) {
		text += fmt.Sprintf(" [%s, %s]", ratio(iv.Lo), ratio(iv.Hi))
		if d.Gate.CIMethod == "hdr" {
			text += "*"
		}
	}
	if d.Sig == "inconclusive" {
		return text + " inconclusive", row.Reason
	}
	return text + fmt.Sprintf(" p=%.3g", row.P), row.Reason
}

func ratio(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	return fmt.Sprintf("%.3f", f)
}
