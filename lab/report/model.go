package report

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
	"github.com/cloudpcap/cloudpcap/lab/gate"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// Model is everything the page shows, computed from the runs; the golden
// tests compare it as JSON. All latencies are int64 nanoseconds, times of
// day RFC 3339 strings, positions in a run seconds from its first event.
type Model struct {
	Title     string   `json:"title"`
	Generator string   `json:"-"`         // version written into the page
	Reference string   `json:"reference"` // label of the first run, the one deltas are taken against
	Method    string   `json:"method"`    // how significance is judged, shown on the page
	Quantiles []string `json:"quantiles"` // column names of every [5]int64 below

	Runs          []runMeta        `json:"runs"`
	Warnings      []warning        `json:"warnings"`
	ScenarioDiffs []scenarioChange `json:"scenario_diffs,omitempty"`
	Gate          []gateLine       `json:"gate,omitempty"` // cloudpcap gate on each run after the first against it
	Table         []metricTable    `json:"table"`
	Metrics       []metricPlot     `json:"metrics"`
	Timelines     []runTimeline    `json:"timelines"`
	Splits        []tradeSplit     `json:"splits"`
	Groups        []group          `json:"groups"`
	Mirror        []mirrorTable    `json:"mirror,omitempty"`
	Slowest       []slowSample     `json:"slowest"`
	Conns         []connRow        `json:"connections"`
	Trend         *Trend           `json:"trend,omitempty"`
}

// Trend is the reference run's scenario over its recent runs, from the
// history index (results/history.db), oldest first.
type Trend struct {
	Scenario string       `json:"scenario"`
	Points   []trendPoint `json:"points"`
}

// trendPoint is one indexed run: p50 and p99 per metric, ns.
type trendPoint struct {
	Start    string             `json:"start"`
	Revision string             `json:"revision"`
	Status   string             `json:"status"`
	Partial  bool               `json:"partial"`
	Current  bool               `json:"current"` // the run this report is about
	P50      map[string]int64   `json:"p50"`
	P99      map[string]int64   `json:"p99"`
	Delta    map[string]float64 `json:"delta_p50"` // relative to the previous point's p50
}

// quantileNames label the five columns of every percentile row.
var quantileNames = []string{"p50", "p90", "p99", "p99.9", "max"}

var tableQ = []float64{0.5, 0.9, 0.99, 0.999, 1}

// runMeta is a run's metadata.
type runMeta struct {
	Label        string         `json:"label"`
	Dir          string         `json:"dir"` // scenario/time: the folder's last two elements
	Scenario     string         `json:"scenario"`
	Description  string         `json:"description,omitempty"`
	Start        string         `json:"start,omitempty"`
	End          string         `json:"end,omitempty"`
	DurationS    float64        `json:"duration_s,omitempty"`
	Repetitions  int            `json:"repetitions"`
	Kernel       string         `json:"kernel,omitempty"`
	CPU          string         `json:"cpu,omitempty"`
	Cores        int            `json:"cores,omitempty"`
	Mechanism    string         `json:"link_mechanism,omitempty"`
	Modes        []string       `json:"capture_modes,omitempty"`
	Status       string         `json:"status,omitempty"`
	Revision     string         `json:"revision,omitempty"`
	GoVersion    string         `json:"go_version,omitempty"`
	Partial      bool           `json:"partial,omitempty"`
	Reason       string         `json:"partial_reason,omitempty"`
	Events       int            `json:"events"`
	AppLines     int            `json:"app_lines"`
	Emulators    []emulator     `json:"emulators,omitempty"`
	Points       []capturePoint `json:"capture_points,omitempty"`
	Decode       decodeCount    `json:"decode"`
	ScenarioYAML string         `json:"-"` // shown verbatim; not part of the golden model
}

// emulator is one direction of a userspace link emulator: how precisely it
// released frames against their due time.
type emulator struct {
	Rep        int    `json:"rep"`
	Host       string `json:"host"`
	Dir        string `json:"dir"` // a2b, b2a
	Params     string `json:"params"`
	Forwarded  uint64 `json:"forwarded"`
	Dropped    uint64 `json:"dropped"` // loss + queue + oversize + send errors
	Late       uint64 `json:"late"`
	Kernel     uint64 `json:"kernel_drops"`
	ReleaseP50 int64  `json:"release_p50_ns"`
	ReleaseP99 int64  `json:"release_p99_ns"`
	ReleaseMax int64  `json:"release_max_ns"`
}

