package history

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// The run folders in testdata/runs are written by testdata/gen (go run
// ./lab/history/testdata/gen).
var fixtures = []string{"base", "aa", "slow", "partial", "quick"}

func fixture(name string) string { return filepath.Join("testdata", "runs", name) }

func openTemp(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "history.db")
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

func count(t *testing.T, db *DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.sql.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestIndexAndTrend(t *testing.T) {
	db, _ := openTemp(t)
	for _, f := range fixtures {
		if err := db.Index(fixture(f)); err != nil {
			t.Fatal(err)
		}
	}
	pts, err := Trend(db, "ci", 10)
	if err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, p := range pts {
		dirs = append(dirs, filepath.Base(p.Dir))
	}
	if got, want := strings.Join(dirs, ","), "base,aa,slow,partial"; got != want {
		t.Fatalf("trend runs = %s, want %s (oldest first, quick is another scenario)", got, want)
	}
	if pts[0].Revision != "1111111111111111111111111111111111111111" || pts[0].RevisionSource != "env.json" {
		t.Errorf("base revision = %q from %q", pts[0].Revision, pts[0].RevisionSource)
	}
	if pts[3].RevisionSource == "env.json" || !pts[3].Partial || pts[3].Status == "ok" {
		t.Errorf("partial run: revision source %q partial %v status %q", pts[3].RevisionSource, pts[3].Partial, pts[3].Status)
	}
	if pts[0].Mechanism != "linkemu" || pts[0].Repetitions != 5 {
		t.Errorf("base: mechanism %q repetitions %d", pts[0].Mechanism, pts[0].Repetitions)
	}
	// The stored histograms recompute the stored quantiles exactly.
	run, err := ReadRun(fixture("slow"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range latency.MetricNames {
		m := pts[2].Metrics[name]
		if m != run.Summary.Metrics[name] {
			t.Errorf("%s: stored metric differs from summary.json", name)
		}
		h, err := latency.FromMetric(m)
		if err != nil {
			t.Fatal(err)
		}
		if h.Count() != m.Count || h.Quantile(0.99) != m.P99NS || h.Quantile(0.5) != m.P50NS {
			t.Errorf("%s: hdr gives count %d p50 %d p99 %d, row says %d %d %d", name, h.Count(), h.Quantile(0.5), h.Quantile(0.99), m.Count, m.P50NS, m.P99NS)
		}
	}
	reps, err := db.Repetitions(fixture("slow"))
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 5 || reps[2][latency.TickToTrade] != run.Summary.Repetitions[2].Metrics[latency.TickToTrade] {
		t.Errorf("repetitions: got %d, third differs from summary.json", len(reps))
	}

	last2, err := Trend(db, "ci", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(last2) != 2 || filepath.Base(last2[0].Dir) != "slow" || filepath.Base(last2[1].Dir) != "partial" {
		t.Errorf("last 2 = %+v", last2)
	}
	names, err := db.Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(names, ",") != "ci,quick" {
		t.Errorf("scenarios = %v", names)
	}
}

func TestIndexIsIdempotent(t *testing.T) {
	db, path := openTemp(t)
	for range 3 {
		if err := db.Index(fixture("base")); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(t, db, "SELECT count(*) FROM runs"); n != 1 {
		t.Errorf("runs = %d after indexing one folder three times, want 1", n)
	}
	if n := count(t, db, "SELECT count(*) FROM metrics"); n != 3*(1+5) {
		t.Errorf("metric rows = %d, want 18 (3 metrics × (run + 5 repetitions))", n)
	}
	// The package-level Index opens and closes its own handle.
	if err := Index(path, fixture("base")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM runs"); n != 1 {
		t.Errorf("runs = %d after Index, want 1", n)
	}
	// Folders inside the database's folder are stored relative to it.
	if n := count(t, db, "SELECT count(*) FROM runs WHERE dir LIKE '/%'"); n != 1 {
		t.Errorf("a fixture outside the db folder should be stored absolute")
	}
}

func TestRelativeDir(t *testing.T) {
	root := t.TempDir()
	db, err := Open(filepath.Join(root, "history.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	dst := filepath.Join(root, "ci", "20261120T100000Z")
	copyDir(t, fixture("base"), dst)
	if err := db.Index(dst); err != nil {
		t.Fatal(err)
	}
	pts, err := Trend(db, "ci", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 1 || pts[0].Dir != "ci/20261120T100000Z" {
		t.Errorf("dir = %+v, want ci/20261120T100000Z", pts)
	}
}

func TestReopenKeepsSchema(t *testing.T) {
	_, path := openTemp(t)
	for range 2 {
		db, err := Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if v := count(t, db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'schema_version'"); v != SchemaVersion {
			t.Errorf("schema_version = %d", v)
		}
		if n := count(t, db, "SELECT count(*) FROM meta"); n != 2 {
			t.Errorf("meta rows = %d, want 2", n)
		}
		db.Close()
	}
}

func TestConcurrentWriters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "history.db")
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Separate handles, as separate processes would have.
			errs <- Index(path, fixture(fixtures[i%len(fixtures)]))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if n := count(t, db, "SELECT count(*) FROM runs"); n != len(fixtures) {
		t.Errorf("runs = %d, want %d", n, len(fixtures))
	}
}

func TestNotOurs(t *testing.T) {
	mk := func(t *testing.T, stmts ...string) string {
		path := filepath.Join(t.TempDir(), "other.db")
		s, err := sql.Open("sqlite", path)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for _, q := range stmts {
			if _, err := s.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		return path
	}
	cases := []struct {
		name string
		path func(t *testing.T) string
		want string
	}{
		{"text file", func(t *testing.T) string {
			p := filepath.Join(t.TempDir(), "notes.db")
			os.WriteFile(p, bytes.Repeat([]byte("not a database at all\n"), 50), 0o644)
			return p
		}, "not an SQLite database"},
		{"someone's tables", func(t *testing.T) string {
			return mk(t, "CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
		}, "no cloudpcap identity"},
		{"another application id", func(t *testing.T) string {
			return mk(t, "PRAGMA application_id = 1234", "CREATE TABLE x (a)")
		}, "application_id is 0x4d2"},
		{"our id, foreign meta", func(t *testing.T) string {
			return mk(t, "PRAGMA application_id = 1668309872", "CREATE TABLE meta (key TEXT, value TEXT)", "INSERT INTO meta VALUES ('application', 'other'), ('schema_version', '1')")
		}, `meta application is "other"`},
		{"our id, no meta", func(t *testing.T) string {
			return mk(t, "PRAGMA application_id = 1668309872", "CREATE TABLE x (a)")
		}, "meta table is missing"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := c.path(t)
			before, _ := os.ReadFile(p)
			db, err := Open(p)
			if err == nil {
				db.Close()
				t.Fatal("Open accepted a database that is not ours")
			}
			var no *NotOursError
			if !errors.As(err, &no) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("error = %v, want a NotOursError naming %s and saying %q", err, p, c.want)
			}
			after, _ := os.ReadFile(p)
			if !bytes.Equal(before, after) {
				t.Errorf("the refused file was modified")
			}
		})
	}
	t.Run("newer schema", func(t *testing.T) {
		db, path := openTemp(t)
		if _, err := db.sql.Exec("UPDATE meta SET value = '99' WHERE key = 'schema_version'"); err != nil {
			t.Fatal(err)
		}
		_, err := Open(path)
		if err == nil || !strings.Contains(err.Error(), "newer than this cloudpcap") {
			t.Errorf("error = %v, want a refusal of schema 99", err)
		}
	})
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadRunErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(dir string)
		want  string // substring of the error, after the folder
	}{
		{"missing summary", func(d string) { os.Remove(filepath.Join(d, "summary.json")) }, "summary.json: not a cloudpcap run folder: the file is missing"},
		{"missing env", func(d string) { os.Remove(filepath.Join(d, "env.json")) }, "env.json: not a cloudpcap run folder"},
		{"corrupt summary", func(d string) {
			os.WriteFile(filepath.Join(d, "summary.json"), []byte("{\n  \"metrics\": {\n    \"feed_latency\": {\"count\": 12,,}\n"), 0o644)
		}, "summary.json:3:35: corrupt JSON"},
		{"truncated summary", func(d string) {
			b, _ := os.ReadFile(filepath.Join(d, "summary.json"))
			os.WriteFile(filepath.Join(d, "summary.json"), b[:len(b)/2], 0o644)
		}, "corrupt JSON: unexpected end of JSON input"},
		{"wrong type", func(d string) {
			os.WriteFile(filepath.Join(d, "summary.json"), []byte(`{"metrics": {"tick_to_trade": {"count": "many"}}}`), 0o644)
		}, "summary.json:1:47: corrupt JSON"},
		{"not a summary", func(d string) { os.WriteFile(filepath.Join(d, "summary.json"), []byte(`{"hello": 1}`), 0o644) }, `summary.json: no "metrics" object`},
		{"bad env", func(d string) { os.WriteFile(filepath.Join(d, "env.json"), []byte(`{"status": "ok"}`), 0o644) }, `env.json: no "start" time`},
		{"bad scenario", func(d string) {
			os.WriteFile(filepath.Join(d, "scenario.yaml"), []byte("name: ci\nduration: 3xs\n"), 0o644)
		}, "scenario.yaml:2:"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			copyDir(t, fixture("base"), dir)
			c.setup(dir)
			_, err := ReadRun(dir)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.want)) && !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v, want it to contain %q", err, c.want)
			}
			if !strings.Contains(err.Error(), dir) {
				t.Errorf("error %v does not name the folder %s", err, dir)
			}
			db, _ := openTemp(t)
			if err := db.Index(dir); err == nil {
				t.Errorf("Index accepted the bad folder")
			}
		})
	}
	t.Run("not a directory", func(t *testing.T) {
		_, err := ReadRun(filepath.Join(fixture("base"), "env.json"))
		if err == nil || !errors.Is(err, results.ErrNotRun) {
			t.Errorf("error = %v, want ErrNotRun", err)
		}
	})
}

func TestMakeTable(t *testing.T) {
	pt := func(p50, p99 int64, count int64) Point {
		return Point{Status: "ok", RevisionSource: "env.json", Metrics: map[string]latency.Metric{
			latency.TickToTrade: {Count: count, P50NS: p50, P99NS: p99},
		}}
	}
	tab := MakeTable("ci", []Point{pt(100, 1000, 5), pt(110, 2000, 5), pt(0, 0, 0), pt(99, 1500, 5)}, []string{"p50", "p99"})
	f := func(c *float64) string { return FormatChange(c) }
	want := []struct{ prev, med string }{{"-", "+0.0%"}, {"+10.0%", "+10.0%"}, {"", ""}, {"-10.0%", "-1.0%"}}
	for i, w := range want {
		v, ok := tab.Runs[i].Metrics[latency.TickToTrade]["p50"]
		if w.prev == "" {
			if ok {
				t.Errorf("run %d without samples has a value", i)
			}
			continue
		}
		if f(v.VsPrev) != w.prev || f(v.VsMedian) != w.med {
			t.Errorf("run %d p50: vs prev %s vs median %s, want %s %s", i, f(v.VsPrev), f(v.VsMedian), w.prev, w.med)
		}
	}
	if tab.Median[latency.TickToTrade]["p99"] != 1500 {
		t.Errorf("p99 median = %d, want 1500", tab.Median[latency.TickToTrade]["p99"])
	}
	if s := tab.Spark[latency.TickToTrade]["p99"]; s != "▁█▅" {
		t.Errorf("p99 sparkline = %q, want ▁█▅", s)
	}
	if _, ok := tab.Spark[latency.FeedLatency]["p50"]; ok {
		t.Errorf("a metric with no samples got a sparkline")
	}
	var b strings.Builder
	if err := tab.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"tick_to_trade  p50 ▂█▁  p99 ▁█▅", "feed_latency: no samples", "+10.0%"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("text lacks %q:\n%s", s, b.String())
		}
	}
}

