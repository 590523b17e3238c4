package report

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// FuzzRunData feeds arbitrary events and trader timestamp lines through
// the whole report (model and page): bad input may be skipped or counted,
// never panic, and the page must still render. Seeded from the fixtures.
func FuzzRunData(f *testing.F) {
	for _, n := range []string{"quick", "feeds", "hostile"} {
		ev, err := os.ReadFile(filepath.Join("testdata", "runs", n, "events.jsonl"))
		if err != nil {
			f.Fatal(err)
		}
		app, err := os.ReadFile(filepath.Join("testdata", "runs", n, "app", "t1.jsonl"))
		if err != nil {
			app = nil
		}
		f.Add(firstLines(ev, 12), firstLines(app, 4)) // small seeds keep minimisation quick
	}
	f.Add([]byte(`{"kind":"tick","wire_ns":-5,"feed_latency_ns":-9223372036854775808}`+"\n"+`{"kind":"order","wire_ns":9223372036854775807,"tick_to_trade_ns":1}`), []byte(`{"kind":"order","wrote_ns":1,"order_id":""}`))
	// A bare run: the summary's curves do not depend on the input, and
	// leaving them out keeps each execution (and minimisation) fast.
	base := &Run{Dir: "fuzz", Label: "fuzz", Summary: &pipeline.Summary{}}
	f.Fuzz(func(t *testing.T, events, app []byte) {
		r := *base
		r.Problems = nil
		rep := Rep{N: 1, Dir: base.Dir, Summary: base.Summary}
		if err := r.parseEvents(&rep, bytes.NewReader(events), "events.jsonl"); err != nil {
			return // a line over the scanner's limit: reported as an error, fine
		}
		if err := r.parseApp(&rep, bytes.NewReader(app), "app/t1.jsonl"); err != nil {
			return
		}
		r.Reps = []Rep{rep}
		m, err := Build([]*Run{&r}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(m); err != nil { // NaN or Inf in the model
			t.Fatal(err)
		}
		// Lay the charts out (the template itself is exercised by the
		// other tests; leaving it out keeps executions fast).
		for id, hs := range newView(m).ChartData {
			if _, err := json.Marshal(hs); err != nil {
				t.Fatalf("chart %s: %v", id, err)
			}
		}
	})
}

func firstLines(b []byte, n int) []byte {
	end := 0
	for i := 0; i < n; i++ {
		j := bytes.IndexByte(b[end:], '\n')
		if j < 0 {
			return b
		}
		end += j + 1
	}
	return b[:end]
}
