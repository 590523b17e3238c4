package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/history"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

func TestTrend(t *testing.T) {
	mk := func(start int64, p50 int64, rev string) history.Point {
		return history.Point{Dir: rev, Start: time.Unix(start, 0), Revision: rev, Status: "ok",
			Metrics: map[string]latency.Metric{latency.FeedLatency: {P50NS: p50, P99NS: 2 * p50}}}
	}
	pts := []history.Point{mk(100, 20000, "aaaa"), mk(200, 30000, `</td><script>alert(1)</script>`)}
	tr := TrendFrom("quick", pts, func(p history.Point) bool { return p.Dir == "aaaa" })
	if len(tr.Points) != 2 || !tr.Points[0].Current || tr.Points[1].Current {
		t.Fatalf("points %+v", tr.Points)
	}
	if d := tr.Points[1].Delta[latency.FeedLatency]; d < 0.49 || d > 0.51 {
		t.Fatalf("delta %v, want +50%%", d)
	}
	m := &Model{Title: "t", Trend: tr}
	var b bytes.Buffer
	if err := render(&b, m); err != nil {
		t.Fatal(err)
	}
	page := b.String()
	if !strings.Contains(page, `id="trend"`) || strings.Contains(page, "<script>alert(1)") {
		t.Fatal("trend section missing or revision not escaped")
	}
	if TrendFrom("x", nil, nil) != nil {
		t.Fatal("no points must mean no section")
	}
}
