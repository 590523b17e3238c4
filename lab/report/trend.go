package report

import (
	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// metricOrder is the display order of the three metrics.
var metricOrder = latency.MetricNames

// TrendFrom turns history points (oldest first) into the report's trend
// section; current says which point is the run the report is about.
func TrendFrom(scenario string, pts []history.Point, current func(history.Point) bool) *Trend {
	if len(pts) == 0 {
		return nil
	}
	t := &Trend{Scenario: scenario}
	var prev *trendPoint
	for _, p := range pts {
		tp := trendPoint{Start: p.Start.UTC().Format("2006-01-02 15:04:05"), Revision: shortRev(p.Revision), Status: p.Status, Partial: p.Partial,
			Current: current != nil && current(p),
			P50:     map[string]int64{}, P99: map[string]int64{}, Delta: map[string]float64{}}
		for _, name := range metricOrder {
			m := p.Metrics[name]
			tp.P50[name], tp.P99[name] = m.P50NS, m.P99NS
			if prev != nil && prev.P50[name] > 0 && m.P50NS > 0 {
				tp.Delta[name] = float64(m.P50NS-prev.P50[name]) / float64(prev.P50[name])
			}
		}
		t.Points = append(t.Points, tp)
		prev = &t.Points[len(t.Points)-1]
	}
	return t
}

func shortRev(r string) string {
	if len(r) > 12 {
		return r[:12]
	}
	return r
}
