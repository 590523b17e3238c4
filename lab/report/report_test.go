package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"html"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

var update = flag.Bool("update", false, "rewrite the golden files of failing cases")

func fixture(t testing.TB, name string) *Run {
	t.Helper()
	r, err := Load(filepath.Join("testdata", "runs", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// goldenJSON encodes the model indented, with each point, bucket and row
// of numbers on one line so that diffs stay readable.
func goldenJSON(t *testing.T, m *Model) []byte {
	t.Helper()
	b, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	leaf := regexp.MustCompile(`\{\n\s+("[a-z_0-9]+": [^{}\[\]\n]+,?\n\s+)+\}|\[\n(\s+-?[0-9.e+-]+,?\n)+\s+\]|\[\n(\s+\[[^\[\]\n]+\],?\n){1,16}\s+\]`)
	b = leaf.ReplaceAllFunc(b, func(s []byte) []byte {
		f := strings.Fields(string(s))
		return []byte(strings.Replace(strings.Join(f, " "), "{ ", "{", 1))
	})
	return append(b, '\n')
}

func TestGoldenModels(t *testing.T) {
	cases := []struct {
		name   string
		runs   []string
		labels []string
	}{
		{"report-quick", []string{"quick"}, nil},
		{"report-mirror", []string{"mirror"}, nil},
		{"report-ci", []string{"ci"}, nil},
		{"report-hostile", []string{"hostile"}, nil},
		{"compare", []string{"ci", "feeds"}, []string{"ci (reference)", "three feeds"}},
		{"compare-reps", []string{"ci", "ci-slow"}, []string{"300us link", "2ms link"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var runs []*Run
			for _, n := range c.runs {
				runs = append(runs, fixture(t, n))
			}
			m, err := Build(runs, Options{Labels: c.labels})
			if err != nil {
				t.Fatal(err)
			}
			got := goldenJSON(t, m)
			path := filepath.Join("testdata", c.name+".golden")
			want, err := os.ReadFile(path)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				t.Fatal(err)
			}
			if bytes.Equal(got, want) {
				return
			}
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", path)
				return
			}
			t.Errorf("model differs from %s (run with -update to accept):\n%s", path, firstDiff(want, got))
		})
	}
}

func firstDiff(a, b []byte) string {
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < len(al) || i < len(bl); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return "line " + strconv.Itoa(i+1) + ":\n- " + x + "\n+ " + y
		}
	}
	return "(same lines, different bytes)"
}

// The quantiles computed from the histogram's buckets are HdrHistogram's own.
func TestDistQuantileMatchesHDR(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 7, 100, 5000} {
		h := latency.NewHistogram()
		for i := 0; i < n; i++ {
			h.Record(int64(math.Exp(rng.NormFloat64()*1.5 + 11)))
		}
		d := newDist(h)
		if d.count() != int64(n) {
			t.Fatalf("n=%d: count %d", n, d.count())
		}
		for _, q := range []float64{0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 0.9999} {
			if got, want := d.quantile(q), h.Quantile(q); got != want {
				t.Errorf("n=%d q=%g: %d, HDR says %d", n, q, got, want)
			}
		}
		if d.quantile(1) != h.HDR().Max() {
			t.Errorf("n=%d: max %d, HDR %d", n, d.quantile(1), h.HDR().Max())
		}
	}
}

func TestDistOfSamples(t *testing.T) {
	d := distOf([]int64{5, -3, 5, 10, 1})
	if d.count() != 5 || d.min != -3 || d.max != 10 {
		t.Fatalf("count %d min %d max %d", d.count(), d.min, d.max)
	}
	for q, want := range map[float64]int64{0: -3, 0.2: -3, 0.5: 5, 0.8: 5, 1: 10} {
		if got := d.quantile(q); got != want {
			t.Errorf("q=%g: %d, want %d", q, got, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	good := filepath.Join("testdata", "runs", "quick")
	cases := []struct {
		name  string
		edit  func(dir string)
		err   string // substring of the error, "" for success
		probs string // substring of a recorded problem
	}{
		{"missing summary", func(d string) { os.Remove(filepath.Join(d, "summary.json")) }, "summary.json: not a cloudpcap run folder: the file is missing", ""},
		{"bad summary", func(d string) { os.WriteFile(filepath.Join(d, "summary.json"), []byte(`{"metrics": [`), 0o644) }, "summary.json:1:14: corrupt JSON: unexpected end of JSON input", ""},
		{"bad hdr", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "summary.json"))
			b = regexp.MustCompile(`"hdr":"[^"]+"`).ReplaceAll(b, []byte(`"hdr":"bm90IGFuIGhkcg=="`))
			os.WriteFile(filepath.Join(d, "summary.json"), b, 0o644)
		}, "metrics.feed_latency: latency: decoding hdr", ""},
		{"bad env", func(d string) { os.WriteFile(filepath.Join(d, "env.json"), []byte(`{"start": 3}`), 0o644) }, "env.json: corrupt JSON", ""},
		{"missing env", func(d string) { os.Remove(filepath.Join(d, "env.json")) }, "", "env.json is missing"},
		{"torn events", func(d string) {
			f, _ := os.OpenFile(filepath.Join(d, "events.jsonl"), os.O_APPEND|os.O_WRONLY, 0)
			f.WriteString(`{"kind":"tick","conn":"a-b","wire_`)
			f.Close()
		}, "", "events.jsonl:101: skipped a malformed line"},
		{"no events", func(d string) { os.Remove(filepath.Join(d, "events.jsonl")) }, "", "events.jsonl is missing"},
		{"torn app", func(d string) {
			os.WriteFile(filepath.Join(d, "app", "t1.jsonl"), []byte("{\"kind\":\"order\"\n\n{}\n"), 0o644)
		}, "", "app/t1.jsonl:1: skipped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyDir(t, good)
			c.edit(dir)
			r, err := Load(dir)
			if err == nil {
				_, err = Build([]*Run{r}, Options{})
			}
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one containing %q", err, c.err)
				}
				var e *results.FileError
				if !errors.As(err, &e) || e.Path == "" {
					t.Errorf("error %v is not a *results.FileError naming the file", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(r.Problems, "\n"), c.probs) {
				t.Errorf("problems %q, want one containing %q", r.Problems, c.probs)
			}
		})
	}
}

