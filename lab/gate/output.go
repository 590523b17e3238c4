package gate

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/lab/results"
)

// finite returns a pointer to f, or nil for NaN and infinities (JSON has no
// NaN).
func finite(f float64) *float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil
	}
	return &f
}

// MarshalJSON writes values that could not be computed as null.
func (r Row) MarshalJSON() ([]byte, error) {
	type plain Row
	return json.Marshal(struct {
		plain
		Baseline  *float64 `json:"baseline_median_ns"`
		Candidate *float64 `json:"candidate_median_ns"`
		DeltaNS   *float64 `json:"delta_ns"`
		Ratio     *float64 `json:"ratio"`
		P         *float64 `json:"p"`
	}{plain(r), finite(r.Baseline), finite(r.Candidate), finite(r.DeltaNS), finite(r.Ratio), finite(r.P)})
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func (r Row) cells(conf float64) (base, cand, ratio, p string) {
	base, cand, ratio, p = "-", "-", "-", "-"
	if len(r.BaselineNS) > 0 {
		base = units.FormatNS(r.Baseline)
	}
	if len(r.CandidateNS) > 0 {
		cand = units.FormatNS(r.Candidate)
	}
	if !math.IsNaN(r.Ratio) && r.Ratio != 0 {
		ratio = fmt.Sprintf("%.3f", r.Ratio)
		if !math.IsNaN(r.CI.Lo) {
			ratio += fmt.Sprintf(" [%.3f, %.3f]", r.CI.Lo, r.CI.Hi)
			if r.CIMethod == "hdr" {
				ratio += "*"
			}
		}
	}
	if !math.IsNaN(r.P) && r.Test != "" {
		p = fmt.Sprintf("%.4f", r.P)
	}
	return
}

func (rep *Report) thresholds() string {
	c := rep.Config
	corr := fmt.Sprintf("Holm-corrected across %d rows", len(rep.Rows))
	if rep.Correction == "none" {
		corr = "per row"
	}
	return fmt.Sprintf("alpha %g (%s), min effect %s, floor %s; one-sided Mann-Whitney U on per-repetition values; %g%% bootstrap CI of the ratio of medians (%d resamples, seed %d)",
		c.Alpha, corr, pct(c.MinEffect), units.FormatNS(float64(c.Floor)), rep.Confidence*100, rep.Resamples, rep.Seed)
}

func describe(r RunRef) string {
	s := fmt.Sprintf("%s (%s, %d repetition(s), %s", r.Dir, r.Scenario, r.Repetitions, r.Start.Format("2006-01-02 15:04:05Z"))
	if r.Revision != "" {
		s += ", rev " + history.ShortRevision(r.Revision)
	}
	if r.Partial {
		s += ", PARTIAL"
	}
	return s + ")"
}

// WriteText writes the human table.
func (rep *Report) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "baseline:  %s\ncandidate: %s\n%s\n\n", describe(rep.Baseline), describe(rep.Candidate), rep.thresholds())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "metric\tquantile\tbaseline\tcandidate\tratio [%g%% CI]\tp\tverdict\t\n", rep.Confidence*100)
	for _, r := range rep.Rows {
		b, c, ratio, p := r.cells(rep.Confidence)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s: %s\t\n", r.Metric, r.Quantile, b, c, ratio, p, strings.ToUpper(string(r.Verdict)), r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if rep.hdrFallback() {
		fmt.Fprintln(w, "* interval from resampling the HDR histograms (too few repetitions): within-run noise only, not used for the verdict")
	}
	for _, s := range rep.SLOs {
		fmt.Fprintf(w, "SLO %s <= %s: %s", s.Key, units.FormatNS(float64(s.LimitNS)), strings.ToUpper(string(s.Verdict)))
		if s.Verdict != Inconclusive {
			fmt.Fprintf(w, " (candidate %s)", units.FormatNS(float64(s.CandidateNS)))
		} else {
			fmt.Fprintf(w, " (%s)", s.Reason)
		}
		fmt.Fprintln(w)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
	_, err := fmt.Fprintf(w, "\n%s (exit %d)\n", rep.Summary, rep.ExitCode)
	return err
}

func (rep *Report) hdrFallback() bool {
	for _, r := range rep.Rows {
		if r.CIMethod == "hdr" {
			return true
		}
	}
	return false
}

// WriteMarkdown writes a pull-request comment: the verdict line, the table,
// the SLOs and how to reproduce.
func (rep *Report) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### cloudpcap gate: %s\n\n", mdEscape(rep.Summary))
	fmt.Fprintf(&b, "Baseline `%s` vs candidate `%s`. %s.\n\n", rep.Baseline.Dir, rep.Candidate.Dir, rep.thresholds())
	fmt.Fprintf(&b, "| metric | quantile | baseline | candidate | ratio [%g%% CI] | p | verdict |\n|---|---|---:|---:|---:|---:|---|\n", rep.Confidence*100)
	for _, r := range rep.Rows {
		bs, cs, ratio, p := r.cells(rep.Confidence)
		v := string(r.Verdict)
		if r.Verdict == Regression {
			v = "**regression**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s: %s |\n", r.Metric, r.Quantile, bs, cs, ratio, p, v, mdEscape(r.Reason))
	}
	if rep.hdrFallback() {
		b.WriteString("\n\\* interval from resampling the HDR histograms (too few repetitions): within-run noise only, not used for the verdict.\n")
	}
	if len(rep.SLOs) > 0 {
		b.WriteString("\n| SLO | limit | candidate | verdict |\n|---|---:|---:|---|\n")
		for _, s := range rep.SLOs {
			c := units.FormatNS(float64(s.CandidateNS))
			if s.Verdict == Inconclusive {
				c = "-"
			}
			v := string(s.Verdict)
			if s.Verdict == SLOBreach {
				v = "**breach**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", s.Key, units.FormatNS(float64(s.LimitNS)), c, v)
		}
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "\n> note: %s\n", mdEscape(n))
	}
	fmt.Fprintf(&b, "\n<details><summary>How to reproduce</summary>\n\n```sh\nmake build\n"+
		"# the candidate's resolved scenario, as it ran (root: the lab makes namespaces)\nsudo bin/cloudpcap run %s/%s --out %s\n"+
		"bin/cloudpcap gate --baseline %s --candidate %s/%s/<UTC time> --seed %d\n```\n\n</details>\n",
		rep.Candidate.Dir, results.ScenarioFile, results.DefaultRoot, rep.Baseline.Dir, results.DefaultRoot, rep.Candidate.Scenario, rep.Seed)
	_, err := io.WriteString(w, b.String())
	return err
}

func mdEscape(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
