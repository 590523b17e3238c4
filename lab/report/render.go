package report

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

//go:embed assets/page.html assets/page.js
var assets embed.FS

var (
	pageTmpl *template.Template
	pageJS   string
	pageCSP  string
	funcs    = template.FuncMap{
		"dur":    fmtDur,
		"sdur":   signedDur,
		"pct":    signedPct,
		"mark":   sigMark,
		"px":     f1,
		"add":    func(a, b float64) float64 { return a + b },
		"sub":    func(a, b float64) float64 { return a - b },
		"half":   func(a float64) float64 { return a / 2 },
		"right":  func(r rect) float64 { return r.X + r.W },
		"bottom": func(r rect) float64 { return r.Y + r.H },
		"mod":    func(i int) int { return i % paletteSize },
		"add2":   func(a, b int) int { return a + b },
	}
)

const paletteSize = 10

func init() {
	pageTmpl = template.Must(template.New("").Funcs(funcs).ParseFS(assets, "assets/page.html"))
	js, err := assets.ReadFile("assets/page.js")
	if err != nil {
		panic(err) // embedded at build time: cannot happen
	}
	pageJS = string(js)
	sum := sha256.Sum256(js)
	// Nothing may be fetched; only our own script runs (inline event
	// handlers are refused even if something slipped through escaping).
	pageCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}

// view is what the template reads: the model plus the laid-out charts.
type view struct {
	M         *Model
	Version   string
	CSP       string
	Compare   bool
	Labels    []string
	BucketMS  int
	SlowN     int
	Emulators []struct {
		Label string
		E     emulator
	}
	Points []struct {
		Label string
		P     capturePoint
	}
	Tables     []tableView
	Dist       []distView
	Timelines  []timelineView
	SplitChart *chart
	Splits     []splitView
	Groups     []groupView
	Mirror     []mirrorView
	Slowest    []struct {
		Label string
		S     slowSample
	}
	Conns []struct {
		Label string
		C     connRow
	}
	ChartData map[string][]hoverSeries
	Script    template.JS
	Metrics   []string // metric names in display order (trend columns)
}

type tableView struct {
	Metric string
	Rows   []struct {
		Label string
		R     tableRow
		Cells []cellView
	}
}

type cellView struct {
	V       int64
	D       *delta
	Gate    string // the gate's ratio, interval and p-value (gateText)
	GateWhy string
	Range   []int64
}

type distView struct {
	Metric           string
	Nines, CDF, Hist *chart
}

type timelineView struct {
	Label  string
	Charts []*chart
}

type splitView struct {
	Label string
	S     tradeSplit
	Chart *chart
}

type groupView struct {
	G    group
	Rows []struct {
		Label string
		R     groupRow
	}
	Chart *chart
}

type mirrorView struct {
	Label string
	Rows  []struct {
		mirrorRow
		Cells []struct{ L, M, D int64 }
	}
}

// render writes the page for m.
func render(w io.Writer, m *Model) error {
	v := newView(m)
	bw := bufio.NewWriterSize(w, 256<<10)
	if err := pageTmpl.ExecuteTemplate(bw, "page", v); err != nil {
		return fmt.Errorf("report: rendering: %w", err)
	}
	return bw.Flush()
}