func copyDir(t testing.TB, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func renderString(t testing.TB, runs ...*Run) string {
	t.Helper()
	m, err := Build(runs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := render(&buf, m); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// hostileLabel names the hostile run: labels reach the chart data block.
const hostileLabel = `run</script><script>alert(9)</script><!--`

// Strings from captures reach the page only escaped: in text, in
// attributes and in the JSON block the script reads.
func TestHostileStringsEscaped(t *testing.T) {
	m, err := Build([]*Run{fixture(t, "hostile")}, Options{Labels: []string{hostileLabel}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := render(&buf, m); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	planted := []string{
		"BTC</script><img src=x onerror=alert(1)>",
		`ETH"><svg onload=alert(2)>`,
		`t1-'"><img src=x onerror=alert(3)>-`,
		`:8443</td><script>alert(4)</script>`,
		`</title><script>alert(5)</script>`,
		`<img src=x onerror=alert(6)>`,
		`</pre><script>alert(8)</script>`,
		hostileLabel,
	}
	for _, s := range planted {
		if strings.Contains(page, s) {
			t.Errorf("the page contains %q unescaped", s)
		}
	}
	for _, raw := range []string{"<img", "<svg onload", "<script>alert", "</title><", "</td><script"} {
		if strings.Contains(page, raw) {
			i := strings.Index(page, raw)
			t.Errorf("the page contains %q: …%s…", raw, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	for _, s := range planted[:6] {
		if !strings.Contains(page, html.EscapeString(s)) && !strings.Contains(page, strings.ReplaceAll(html.EscapeString(s), "&#34;", "&quot;")) {
			t.Errorf("the page does not show %q (escaped)", s)
		}
	}
	if n := strings.Count(page, "<script"); n != 2 {
		t.Errorf("%d <script elements, want 2 (the data block and ours)", n)
	}
	// The JSON block must parse back to the planted names.
	a := strings.Index(page, `<script type="application/json" id="chart-data">`)
	b := strings.Index(page[a:], "</script>")
	var data map[string][]hoverSeries
	blob := page[a+len(`<script type="application/json" id="chart-data">`) : a+b]
	if err := json.Unmarshal([]byte(blob), &data); err != nil {
		t.Fatalf("chart data block: %v", err)
	}
	found := false
	for _, hs := range data {
		for _, s := range hs {
			if s.Name == hostileLabel {
				found = true
			}
		}
	}
	if !found {
		t.Errorf("no chart series carries the planted run label %q through the JSON block", hostileLabel)
	}
}

// The page fetches nothing: no URL outside the SVG namespace, a CSP that
// forbids every source but our own script.
func TestPageOffline(t *testing.T) {
	page := renderString(t, fixture(t, "quick"), fixture(t, "mirror"))
	for _, u := range regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^"' )<]*`).FindAllString(page, -1) {
		if u != "http://www.w3.org/2000/svg" {
			t.Errorf("the page names %q", u)
		}
	}
	for _, attr := range []string{` src=`, `@import`, `url(`, `<link`} {
		if strings.Contains(page, attr) {
			t.Errorf("the page contains %q", attr)
		}
	}
	if u := html.UnescapeString(page); !strings.Contains(u, "default-src 'none'") || !strings.Contains(u, "script-src 'sha256-") {
		t.Error("no Content-Security-Policy locking the page down")
	}
}

func TestMirrorDiff(t *testing.T) {
	m, err := Build([]*Run{fixture(t, "mirror")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Mirror) != 1 || len(m.Mirror[0].Rows) != 3 {
		t.Fatalf("mirror diff: %+v", m.Mirror)
	}
	for _, r := range m.Mirror[0].Rows {
		for k := range r.Delta {
			if r.Delta[k] != r.Mirror[k]-r.Local[k] {
				t.Errorf("%s col %d: delta %d != %d-%d", r.Metric, k, r.Delta[k], r.Mirror[k], r.Local[k])
			}
		}
	}
	// Each metric is drawn for both captures.
	if n := len(m.Metrics[0].Series); n != 2 {
		t.Errorf("%d feed latency series, want local and mirror", n)
	}
}
