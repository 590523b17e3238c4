package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/lab/gate"
	"github.com/cloudpcap/cloudpcap/lab/history"
)

// The page's marks and intervals are what cloudpcap gate computes on the
// same two folders, read the way the command reads them (history.ReadRun),
// with its default settings: every gated cell carries the gate's row, a
// cell is marked slower exactly where the gate finds a regression, faster
// exactly where the gate with the runs swapped finds one, and the page
// repeats the gate's verdict line.
func TestMarksAreTheGates(t *testing.T) {
	for _, c := range []struct {
		ref, run string
		want     []string // marks that must occur
	}{
		{"ci", "ci-slow", []string{"slower", "faster"}},
		{"ci-slow", "ci", []string{"slower", "faster"}},
		{"ci", "feeds", []string{"inconclusive"}},
		{"ci", "ci", []string{"same"}},
	} {
		t.Run(c.ref+"/"+c.run, func(t *testing.T) {
			m, err := Build([]*Run{fixture(t, c.ref), fixture(t, c.run)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			base := readRun(t, c.ref)
			cand := readRun(t, c.run)
			fwd := gate.Compare(base, cand, gate.Options{Seed: gate.DefaultSeed})
			rev := gate.Compare(cand, base, gate.Options{Seed: gate.DefaultSeed, Config: &fwd.Config})
			if len(m.Gate) != 1 || m.Gate[0].Summary != fwd.Summary || m.Gate[0].ExitCode != fwd.ExitCode {
				t.Errorf("page's gate line %+v, the gate says %q (exit %d)", m.Gate, fwd.Summary, fwd.ExitCode)
			}
			seen := map[string]bool{}
			judged := 0
			for _, tb := range m.Table {
				for k, d := range tb.Rows[1].Deltas {
					seen[d.Sig] = true
					i := slices.IndexFunc(fwd.Rows, func(r gate.Row) bool { return r.Metric == tb.Metric && r.Quantile == gateQuantiles[k] })
					if i < 0 {
						if d.Sig != "" || d.Gate != nil {
							t.Errorf("%s %s: the gate does not judge it, the page marks it %q", tb.Metric, gateQuantiles[k], d.Sig)
						}
						continue
					}
					judged++
					where := tb.Metric + " " + gateQuantiles[k]
					sameJSON(t, where, d.Gate, fwd.Rows[i])
					sameJSON(t, where+" reversed", d.Reverse, rev.Rows[i])
					if (d.Sig == "slower") != (fwd.Rows[i].Verdict == gate.Regression) {
						t.Errorf("%s: page says %q, gate says %s", where, d.Sig, fwd.Rows[i].Verdict)
					}
					if (d.Sig == "faster") != (rev.Rows[i].Verdict == gate.Regression) {
						t.Errorf("%s: page says %q, gate with the runs swapped says %s", where, d.Sig, rev.Rows[i].Verdict)
					}
				}
			}
			if judged != len(fwd.Rows) {
				t.Errorf("%d cells judged, the gate has %d rows", judged, len(fwd.Rows))
			}
			for _, w := range c.want {
				if !seen[w] {
					t.Errorf("no cell marked %q: the fixture no longer exercises it", w)
				}
			}
		})
	}
}

func readRun(t *testing.T, name string) *history.Run {
	t.Helper()
	r, err := history.ReadRun(filepath.Join("testdata", "runs", name))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sameJSON(t *testing.T, where string, got *gate.Row, want gate.Row) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: no gate row on the page", where)
		return
	}
	g, err1 := json.Marshal(got)
	w, err2 := json.Marshal(want)
	if err1 != nil || err2 != nil || string(g) != string(w) {
		t.Errorf("%s: page's row\n%s\nthe gate's\n%s", where, g, w)
	}
}

// A run the gate cannot read (here without env.json, which the page
// tolerates) gets no marks, and the gate line says why.
func TestUnjudgedRunHasNoMarks(t *testing.T) {
	dir := copyDir(t, filepath.Join("testdata", "runs", "ci-slow"))
	if err := os.Remove(filepath.Join(dir, "env.json")); err != nil {
		t.Fatal(err)
	}
	run, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build([]*Run{fixture(t, "ci"), run}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Gate) != 1 || m.Gate[0].ExitCode != 2 || !strings.Contains(m.Gate[0].Summary, "env.json is missing") {
		t.Errorf("gate line %+v, want exit 2 naming env.json", m.Gate)
	}
	for _, tb := range m.Table {
		for k, d := range tb.Rows[1].Deltas {
			if d.Sig != "" || d.Gate != nil {
				t.Errorf("%s %s: marked %q without a gate verdict", tb.Metric, gateQuantiles[k], d.Sig)
			}
		}
	}
}
