package history

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/stats"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// Table is a scenario's trend as `cloudpcap history` shows it: for each of
// the last runs, the chosen quantiles of every metric and their change
// against the previous run and against the median of the runs shown.
type Table struct {
	Scenario  string                       `json:"scenario"`
	Quantiles []string                     `json:"quantiles"`
	Runs      []TableRun                   `json:"runs"`                 // oldest first
	Median    map[string]map[string]int64  `json:"median_ns"`            // metric → quantile → median over Runs
	Spark     map[string]map[string]string `json:"sparklines,omitempty"` // metric → quantile → sparkline
}

// TableRun is one run of a Table.
type TableRun struct {
	Dir            string                      `json:"dir"`
	Revision       string                      `json:"revision"`
	RevisionSource string                      `json:"revision_source"`
	Start          time.Time                   `json:"start"`
	Status         string                      `json:"status"`
	Partial        bool                        `json:"partial"`
	Mechanism      string                      `json:"link_mechanism"`
	Metrics        map[string]map[string]Value `json:"metrics"` // metric → quantile → value
	Counts         map[string]int64            `json:"counts"`  // metric → samples
}

// Value is one quantile of one run; the changes are relative
// ((v - ref) / ref) and absent where there is nothing to compare with.
type Value struct {
	NS       int64    `json:"ns"`
	VsPrev   *float64 `json:"vs_prev,omitempty"`
	VsMedian *float64 `json:"vs_median,omitempty"`
}

// QuantileNS returns quantile q ("p50", "p90", "p99", "p999", "max",
// "mean", "min") of m, and whether q is known.
func QuantileNS(m latency.Metric, q string) (int64, bool) {
	switch q {
	case "min":
		return m.MinNS, true
	case "p50":
		return m.P50NS, true
	case "p90":
		return m.P90NS, true
	case "p99":
		return m.P99NS, true
	case "p999":
		return m.P999NS, true
	case "max":
		return m.MaxNS, true
	case "mean":
		return m.MeanNS, true
	}
	return 0, false
}

// MakeTable computes a Table from a trend (Trend's points, oldest first).
// A metric with no samples in a run has no value for that run and is left
// out of medians and changes.
func MakeTable(scenario string, pts []Point, quantiles []string) Table {
	t := Table{Scenario: scenario, Quantiles: quantiles, Median: map[string]map[string]int64{}, Spark: map[string]map[string]string{}}
	for _, p := range pts {
		tr := TableRun{Dir: p.Dir, Revision: p.Revision, RevisionSource: p.RevisionSource, Start: p.Start,
			Status: p.Status, Partial: p.Partial, Mechanism: p.Mechanism,
			Metrics: map[string]map[string]Value{}, Counts: map[string]int64{}}
		for _, name := range latency.MetricNames {
			m := p.Metrics[name]
			tr.Counts[name] = m.Count
			if m.Count == 0 {
				continue
			}
			tr.Metrics[name] = map[string]Value{}
			for _, q := range quantiles {
				v, _ := QuantileNS(m, q)
				tr.Metrics[name][q] = Value{NS: v}
			}
		}
		t.Runs = append(t.Runs, tr)
	}
	for _, name := range latency.MetricNames {
		t.Median[name] = map[string]int64{}
		t.Spark[name] = map[string]string{}
		for _, q := range quantiles {
			var series []float64
			for _, r := range t.Runs {
				if v, ok := r.Metrics[name][q]; ok {
					series = append(series, float64(v.NS))
				}
			}
			if len(series) == 0 {
				continue
			}
			med := stats.Median(series)
			t.Median[name][q] = int64(math.Round(med))
			t.Spark[name][q] = Sparkline(series)
			prev := math.NaN()
			for _, r := range t.Runs {
				v, ok := r.Metrics[name][q]
				if !ok {
					continue
				}
				if !math.IsNaN(prev) && prev > 0 {
					c := (float64(v.NS) - prev) / prev
					v.VsPrev = &c
				}
				if med > 0 {
					c := (float64(v.NS) - med) / med
					v.VsMedian = &c
				}
				r.Metrics[name][q] = v
				prev = float64(v.NS)
			}
		}
	}
	return t
}

var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// Sparkline draws xs as one line of block characters, lowest to highest.
func Sparkline(xs []float64) string {
	if len(xs) == 0 {
		return ""
	}
	lo, hi := xs[0], xs[0]
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	var b strings.Builder
	for _, x := range xs {
		i := 0
		if hi > lo {
			i = int(math.Round((x - lo) / (hi - lo) * float64(len(sparkRunes)-1)))
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// FormatChange writes a relative change as a signed percentage ("-" when
// absent).
func FormatChange(c *float64) string {
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%+.1f%%", *c*100)
}

// ShortRevision abbreviates a git revision to 10 characters.
func ShortRevision(rev string) string {
	if len(rev) > 10 {
		return rev[:10]
	}
	if rev == "" {
		return "?"
	}
	return rev
}

// WriteText writes the table for a terminal: per metric a sparkline line
// and one row per run.
func (t Table) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "%s: last %d run(s)\n", t.Scenario, len(t.Runs))
	for _, name := range latency.MetricNames {
		var spark []string
		for _, q := range t.Quantiles {
			if s := t.Spark[name][q]; s != "" {
				spark = append(spark, q+" "+s)
			}
		}
		if len(spark) == 0 {
			fmt.Fprintf(w, "\n%s: no samples in these runs\n", name)
			continue
		}
		fmt.Fprintf(w, "\n%s  %s\n", name, strings.Join(spark, "  "))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := []string{"start (UTC)", "revision", "status", "count"}
		for _, q := range t.Quantiles {
			head = append(head, q, "vs prev", "vs median")
		}
		fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
		for _, r := range t.Runs {
			status := r.Status
			if r.Partial && status == results.StatusOK {
				status = "partial"
			}
			if len(status) > 12 {
				status = status[:12] + "…"
			}
			rev := ShortRevision(r.Revision)
			if r.RevisionSource != results.EnvFile && r.Revision != "" {
				rev = "~" + rev // taken at index time, not recorded by the run
			}
			cells := []string{r.Start.Format("2006-01-02 15:04:05"), rev, status, fmt.Sprint(r.Counts[name])}
			for _, q := range t.Quantiles {
				v, ok := r.Metrics[name][q]
				if !ok {
					cells = append(cells, "-", "-", "-")
					continue
				}
				cells = append(cells, units.FormatNS(float64(v.NS)), FormatChange(v.VsPrev), FormatChange(v.VsMedian))
			}
			fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	return nil
}