// newView lays out every chart of m for the template.
func newView(m *Model) *view {
	gen := m.Generator
	if gen == "" {
		gen = "dev"
	}
	v := &view{M: m, Version: gen, CSP: pageCSP, Compare: len(m.Runs) > 1, BucketMS: int(bucketNS / 1e6), SlowN: slowestN,
		ChartData: map[string][]hoverSeries{}, Script: template.JS(pageJS), Metrics: metricOrder}
	v.listRuns(m.Runs)
	add := func(c *chart) *chart {
		if c != nil {
			v.ChartData[c.ID] = c.Hover
		}
		return c
	}
	v.Tables = tableViews(m.Table, v.Labels)
	for _, p := range m.Metrics {
		dv := distView{Metric: p.Metric}
		if len(p.Series) > 0 {
			dv.Nines = add(ninesChart("nines-"+p.Metric, p.Metric+": percentiles", p.Series))
			dv.CDF = add(cdfChart("cdf-"+p.Metric, p.Metric+": cumulative distribution", p.Series))
			dv.Hist = add(histChart("hist-"+p.Metric, p.Metric+": histogram", p.Bins, p.Series))
		}
		v.Dist = append(v.Dist, dv)
	}
	for _, t := range m.Timelines {
		tv := timelineView{Label: v.Labels[t.Run]}
		for _, tm := range t.Metrics {
			tv.Charts = append(tv.Charts, add(timelineChart(fmt.Sprintf("time-%d-%s", t.Run, tm.Metric), tm.Metric+" over time", t, tm)))
		}
		v.Timelines = append(v.Timelines, tv)
	}
	v.SplitChart = add(splitChart("split-medians", m.Splits, v.Labels))
	for _, s := range m.Splits {
		sv := splitView{Label: v.Labels[s.Run], S: s}
		if s.Joined > 0 {
			var ser []series
			for _, p := range s.Parts {
				ser = append(ser, series{Name: p.Name, Count: int64(p.Count), Nines: p.Nines})
			}
			sv.Chart = add(ninesChart(fmt.Sprintf("split-%d", s.Run), "tick-to-trade parts: percentiles", ser))
		}
		v.Splits = append(v.Splits, sv)
	}
	for gi, g := range m.Groups {
		gv := groupView{G: g}
		for _, r := range g.Rows {
			gv.Rows = append(gv.Rows, struct {
				Label string
				R     groupRow
			}{v.Labels[r.Run], r})
		}
		if len(g.Series) > 0 {
			gv.Chart = add(ninesChart(fmt.Sprintf("group-%d", gi), g.Metric+" by "+g.Kind, g.Series))
		}
		v.Groups = append(v.Groups, gv)
	}
	v.Mirror = mirrorViews(m.Mirror, v.Labels)
	for _, s := range m.Slowest {
		v.Slowest = append(v.Slowest, struct {
			Label string
			S     slowSample
		}{v.Labels[s.Run], s})
	}
	for _, c := range m.Conns {
		v.Conns = append(v.Conns, struct {
			Label string
			C     connRow
		}{v.Labels[c.Run], c})
	}
	return v
}

// listRuns sets the run labels and the per-run emulator and capture point
// lists.
func (v *view) listRuns(runs []runMeta) {
	for _, r := range runs {
		v.Labels = append(v.Labels, r.Label)
		for _, e := range r.Emulators {
			v.Emulators = append(v.Emulators, struct {
				Label string
				E     emulator
			}{r.Label, e})
		}
		for _, p := range r.Points {
			v.Points = append(v.Points, struct {
				Label string
				P     capturePoint
			}{r.Label, p})
		}
	}
}

// tableViews lays out the percentile tables: a cell per column with its
// delta and the gate's verdict under it.
func tableViews(tables []metricTable, labels []string) []tableView {
	var out []tableView
	for _, t := range tables {
		tv := tableView{Metric: t.Metric}
		for _, r := range t.Rows {
			row := struct {
				Label string
				R     tableRow
				Cells []cellView
			}{Label: labels[r.Run], R: r}
			for k, val := range r.Values {
				c := cellView{V: val}
				if k < len(r.Deltas) {
					d := r.Deltas[k]
					c.D = &d
					c.Gate, c.GateWhy = gateText(&d)
				}
				if k < len(r.RepRange) {
					c.Range = r.RepRange[k][:]
				}
				row.Cells = append(row.Cells, c)
			}
			tv.Rows = append(tv.Rows, row)
		}
		out = append(out, tv)
	}
	return out
}

// mirrorViews sets each run's local and mirror percentiles side by side.
func mirrorViews(diffs []mirrorTable, labels []string) []mirrorView {
	var out []mirrorView
	for _, md := range diffs {
		mv := mirrorView{Label: labels[md.Run]}
		for _, r := range md.Rows {
			row := struct {
				mirrorRow
				Cells []struct{ L, M, D int64 }
			}{mirrorRow: r}
			for k := range r.Local {
				row.Cells = append(row.Cells, struct{ L, M, D int64 }{r.Local[k], r.Mirror[k], r.Delta[k]})
			}
			mv.Rows = append(mv.Rows, row)
		}
		out = append(out, mv)
	}
	return out
}

// WriteFile renders m into path, atomically (a temporary file renamed).
func WriteFile(path string, m *Model) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := render(tmp, m); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("report: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	return nil
}

func signedDur(ns int64) string {
	if ns > 0 {
		return "+" + fmtDur(ns)
	}
	if ns == 0 {
		return "0"
	}
	return fmtDur(ns)
}

func signedPct(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "n/a"
	}
	s := strconv.FormatFloat(f*100, 'f', 1, 64)
	if f > 0 {
		s = "+" + s
	}
	return strings.Replace(s, "-", "−", 1) + "%"
}

func sigMark(sig string) string {
	switch sig {
	case "slower":
		return "▲"
	case "faster":
		return "▼"
	case "same":
		return "·"
	case "inconclusive":
		return "?"
	}
	return ""
}