func TestFormat(t *testing.T) {
	if s := Sparkline([]float64{3, 3, 3}); s != "▁▁▁" {
		t.Errorf("flat sparkline = %q", s)
	}
}

// FuzzReadRun feeds arbitrary summary.json and env.json contents to the
// reader (seeded with the fixtures): it must return a run or an error
// naming the file, never panic, and a run it accepts must index.
func FuzzReadRun(f *testing.F) {
	for _, name := range []string{"base", "partial"} {
		s, _ := os.ReadFile(filepath.Join(fixture(name), "summary.json"))
		e, _ := os.ReadFile(filepath.Join(fixture(name), "env.json"))
		f.Add(s, e)
	}
	f.Add([]byte(`{"metrics":{"tick_to_trade":{"count":1,"hdr":"x"}},"repetitions":[{}]}`), []byte(`{"start":"2026-01-01T00:00:00Z"}`))
	scen, err := os.ReadFile(filepath.Join(fixture("base"), "scenario.yaml"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, summary, env []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "scenario.yaml"), scen, 0o644)
		os.WriteFile(filepath.Join(dir, "summary.json"), summary, 0o644)
		os.WriteFile(filepath.Join(dir, "env.json"), env, 0o644)
		r, err := ReadRun(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the folder: %v", err)
			}
			return
		}
		_ = r.RepSummaries()
		db, err := Open(filepath.Join(dir, "h.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Index(dir); err != nil {
			t.Fatalf("accepted run does not index: %v", err)
		}
	})
}
