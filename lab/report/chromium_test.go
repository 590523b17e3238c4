package report

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chartInfo is what the browser measured of one chart.
type chartInfo struct {
	ID     string  `json:"id"`
	Kind   string  `json:"kind"`
	W      float64 `json:"w"`
	H      float64 `json:"h"`
	Series int     `json:"series"`
	Drawn  int     `json:"drawn"` // series with a path of non-zero length or a bar of non-zero size
}

const measureJS = `Array.from(document.querySelectorAll("svg[data-chart]")).map(function (s) {
  var r = s.getBoundingClientRect();
  var gs = Array.from(s.querySelectorAll("g.s"));
  var drawn = gs.filter(function (g) {
    var p = g.querySelector("path");
    if (p && p.getTotalLength() > 0) return true;
    return Array.from(g.querySelectorAll("rect")).some(function (x) { var b = x.getBBox(); return b.width > 0 && b.height > 0; });
  }).length;
  return {id: s.id, kind: s.getAttribute("data-chart"), w: r.width, h: r.height, series: gs.length, drawn: drawn};
})`

// expectedSeries derives, from the model, how many series each chart
// must show.
func expectedSeries(m *Model) map[string]int {
	want := map[string]int{}
	for _, p := range m.Metrics {
		if len(p.Series) > 0 {
			want["nines-"+p.Metric] = len(p.Series)
			want["cdf-"+p.Metric] = len(p.Series)
			want["hist-"+p.Metric] = len(p.Series)
		}
	}
	for _, t := range m.Timelines {
		for _, tm := range t.Metrics {
			want[fmt.Sprintf("time-%d-%s", t.Run, tm.Metric)] = 3
		}
	}
	joined := false
	for _, s := range m.Splits {
		if s.Joined > 0 {
			want[fmt.Sprintf("split-%d", s.Run)] = len(s.Parts)
			joined = true
		}
	}
	if joined {
		want["split-medians"] = 4
	}
	for i, g := range m.Groups {
		if len(g.Series) > 0 {
			want[fmt.Sprintf("group-%d", i)] = len(g.Series)
		}
	}
	return want
}

// artifactDir is where screenshots go: $ARTIFACTS_DIR under CI, else a
// temporary folder named in the log.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("ARTIFACTS_DIR"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

func TestIntegrationChromiumPages(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test")
	}
	chromiumPath(t)
	out := t.TempDir()
	shots := artifactDir(t)
	pages := []struct {
		name    string
		runs    []string
		hostile bool
	}{
		{"report", []string{"quick"}, false},
		{"compare", []string{"quick", "feeds", "ci", "mirror"}, false},
		{"hostile", []string{"hostile"}, true},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	b := startBrowser(t, ctx)
	for _, pg := range pages {
		t.Run(pg.name, func(t *testing.T) {
			var runs []*Run
			for _, n := range pg.runs {
				r, err := Load(filepath.Join("testdata", "runs", n))
				if err != nil {
					t.Fatal(err)
				}
				runs = append(runs, r)
			}
			var o Options
			if pg.hostile {
				o.Labels = []string{hostileLabel}
			}
			m, err := Build(runs, o)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(out, pg.name+".html")
			if err := WriteFile(path, m); err != nil {
				t.Fatal(err)
			}
			before := len(b.problems())
			b.navigate(t, "file://"+path)
			deadline := time.Now().Add(10 * time.Second)
			for {
				var ready bool
				b.eval(t, `document.body.getAttribute("data-ready") === "1"`, &ready)
				if ready {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the page script never finished (body[data-ready] not set)")
				}
				time.Sleep(20 * time.Millisecond) // polling the page, not synchronising goroutines
			}
			var charts []chartInfo
			b.eval(t, measureJS, &charts)
			want := expectedSeries(m)
			got := map[string]chartInfo{}
			for _, c := range charts {
				got[c.ID] = c
				if c.W <= 0 || c.H <= 0 {
					t.Errorf("chart %s (%s) has size %gx%g", c.ID, c.Kind, c.W, c.H)
				}
			}
			if len(charts) != len(want) {
				t.Errorf("%d charts on the page, the model calls for %d", len(charts), len(want))
			}
			for id, n := range want {
				c, ok := got[id]
				switch {
				case !ok:
					t.Errorf("chart %s missing", id)
				case c.Series != n:
					t.Errorf("chart %s: %d series, want %d", id, c.Series, n)
				case c.Drawn == 0:
					t.Errorf("chart %s: no series drawn", id)
				}
			}
			// Hover: the pointer over the first percentile chart shows a value.
			var at struct{ X, Y float64 }
			b.eval(t, `(function(){
  var s = document.querySelector("svg[data-chart=nines]"); s.scrollIntoView({block: "center"});
  var d = JSON.parse(document.getElementById("chart-data").textContent)[s.id][0].p;
  var q = d[Math.floor(d.length / 2)], pt = s.createSVGPoint(); pt.x = q[0]; pt.y = q[1];
  var c = pt.matrixTransform(s.getScreenCTM()); return {X: c.x, Y: c.y};
})()`, &at)
			b.call(t, b.session, "Input.dispatchMouseEvent", map[string]any{"type": "mouseMoved", "x": at.X, "y": at.Y}, nil)
			var tip struct {
				Hidden bool
				Text   string
			}
			b.eval(t, `(function(){var e=document.getElementById("tip");return {Hidden:e.hidden,Text:e.textContent}})()`, &tip)
			if tip.Hidden || !strings.Contains(tip.Text, ": p") {
				t.Errorf("hovering a percentile chart: tip hidden=%v text %q", tip.Hidden, tip.Text)
			}
			if pg.hostile {
				var planted int
				b.eval(t, `document.querySelectorAll("[onerror],[onload],img,iframe,object,embed").length + document.scripts.length - 2`, &planted)
				if planted != 0 {
					t.Errorf("hostile strings became %d elements or scripts", planted)
				}
				var text string
				b.eval(t, `document.body.innerText`, &text)
				for _, s := range []string{"BTC</script><img src=x onerror=alert(1)>", `:8443</td><script>alert(4)</script>`, "</title><script>alert(5)</script>", "<img src=x onerror=alert(6)>", hostileLabel} {
					if !strings.Contains(text, s) {
						t.Errorf("the page does not show %q as text", s)
					}
				}
			}
			for _, p := range b.problems()[before:] {
				t.Errorf("browser: %s", p)
			}
			shot := filepath.Join(shots, "report-"+pg.name+".png")
			b.screenshot(t, shot)
			t.Logf("%s: %d charts, screenshot %s", pg.name, len(charts), shot)
		})
	}
}