// capturePoint is a capture point of one repetition.
type capturePoint struct {
	Rep     int    `json:"rep"`
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"kernel_drops"`
}

// decodeCount is the decoders' tally, for the metadata table.
type decodeCount struct {
	Packets      uint64 `json:"packets"`
	KernelDrops  uint64 `json:"kernel_drops"`
	Records      uint64 `json:"tls_records"`
	Decrypted    uint64 `json:"tls_decrypted"`
	NoKey        uint64 `json:"tls_no_key"`
	TCPGaps      uint64 `json:"tcp_gaps"`
	SeqGaps      int64  `json:"seq_gaps"`
	Ticks        int64  `json:"ticks"`
	Orders       int64  `json:"orders"`
	Acks         int64  `json:"acks"`
	Unmatched    int64  `json:"orders_unmatched"`
	LastTickOnly int64  `json:"orders_last_tick"`
}

// warning is something that makes a number less trustworthy.
type warning struct {
	Run   int    `json:"run"` // index into Runs
	Level string `json:"level"`
	Text  string `json:"text"`
}

// scenarioChange lists the resolved-scenario lines in which a run differs
// from the reference.
type scenarioChange struct {
	Run     int      `json:"run"`
	Removed []string `json:"removed,omitempty"`
	Added   []string `json:"added,omitempty"`
}

// metricTable is the percentile table of one metric, a row per run.
type metricTable struct {
	Metric string     `json:"metric"`
	Rows   []tableRow `json:"rows"`
}

// tableRow is one run's percentiles of one metric.
type tableRow struct {
	Run    int      `json:"run"`
	Count  int64    `json:"count"`
	Mean   int64    `json:"mean_ns"`
	Values [5]int64 `json:"values_ns"`
	// Deltas against the reference run (absent for the reference itself).
	Deltas []delta `json:"deltas,omitempty"`
	// RepRange is the lowest and highest value of each column over the
	// repetitions (absent with one repetition).
	RepRange [][2]int64 `json:"rep_range,omitempty"`
}

// delta is a difference from the reference run and, in the columns the
// reference scenario's gate section judges, cloudpcap gate's verdict on it
// (see gate.go).
type delta struct {
	Abs int64   `json:"abs_ns"`
	Rel float64 `json:"rel"` // Abs / reference value
	// Sig is "slower" when the gate finds a regression in this column,
	// "faster" when it finds one with the two runs swapped, "same" when it
	// finds neither and "inconclusive" when it cannot judge; empty in a
	// column the gate does not judge.
	Sig string `json:"sig,omitempty"`
	// Gate is the gate's row for this column (run against the reference),
	// Reverse the row with the two runs swapped, as `cloudpcap gate --json`
	// writes them.
	Gate    *gate.Row `json:"gate,omitempty"`
	Reverse *gate.Row `json:"gate_reverse,omitempty"`
}

// metricPlot holds one metric's curves: a series per run (and per mirror).
type metricPlot struct {
	Metric string   `json:"metric"`
	Bins   []int64  `json:"bin_edges_ns"` // histogram bin edges shared by every series
	Series []series `json:"series"`
}

// series is one distribution drawn three ways.
type series struct {
	Name  string    `json:"name"`
	Run   int       `json:"run"`
	Count int64     `json:"count"`
	Nines []xy      `json:"nines"` // X = 1/(1-q)
	CDF   []xy      `json:"cdf,omitempty"`
	Hist  []float64 `json:"hist,omitempty"` // fraction of samples per bin
}

// xy is a point: for Nines X = 1/(1-q) and V the value at q; for the CDF
// V is the value and X the fraction at or below it. In JSON it is the
// pair [X, V].
type xy struct {
	X float64
	V int64
}

// MarshalJSON writes [X, V].
func (p xy) MarshalJSON() ([]byte, error) {
	b := append([]byte{'['}, strconv.FormatFloat(p.X, 'g', -1, 64)...)
	b = append(b, ',')
	b = strconv.AppendInt(b, p.V, 10)
	return append(b, ']'), nil
}

// UnmarshalJSON reads [X, V].
func (p *xy) UnmarshalJSON(b []byte) error {
	var a [2]json.Number
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	x, err := a[0].Float64()
	if err != nil {
		return err
	}
	v, err := a[1].Int64()
	if err != nil {
		return err
	}
	p.X, p.V = x, v
	return nil
}

// runTimeline is a run's latency and message rate over time, in buckets.
type runTimeline struct {
	Run      int              `json:"run"`
	BucketMS int              `json:"bucket_ms"`
	SpanS    float64          `json:"span_s"`
	RepMarks []float64        `json:"rep_marks_s,omitempty"` // where repetitions 2..N start
	Metrics  []timelineMetric `json:"metrics"`
}

// timelineMetric is one metric's buckets (empty buckets left out).
type timelineMetric struct {
	Metric  string   `json:"metric"`
	Buckets []bucket `json:"buckets"`
}

// bucket summarises the samples whose wire time fell in [T, T+bucket).
type bucket struct {
	T   float64 `json:"t"`
	N   int     `json:"n"`
	P50 int64   `json:"p50_ns"`
	P99 int64   `json:"p99_ns"`
	Max int64   `json:"max_ns"`
}

// tradeSplit is tick-to-trade cut at the trader's own timestamps.
type tradeSplit struct {
	Run          int         `json:"run"`
	AppOrders    int         `json:"app_orders"`     // orders written to the connection, per the trader
	Joined       int         `json:"joined"`         // with both the order and its tick found in events
	NoOrderEvent int         `json:"no_order_event"` // order id not among the captured orders
	NoTickEvent  int         `json:"no_tick_event"`  // tick (conn, symbol, seq) not among the captured ticks
	Failed       int         `json:"failed"`         // orders the trader never wrote (errors)
	Parts        []splitPart `json:"parts"`
}

// splitPart is one component of the split.
type splitPart struct {
	Name     string   `json:"name"`
	Desc     string   `json:"desc"`
	Count    int      `json:"count"`
	Mean     int64    `json:"mean_ns"`
	Values   [5]int64 `json:"values_ns"`
	Negative int      `json:"negative"` // samples below zero (clock or join trouble)
	Nines    []xy     `json:"nines"`
}

// group is one (kind, metric) breakdown.
type group struct {
	Kind   string     `json:"kind"`
	Metric string     `json:"metric"`
	Rows   []groupRow `json:"rows"`
	Series []series   `json:"series"` // nines only
}

// groupRow is one group member's percentiles in one run.
type groupRow struct {
	Run    int      `json:"run"`
	Name   string   `json:"name"`
	Count  int64    `json:"count"`
	Values [5]int64 `json:"values_ns"`
}

// mirrorTable sets a run's local capture beside its mirror capture.
type mirrorTable struct {
	Run  int         `json:"run"`
	Rows []mirrorRow `json:"rows"`
}

// mirrorRow compares one metric.
type mirrorRow struct {
	Metric      string   `json:"metric"`
	LocalCount  int64    `json:"local_count"`
	MirrorCount int64    `json:"mirror_count"`
	Local       [5]int64 `json:"local_ns"`
	Mirror      [5]int64 `json:"mirror_ns"`
	Delta       [5]int64 `json:"delta_ns"` // mirror − local
}

// slowSample is one of the slowest samples of a metric, to look up in the capture.
type slowSample struct {
	Run     int     `json:"run"`
	Rep     int     `json:"rep"`
	Metric  string  `json:"metric"`
	ValueNS int64   `json:"value_ns"`
	WireNS  int64   `json:"wire_ns"`
	AtS     float64 `json:"at_s"` // seconds into the repetition
	Conn    string  `json:"conn"`
	Symbol  string  `json:"symbol,omitempty"`
	Seq     uint64  `json:"seq,omitempty"`
	OrderID string  `json:"order_id,omitempty"`
}

// connRow is one TCP connection the monitor saw.
type connRow struct {
	Run        int      `json:"run"`
	Rep        int      `json:"rep"`
	Conn       string   `json:"conn"`
	App        string   `json:"app,omitempty"`
	Profile    string   `json:"profile,omitempty"`
	TLS        string   `json:"tls,omitempty"`
	SNI        string   `json:"sni,omitempty"`
	ALPN       string   `json:"alpn,omitempty"`
	Bytes      [2]int64 `json:"bytes"`
	GapBytes   [2]int64 `json:"gap_bytes"`
	Decrypted  uint64   `json:"decrypted"`
	NoKey      uint64   `json:"no_key"`
	WSMessages [2]int64 `json:"ws_messages"`
	Ticks      int64    `json:"ticks"`
	Orders     int64    `json:"orders"`
	Acks       int64    `json:"acks"`
	Errors     []string `json:"errors,omitempty"`
}

// Options tune Build.
type Options struct {
	Title     string   // page title (default from the runs)
	Generator string   // cloudpcap version, for the page footer
	Labels    []string // names for the runs, in order (default: scenario and start time)
	Trend     *Trend   // the reference scenario's history, if indexed
}

// bucketNS is the timeline resolution.
const bucketNS = int64(100 * time.Millisecond)

// slowestN is how many slowest samples the page lists per metric and run.
const slowestN = 5

// maxGroupSeries bounds the curves drawn per group chart.
const maxGroupSeries = 12

// tableMethod says on the page how the percentile table's marks are made.
const tableMethod = "Δ = run − reference at the same percentile. The marks are cloudpcap gate's verdicts, with its default settings, in the columns " +
	"the reference scenario's gate section judges (by default p50 and p99; the other columns show Δ only): ▲ slower where " +
	"'cloudpcap gate --baseline REFERENCE --candidate RUN' finds a regression (a one-sided Mann–Whitney U test on the per-repetition values, " +
	"Holm-corrected across the gated rows, and a change of at least the gate's min_effect and floor), ▼ faster where it finds one with the two runs swapped, " +
	"· neither, ? inconclusive (too few repetitions to ever reach significance, or no samples; hover for the reason). " +
	"Under the mark: the gate's ratio run/reference of the per-repetition medians with its 95% bootstrap interval (* when a run has fewer than 3 repetitions: " +
	"resampled from the HDR histograms, within-run noise only, never a verdict) and the smaller of the two one-sided p-values."

// Build computes the model of runs; the first run is the reference.
func Build(runs []*Run, o Options) (*Model, error) {
	if len(runs) == 0 {
		return nil, fmt.Errorf("report: no runs")
	}
	for i, l := range o.Labels {
		if i < len(runs) && l != "" {
			runs[i].Label = l
		}
	}
	uniqueLabels(runs)
	m := &Model{
		Trend:     o.Trend,
		Title:     o.Title,
		Generator: o.Generator,
		Reference: runs[0].Label,
		Quantiles: quantileNames,
		Method:    tableMethod,
	}
	if m.Title == "" {
		m.Title = "cloudpcap report: " + runs[0].Label
		if len(runs) > 1 {
			m.Title = fmt.Sprintf("cloudpcap compare: %d runs, reference %s", len(runs), runs[0].Label)
		}
	}
	hists, mirrors, err := m.describeRuns(runs)
	if err != nil {
		return nil, err
	}
	m.tables(runs, hists)
	m.plots(runs, hists, mirrors)
	if err := m.groups(runs); err != nil {
		return nil, err
	}
	for i, r := range runs {
		m.Timelines = append(m.Timelines, timeline(i, r))
		sp := split(i, r)
		m.Splits = append(m.Splits, sp)
		if sp.AppOrders > 0 && sp.Joined*10 < sp.AppOrders*9 {
			m.warn(i, "warn", fmt.Sprintf("tick-to-trade split: only %d of %d orders the trader wrote were joined with captured events (%d order ids not captured, %d ticks not captured)",
				sp.Joined, sp.AppOrders, sp.NoOrderEvent, sp.NoTickEvent))
		}
		if in := sp.Parts[0]; in.Negative > 0 && in.Negative*100 >= in.Count {
			m.warn(i, "warn", fmt.Sprintf("tick-to-trade split: for %d of %d joined orders the trader read the tick before the capture saw it on the wire (median network in %s): the capture timestamps are late, so feed latency and tick-to-trade are overstated",
				in.Negative, in.Count, fmtDur(in.Values[0])))
		}
		m.sameWireWarnings(i, r)
		m.Slowest = append(m.Slowest, slowest(i, r)...)
		m.Conns = append(m.Conns, conns(i, r)...)
		if r.Mirror != nil {
			m.addMirror(i, hists[i], mirrors[i])
		}
	}
	if m.Warnings == nil {
		m.Warnings = []warning{}
	}
	return m, nil
}

// addMirror sets run i's local capture beside its mirror capture and warns
// where they disagree.
func (m *Model) addMirror(i int, local, mirror map[string]*dist) {
	md := mirrorDiff(i, local, mirror)
	m.Mirror = append(m.Mirror, md)
	for _, row := range md.Rows {
		if row.LocalCount == 0 && row.MirrorCount == 0 {
			continue
		}
		if row.LocalCount != row.MirrorCount {
			m.warn(i, "warn", fmt.Sprintf("mirror vs local: %s has %d samples in the mirror capture and %d locally", row.Metric, row.MirrorCount, row.LocalCount))
		}
		if d := row.Delta[0]; row.Local[0] > 0 && math.Abs(float64(d)) > 0.1*float64(row.Local[0]) && math.Abs(float64(d)) > 20e3 {
			m.warn(i, "warn", fmt.Sprintf("mirror vs local: %s p50 differs by %s (%+.0f%%)", row.Metric, fmtDur(d), 100*float64(d)/float64(row.Local[0])))
		}
	}
}

// describeRuns adds each run's description and run-level warnings to m
// and rebuilds its summaries' histograms (local and mirror).
func (m *Model) describeRuns(runs []*Run) (hists, mirrors []map[string]*dist, err error) {
	hists = make([]map[string]*dist, len(runs))
	mirrors = make([]map[string]*dist, len(runs))
	for i, r := range runs {
		m.Runs = append(m.Runs, runInfo(r))
		for _, p := range r.Problems {
			m.warn(i, "warn", p)
		}
		if hists[i], err = dists(r.Summary, filepath.Join(r.Dir, results.SummaryFile)); err != nil {
			return nil, nil, err
		}
		if r.Mirror != nil {
			if mirrors[i], err = dists(r.Mirror, filepath.Join(r.Dir, results.MirrorSummaryFile)); err != nil {
				return nil, nil, err
			}
		}
		m.runWarnings(i, r, hists[i])
		if i > 0 {
			m.machineWarnings(i, runs[0], r)
			if d := scenarioDiff(runs[0].ScenarioYAML, r.ScenarioYAML); d != nil {
				d.Run = i
				m.ScenarioDiffs = append(m.ScenarioDiffs, *d)
			}
		}
	}
	return hists, mirrors, nil
}

func (m *Model) warn(run int, level, text string) {
	m.Warnings = append(m.Warnings, warning{Run: run, Level: level, Text: text})
}

func uniqueLabels(runs []*Run) {
	seen := map[string]int{}
	for _, r := range runs {
		seen[r.Label]++
		if n := seen[r.Label]; n > 1 {
			r.Label = fmt.Sprintf("%s #%d", r.Label, n)
		}
	}
}

func runInfo(r *Run) runMeta {
	clean := filepath.Clean(r.Dir)
	ri := runMeta{
		Label:        r.Label,
		Dir:          filepath.Base(filepath.Dir(clean)) + "/" + filepath.Base(clean),
		Scenario:     r.Scenario.Name,
		Description:  r.Scenario.Description,
		Repetitions:  len(r.Reps),
		ScenarioYAML: r.ScenarioYAML,
		Partial:      r.Summary.Partial,
		Reason:       r.Summary.Reason,
	}
	for _, rep := range r.Reps {
		ri.Events += len(rep.Events)
		ri.AppLines += len(rep.App)
	}
	if e := r.Env; e != nil {
		ri.Start = e.Start.UTC().Format(time.RFC3339)
		if !e.End.IsZero() {
			ri.End = e.End.UTC().Format(time.RFC3339)
			ri.DurationS = math.Round(e.End.Sub(e.Start).Seconds()*10) / 10
		}
		ri.Kernel, ri.CPU, ri.Cores, ri.Mechanism, ri.Modes = e.Kernel, e.CPU, e.Cores, e.Mechanism, e.Modes
		ri.Status, ri.Revision, ri.GoVersion = e.Status, e.Revision, e.GoVersion
		for _, rep := range e.Repetitions {
			for _, p := range rep.Points {
				ri.Points = append(ri.Points, capturePoint{Rep: rep.Repetition, Name: p.Name, Packets: p.Packets, Drops: p.Drops})
			}
			for _, em := range rep.Emulators {
				ri.Emulators = append(ri.Emulators, emulators(rep.Repetition, em.Host, em.Data)...)
			}
		}
	}
	s := r.Summary
	d := s.Decode
	ri.Decode = decodeCount{Packets: s.Capture.Packets, KernelDrops: s.Capture.Drops, Records: d.Records, Decrypted: d.RecordsDecrypted, NoKey: d.RecordsNoKey,
		TCPGaps: d.TCP.Gaps, SeqGaps: d.Gaps.Gaps, Ticks: d.Ticks, Orders: d.Orders, Acks: d.Acks, Unmatched: d.OrdersUnmatched, LastTickOnly: d.OrdersLastTick}
	return ri
}

// dists rebuilds every metric's histogram from a summary and checks the
// summary's percentiles against it.
func dists(s *pipeline.Summary, path string) (map[string]*dist, error) {
	out := map[string]*dist{}
	for _, name := range latency.MetricNames {
		h, err := latency.FromMetric(s.Metrics[name])
		if err != nil {
			return nil, &results.FileError{Path: path, Err: fmt.Errorf("metrics.%s: %w", name, err)}
		}
		out[name] = newDist(h)
	}
	return out, nil
}

func (m *Model) runWarnings(i int, r *Run, hs map[string]*dist) {
	if r.Env != nil && r.Env.Status != "" && r.Env.Status != results.StatusOK {
		m.warn(i, "error", "run status: "+r.Env.Status)
	}
	if r.Summary.Partial {
		m.warn(i, "error", "partial results: "+r.Summary.Reason)
	}
	for _, w := range r.Summary.Warnings {
		m.warn(i, "warn", w)
	}
	if r.Mirror != nil {
		for _, w := range r.Mirror.Warnings {
			m.warn(i, "warn", "mirror capture: "+w)
		}
	}
	if k := r.Summary.Decode.MissingKeys; len(k) > 0 {
		show := k
		if len(show) > 3 {
			show = show[:3]
		}
		m.warn(i, "warn", fmt.Sprintf("no key log entry for %d TLS connections (client randoms %s%s)", len(k), strings.Join(show, ", "), map[bool]string{true: ", …"}[len(k) > 3]))
	}
	for _, name := range latency.MetricNames {
		met := r.Summary.Metrics[name]
		if met.Negative > 0 {
			m.warn(i, "warn", fmt.Sprintf("%s: %d negative samples (down to %s) left out of the histogram: the exchange clock runs ahead of the capture clock", name, met.Negative, fmtDur(met.MinNegNS)))
		}
		if met.Overflow > 0 {
			m.warn(i, "warn", fmt.Sprintf("%s: %d samples above one hour, recorded as one hour", name, met.Overflow))
		}
		d := hs[name]
		got := [5]int64{d.quantile(.5), d.quantile(.9), d.quantile(.99), d.quantile(.999), d.max}
		want := [5]int64{met.P50NS, met.P90NS, met.P99NS, met.P999NS, met.MaxNS}
		if d.count() != met.Count || got != want {
			m.warn(i, "error", fmt.Sprintf("%s: summary.json's numbers (count %d, p50..max %v) disagree with its own histogram (count %d, %v)", name, met.Count, want, d.count(), got))
		}
	}
	for _, em := range m.Runs[i].Emulators {
		if em.Late > 0 || em.Kernel > 0 {
			m.warn(i, "warn", fmt.Sprintf("link emulator %s %s (rep %d): %d frames released late, %d dropped by the kernel before the emulator read them; release error p99 %s",
				em.Host, em.Dir, em.Rep, em.Late, em.Kernel, fmtDur(em.ReleaseP99)))
		}
	}
	for _, p := range m.Runs[i].Points {
		if p.Drops > 0 && r.Summary.Capture.Drops == 0 {
			m.warn(i, "warn", fmt.Sprintf("capture point %s (rep %d): the kernel dropped %d packets", p.Name, p.Rep, p.Drops))
		}
	}
}

func (m *Model) machineWarnings(i int, ref, r *Run) {
	if ref.Env == nil || r.Env == nil {
		return
	}
	var diff []string
	if ref.Env.Kernel != r.Env.Kernel {
		diff = append(diff, "kernel")
	}
	if ref.Env.CPU != r.Env.CPU || ref.Env.Cores != r.Env.Cores {
		diff = append(diff, "CPU")
	}
	if ref.Env.Mechanism != r.Env.Mechanism {
		diff = append(diff, "link mechanism")
	}
	if len(diff) > 0 {
		m.warn(i, "warn", "differs from the reference in "+strings.Join(diff, ", ")+": differences may come from the machine, not the change")
	}
}

func (m *Model) tables(runs []*Run, hists []map[string]*dist) {
	judged := make([]gateRows, len(runs))
	for i := 1; i < len(runs); i++ {
		line, rows := judge(runs[0], runs[i])
		line.Run = i
		m.Gate = append(m.Gate, line)
		judged[i] = rows
	}
	for _, name := range latency.MetricNames {
		t := metricTable{Metric: name}
		for i, r := range runs {
			d := hists[i][name]
			row := tableRow{Run: i, Count: d.count(), Mean: r.Summary.Metrics[name].MeanNS, RepRange: repRange(r.Summary, name)}
			for k, q := range tableQ {
				row.Values[k] = d.quantile(q)
			}
			if i > 0 {
				ref := hists[0][name]
				for k, q := range tableQ {
					dl := difference(ref.quantile(q), row.Values[k])
					judged[i].mark(&dl, name, k)
					row.Deltas = append(row.Deltas, dl)
				}
			}
			t.Rows = append(t.Rows, row)
		}
		m.Table = append(m.Table, t)
	}
}

// repRange is the lowest and highest value of each column over the
// repetitions of s; nil with fewer than two.
func repRange(s *pipeline.Summary, name string) [][2]int64 {
	if len(s.Repetitions) < 2 {
		return nil
	}
	out := make([][2]int64, 5)
	for j, rs := range s.Repetitions {
		mt := rs.Metrics[name]
		v := [5]int64{mt.P50NS, mt.P90NS, mt.P99NS, mt.P999NS, mt.MaxNS}
		for k := range v {
			if j == 0 || v[k] < out[k][0] {
				out[k][0] = v[k]
			}
			if j == 0 || v[k] > out[k][1] {
				out[k][1] = v[k]
			}
		}
	}
	return out
}

// difference is run value b against reference value a.
func difference(a, b int64) delta {
	dl := delta{Abs: b - a}
	if a != 0 {
		dl.Rel = math.Round(float64(b-a)/float64(a)*1e4) / 1e4
	}
	return dl
}

// Nines: points per decade of 1/(1-q), and the deepest decade drawn.
const (
	ninesPerDecade = 12
	ninesMaxX      = 1e6
)

// ninesCurve samples d at x = 1/(1-q) from 1 (q=0) to the deepest quantile
// the sample count supports, then the max at x = count.
func ninesCurve(d *dist) []xy {
	n := d.count()
	if n == 0 {
		return nil
	}
	limit := math.Min(float64(n), ninesMaxX)
	var out []xy
	for k := 0; ; k++ {
		x := math.Pow(10, float64(k)/ninesPerDecade)
		if x > limit*(1+1e-9) {
			break
		}
		q := 1 - 1/x
		out = append(out, xy{X: round4(x), V: d.quantile(q)})
	}
	if last := out[len(out)-1]; last.X < float64(n) || last.V != d.max {
		out = append(out, xy{X: round4(math.Max(float64(n), last.X*1.01)), V: d.max})
	}
	return out
}

// cdfCurve returns at most cdfPoints points of the empirical CDF, denser
// where the distribution moves.
func cdfCurve(d *dist) []xy {
	n := d.count()
	if n == 0 {
		return nil
	}
	const cdfPoints = 100
	step := int(math.Ceil(float64(len(d.vals)) / cdfPoints))
	if step < 1 {
		step = 1
	}
	var out []xy
	for i := 0; i < len(d.vals); i += step {
		out = append(out, xy{X: round4(float64(d.cum[i]) / float64(n)), V: d.vals[i]})
	}
	if last := len(d.vals) - 1; len(out) == 0 || out[len(out)-1].V != d.vals[last] {
		out = append(out, xy{X: 1, V: d.vals[last]})
	}
	return out
}

func round4(x float64) float64 {
	if x == 0 {
		return 0
	}
	p := math.Pow(10, 4-math.Ceil(math.Log10(math.Abs(x))))
	return math.Round(x*p) / p
}

// histBins is the number of log-spaced histogram bins per metric.
const histBins = 40

func binEdges(ds []*dist) []int64 {
	lo, hi := int64(math.MaxInt64), int64(0)
	for _, d := range ds {
		if d.count() == 0 {
			continue
		}
		lo = min(lo, max(d.min, 1))
		hi = max(hi, d.max)
	}
	if hi == 0 {
		return nil
	}
	if hi <= lo {
		hi = lo + 1
	}
	l, h := math.Log(float64(lo)), math.Log(float64(hi)+1)
	edges := make([]int64, histBins+1)
	for i := range edges {
		edges[i] = int64(math.Round(math.Exp(l + (h-l)*float64(i)/histBins)))
	}
	edges[0], edges[histBins] = lo, hi+1
	return edges
}

func histogram(d *dist, edges []int64) []float64 {
	n := d.count()
	if n == 0 || len(edges) < 2 {
		return nil
	}
	out := make([]float64, len(edges)-1)
	var prev int64
	for i, v := range d.vals {
		c := d.cum[i] - prev
		prev = d.cum[i]
		b := sort.Search(len(edges), func(j int) bool { return edges[j] > v }) - 1
		b = max(0, min(b, len(out)-1))
		out[b] += float64(c)
	}
	for i := range out {
		out[i] = round4(out[i] / float64(n))
	}
	return out
}

func (m *Model) plots(runs []*Run, hists, mirrors []map[string]*dist) {
	for _, name := range latency.MetricNames {
		p := metricPlot{Metric: name}
		var all []*dist
		type src struct {
			name string
			run  int
			d    *dist
		}
		var srcs []src
		for i, r := range runs {
			srcs = append(srcs, src{r.Label, i, hists[i][name]})
			if mirrors[i] != nil {
				srcs = append(srcs, src{r.Label + " (mirror)", i, mirrors[i][name]})
			}
		}
		for _, s := range srcs {
			all = append(all, s.d)
		}
		p.Bins = binEdges(all)
		for _, s := range srcs {
			if s.d.count() == 0 {
				continue
			}
			p.Series = append(p.Series, series{Name: s.name, Run: s.run, Count: s.d.count(), Nines: ninesCurve(s.d), CDF: cdfCurve(s.d), Hist: histogram(s.d, p.Bins)})
		}
		m.Metrics = append(m.Metrics, p)
	}
}

func (m *Model) groups(runs []*Run) error {
	kinds := map[string]bool{}
	for _, r := range runs {
		for k := range r.Summary.Groups {
			kinds[k] = true
		}
	}
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, kind := range ks {
		most := 0
		for _, r := range runs {
			most = max(most, len(r.Summary.Groups[kind]))
		}
		if most < 2 {
			continue // one member per run: the breakdown repeats the totals
		}
		for _, metric := range latency.MetricNames {
			g := group{Kind: kind, Metric: metric}
			for i, r := range runs {
				byName := r.Summary.Groups[kind]
				names := make([]string, 0, len(byName))
				for n := range byName {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					met := byName[n][metric]
					if met.Count == 0 {
						continue
					}
					h, err := latency.FromMetric(met)
					if err != nil {
						return &results.FileError{Path: filepath.Join(r.Dir, results.SummaryFile), Err: fmt.Errorf("groups.%s.%s.%s: %w", kind, n, metric, err)}
					}
					d := newDist(h)
					g.Rows = append(g.Rows, groupRow{Run: i, Name: n, Count: d.count(), Values: [5]int64{d.quantile(.5), d.quantile(.9), d.quantile(.99), d.quantile(.999), d.max}})
					if len(g.Series) < maxGroupSeries {
						label := n
						if len(runs) > 1 {
							label = r.Label + " · " + n
						}
						g.Series = append(g.Series, series{Name: label, Run: i, Count: d.count(), Nines: ninesCurve(d)})
					}
				}
			}
			if len(g.Rows) > 0 {
				m.Groups = append(m.Groups, g)
			}
		}
	}
	return nil
}

// sameWireWarnings flags many messages stamped with one wire time: they
// were released together (data held behind a gap, flushed at the end), so
// their latencies measure the monitor, not the network.
func (m *Model) sameWireWarnings(i int, r *Run) {
	for _, rep := range r.Reps {
		count := map[int64]int{}
		var worst int64
		ticks := 0
		for k := range rep.Events {
			ev := &rep.Events[k]
			if ev.Kind != profile.Tick || ev.WireNS == 0 {
				continue
			}
			ticks++
			count[ev.WireNS]++
			if count[ev.WireNS] > count[worst] {
				worst = ev.WireNS
			}
		}
		if n := count[worst]; n >= 20 && n*20 >= ticks {
			m.warn(i, "warn", fmt.Sprintf("rep %d: %d of %d ticks carry the same wire time (%d): they were released together, after a gap or at the end of the capture, and their latencies are the monitor's delay", rep.N, n, ticks, worst))
		}
	}
}

// eventSample returns the metric and latency an event carries, if any.
func eventSample(ev *event.Event) (string, int64, bool) {
	switch {
	case ev.Kind == profile.Tick && ev.HasExch:
		return latency.FeedLatency, ev.FeedLatencyNS, true
	case ev.Kind == profile.Order && ev.Match != event.MatchNone:
		return latency.TickToTrade, ev.TickToTradeNS, true
	case ev.Kind == profile.Ack && ev.HasOrder:
		return latency.OrderToAck, ev.OrderToAckNS, true
	}
	return "", 0, false
}

// timeline buckets every repetition's events by wire time; repetitions are
// laid end to end.
func timeline(i int, r *Run) runTimeline {
	t := runTimeline{Run: i, BucketMS: int(bucketNS / int64(time.Millisecond))}
	per := map[string]map[int64][]int64{}
	var offset int64 // in buckets
	for ri, rep := range r.Reps {
		first, last := int64(math.MaxInt64), int64(math.MinInt64)
		for k := range rep.Events {
			if w := rep.Events[k].WireNS; w > 0 {
				first, last = min(first, w), max(last, w)
			}
		}
		if first > last {
			continue
		}
		if ri > 0 && offset > 0 {
			t.RepMarks = append(t.RepMarks, float64(offset)*float64(bucketNS)/1e9)
		}
		for k := range rep.Events {
			ev := &rep.Events[k]
			name, v, ok := eventSample(ev)
			if !ok || ev.WireNS <= 0 {
				continue
			}
			b := offset + (ev.WireNS-first)/bucketNS
			if per[name] == nil {
				per[name] = map[int64][]int64{}
			}
			per[name][b] = append(per[name][b], v)
		}
		offset += (last-first)/bucketNS + 2 // one empty bucket between repetitions
	}
	if offset > 0 {
		t.SpanS = float64(offset-1) * float64(bucketNS) / 1e9
	}
	for _, name := range latency.MetricNames {
		bs := per[name]
		if len(bs) == 0 {
			continue
		}
		keys := make([]int64, 0, len(bs))
		for k := range bs {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(a, b int) bool { return keys[a] < keys[b] })
		tm := timelineMetric{Metric: name}
		for _, k := range keys {
			vs := bs[k]
			d := distOf(vs)
			tm.Buckets = append(tm.Buckets, bucket{T: round4(float64(k) * float64(bucketNS) / 1e9), N: len(vs), P50: d.quantile(.5), P99: d.quantile(.99), Max: d.max})
		}
		t.Metrics = append(t.Metrics, tm)
	}
	return t
}

// Split parts, in order along the path of a trade.
var splitParts = []struct{ name, desc string }{
	{"network_in", "tick on the wire → trader read it (app recv − tick wire)"},
	{"decision", "strategy (app decide − recv)"},
	{"send", "order queued and written (app written − decide)"},
	{"network_out", "written → order on the wire (order wire − app written)"},
	{"tick_to_trade", "the sum: order wire − tick wire, for the joined orders"},
}

type tickKey struct {
	conn, symbol string
	seq          uint64
}

// split joins the traders' timestamps with the captured events of each
// repetition: orders by order id, ticks by (conn, symbol, seq).
func split(i int, r *Run) tradeSplit {
	sp := tradeSplit{Run: i}
	vals := make([][]int64, len(splitParts))
	for _, rep := range r.Reps {
		ticks := map[tickKey]int64{}
		orders := map[string]*event.Event{}
		for k := range rep.Events {
			ev := &rep.Events[k]
			switch ev.Kind {
			case profile.Tick:
				key := tickKey{string(ev.Conn), string(ev.Symbol), ev.Seq}
				if _, dup := ticks[key]; !dup {
					ticks[key] = ev.WireNS
				}
			case profile.Order:
				if len(ev.OrderID) > 0 {
					if _, dup := orders[string(ev.OrderID)]; !dup {
						orders[string(ev.OrderID)] = ev
					}
				}
			}
		}
		for k := range rep.App {
			a := &rep.App[k]
			if a.Kind != stamp.Order {
				continue
			}
			if a.WroteNS == 0 {
				sp.Failed++
				continue
			}
			sp.AppOrders++
			oe, okO := orders[string(a.OrderID)]
			tw, okT := ticks[tickKey{a.TickConn, a.Symbol, a.TickSeq}]
			if !okT && okO && oe.Match == event.MatchExplicit && string(oe.TickConn) == a.TickConn && oe.TickSeq == a.TickSeq && oe.TickWireNS > 0 {
				tw, okT = oe.TickWireNS, true
			}
			if !okO {
				sp.NoOrderEvent++
			}
			if !okT {
				sp.NoTickEvent++
			}
			if !okO || !okT {
				continue
			}
			sp.Joined++
			vals[0] = append(vals[0], a.RecvNS-tw)
			vals[1] = append(vals[1], a.DecideNS-a.RecvNS)
			vals[2] = append(vals[2], a.WroteNS-a.DecideNS)
			vals[3] = append(vals[3], oe.WireNS-a.WroteNS)
			vals[4] = append(vals[4], oe.WireNS-tw)
		}
	}
	for k, p := range splitParts {
		part := splitPart{Name: p.name, Desc: p.desc, Count: len(vals[k])}
		if len(vals[k]) > 0 {
			d := distOf(vals[k])
			var sum float64
			for _, v := range vals[k] {
				sum += float64(v)
				if v < 0 {
					part.Negative++
				}
			}
			part.Mean = int64(math.Round(sum / float64(len(vals[k]))))
			part.Values = [5]int64{d.quantile(.5), d.quantile(.9), d.quantile(.99), d.quantile(.999), d.max}
			part.Nines = ninesCurve(d)
		}
		sp.Parts = append(sp.Parts, part)
	}
	return sp
}

// slowest lists the slowest samples of each metric over all repetitions.
func slowest(i int, r *Run) []slowSample {
	var out []slowSample
	for _, name := range latency.MetricNames {
		var top []slowSample
		for _, rep := range r.Reps {
			var first int64 = math.MaxInt64
			for k := range rep.Events {
				if w := rep.Events[k].WireNS; w > 0 && w < first {
					first = w
				}
			}
			for k := range rep.Events {
				ev := &rep.Events[k]
				mn, v, ok := eventSample(ev)
				if !ok || mn != name {
					continue
				}
				if len(top) == slowestN && v <= top[slowestN-1].ValueNS {
					continue
				}
				s := slowSample{Run: i, Rep: rep.N, Metric: name, ValueNS: v, WireNS: ev.WireNS, AtS: round4(float64(ev.WireNS-first) / 1e9),
					Conn: string(ev.Conn), Symbol: string(ev.Symbol), OrderID: string(ev.OrderID)}
				if ev.Kind == profile.Tick {
					s.Seq = ev.Seq
				}
				top = append(top, s)
				sort.SliceStable(top, func(a, b int) bool { return top[a].ValueNS > top[b].ValueNS })
				if len(top) > slowestN {
					top = top[:slowestN]
				}
			}
		}
		out = append(out, top...)
	}
	return out
}

func conns(i int, r *Run) []connRow {
	var out []connRow
	for _, rep := range r.Reps {
		if rep.Summary == nil {
			continue
		}
		for _, c := range rep.Summary.Connections {
			cn := connRow{Run: i, Rep: rep.N, Conn: c.Conn, App: c.App, Profile: c.Profile, Bytes: c.Bytes, GapBytes: c.GapBytes,
				WSMessages: c.WSMessages, Ticks: c.Ticks, Orders: c.Orders, Acks: c.Acks, Errors: c.Errors}
			if t := c.TLS; t != nil {
				cn.TLS = strings.TrimSpace("TLS " + t.Version + " " + t.Suite)
				cn.SNI, cn.ALPN, cn.Decrypted, cn.NoKey = t.SNI, t.ALPN, t.Decrypted, t.NoKey
			}
			out = append(out, cn)
		}
	}
	return out
}

func mirrorDiff(i int, local, mirror map[string]*dist) mirrorTable {
	md := mirrorTable{Run: i}
	for _, name := range latency.MetricNames {
		l, mi := local[name], mirror[name]
		row := mirrorRow{Metric: name, LocalCount: l.count(), MirrorCount: mi.count()}
		for k, q := range tableQ {
			row.Local[k], row.Mirror[k] = l.quantile(q), mi.quantile(q)
			row.Delta[k] = row.Mirror[k] - row.Local[k]
		}
		md.Rows = append(md.Rows, row)
	}
	return md
}

// scenarioDiff compares resolved scenarios line by line (comments and
// blank lines ignored); nil when they are the same.
func scenarioDiff(ref, run string) *scenarioChange {
	if ref == "" || run == "" {
		return nil
	}
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
				m[strings.TrimRight(l, " \t\r")]++
			}
		}
		return m
	}
	a, b := count(ref), count(run)
	d := &scenarioChange{}
	const maxLines = 40
	for _, l := range strings.Split(ref, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if a[l] > b[l] && len(d.Removed) < maxLines {
			d.Removed = append(d.Removed, l)
			a[l]--
		}
	}
	a = count(ref)
	for _, l := range strings.Split(run, "\n") {
		l = strings.TrimRight(l, " \t\r")
		if b[l] > a[l] && len(d.Added) < maxLines {
			d.Added = append(d.Added, l)
			b[l]--
		}
	}
	if len(d.Removed) == 0 && len(d.Added) == 0 {
		return nil
	}
	return d
}

// fmtDur formats nanoseconds for people as units.FormatNS does (812ns,
// 35.2µs, 4.21ms, 1.50s), with the page's typographic minus: −35.2µs.
func fmtDur(ns int64) string {
	if ns < 0 {
		return "−" + units.FormatNS(-float64(ns))
	}
	return units.FormatNS(float64(ns))
}

// emulators reads a link emulator's stats JSON (results.EmulatorStats); a
// missing or unreadable record gives nothing.
func emulators(rep int, host string, data json.RawMessage) []emulator {
	if len(data) == 0 {
		return nil
	}
	var st results.EmulatorStats
	if json.Unmarshal(data, &st) != nil {
		return nil
	}
	var out []emulator
	for _, d := range []struct {
		name string
		s    results.EmulatorDirStats
	}{{"a2b", st.AtoB}, {"b2a", st.BtoA}} {
		s := d.s
		if s.Received == 0 && s.Params == "" {
			continue
		}
		out = append(out, emulator{Rep: rep, Host: host, Dir: d.name, Params: s.Params, Forwarded: s.Forwarded,
			Dropped: s.DroppedLoss + s.DroppedQueue + s.DroppedOversize + s.SendErrors, Late: s.Late, Kernel: s.KernelDrops,
			ReleaseP50: s.ReleaseError.P50Ns, ReleaseP99: s.ReleaseError.P99Ns, ReleaseMax: s.ReleaseError.MaxNs})
	}
	return out
}
