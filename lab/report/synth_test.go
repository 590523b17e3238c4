package report

import (
	"bytes"
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// synth describes a generated run: known latencies, so the model can be
// checked against them.
type synth struct {
	seconds  int
	tickRate int   // ticks per second
	every    int   // an order every n-th tick
	netIn    int64 // tick wire → app recv
	decide   int64
	send     int64
	netOut   int64
	ack      int64
	stale    int // this many ticks at the end share one late wire time
}

// write generates the run folder under dir and returns it.
func (s synth) write(t testing.TB, dir string) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(s.seconds)))
	jit := func(v int64) int64 { return v + int64(float64(v)*0.2*rng.Float64()) }
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	t0 := start.UnixNano()
	const feedConn, orderConn = "198.18.64.2:40000-198.18.0.2:8443", "198.18.64.2:40001-198.18.0.2:9443"
	var ev, app bytes.Buffer
	feed, t2t, ack := latency.NewHistogram(), latency.NewHistogram(), latency.NewHistogram()
	n := s.seconds * s.tickRate
	step := int64(time.Second) / int64(s.tickRate)
	staleWire := t0 + int64(s.seconds)*int64(time.Second)
	orders := 0
	for i := 0; i < n; i++ {
		exch := t0 + int64(i)*step
		if i%1000 < 50 { // a burst: 50 ticks in 5 ms every 1000 ticks
			exch = t0 + int64(i/1000*1000)*step + int64(i%1000)*100_000
		}
		wire := exch + jit(30_000)
		if i >= n-s.stale {
			wire = staleWire
		}
		seq := uint64(i + 1)
		fl := wire - exch
		feed.Record(fl)
		ev.WriteString(`{"kind":"tick","conn":"` + feedConn + `","wire_ns":` + itoa64(wire) + `,"seq":` + strconv.FormatUint(seq, 10) +
			`,"symbol":"BTCUSDT","exch_ns":` + itoa64(exch) + `,"feed_latency_ns":` + itoa64(fl) + `,"first_wire_ns":` + itoa64(wire) + "}\n")
		if i%s.every != 0 {
			continue
		}
		orders++
		id := "t1-0-" + strconv.Itoa(orders)
		recv := wire + jit(s.netIn)
		if i >= n-s.stale {
			recv = exch + jit(s.netIn)
		}
		dec := recv + jit(s.decide)
		wrote := dec + jit(s.send)
		owire := wrote + jit(s.netOut)
		awire := owire + jit(s.ack)
		t2t.Record(owire - wire)
		ack.Record(awire - owire)
		ev.WriteString(`{"kind":"order","conn":"` + orderConn + `","wire_ns":` + itoa64(owire) + `,"order_id":"` + id + `","first_wire_ns":` + itoa64(owire) +
			`,"match":"explicit","tick_conn":"` + feedConn + `","tick_seq":` + strconv.FormatUint(seq, 10) + `,"tick_wire_ns":` + itoa64(wire) + `,"tick_to_trade_ns":` + itoa64(owire-wire) + "}\n")
		ev.WriteString(`{"kind":"ack","conn":"` + orderConn + `","wire_ns":` + itoa64(awire) + `,"order_id":"` + id + `","order_to_ack_ns":` + itoa64(awire-owire) + `,"status":"NEW"}` + "\n")
		app.WriteString(`{"kind":"tick","client":0,"conn":"` + feedConn + `","symbol":"BTCUSDT","seq":` + strconv.FormatUint(seq, 10) + `,"exch_ns":` + itoa64(exch) +
			`,"recv_ns":` + itoa64(recv) + `,"decide_ns":` + itoa64(dec) + "}\n")
		app.WriteString(`{"kind":"order","client":0,"order_id":"` + id + `","symbol":"BTCUSDT","side":"BUY","tick_conn":"` + feedConn + `","tick_seq":` + strconv.FormatUint(seq, 10) +
			`,"order_conn":"` + orderConn + `","recv_ns":` + itoa64(recv) + `,"decide_ns":` + itoa64(dec) + `,"send_ns":` + itoa64(dec+1000) + `,"wrote_ns":` + itoa64(wrote) +
			`,"ack_ns":` + itoa64(awire+20_000) + `,"http_status":200,"status":"NEW"}` + "\n")
	}
	sum := &pipeline.Summary{Metrics: map[string]latency.Metric{}, Groups: map[string]map[string]map[string]latency.Metric{}}
	for name, h := range map[string]*latency.Histogram{latency.FeedLatency: feed, latency.TickToTrade: t2t, latency.OrderToAck: ack} {
		m, err := h.Metric()
		if err != nil {
			t.Fatal(err)
		}
		sum.Metrics[name] = m
	}
	env := results.Env{Scenario: "synth", Kernel: "Linux test", CPU: "test CPU", Cores: 2, Mechanism: "none", Modes: []string{"local"},
		Start: start, End: start.Add(time.Duration(s.seconds) * time.Second), Status: "ok"}
	run := filepath.Join(dir, "synth", start.Format("20060102T150405Z"))
	if err := os.MkdirAll(filepath.Join(run, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(run, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	js := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	write("summary.json", js(sum))
	write("env.json", js(env))
	write("scenario.yaml", []byte("name: synth\nduration: "+strconv.Itoa(s.seconds)+"s\n"))
	write("events.jsonl", ev.Bytes())
	write(filepath.Join("app", "t1.jsonl"), app.Bytes())
	return run
}

func itoa64(v int64) string { return strconv.FormatInt(v, 10) }

var typical = synth{seconds: 20, tickRate: 400, every: 4, netIn: 40_000, decide: 5_000, send: 30_000, netOut: 10_000, ack: 200_000}

// The split recovers the generated parts, the timeline the rate and the
// bursts.
func TestSynthSplitAndTimeline(t *testing.T) {
	r, err := Load(typical.write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build([]*Run{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sp := m.Splits[0]
	if want := typical.seconds * typical.tickRate / typical.every; sp.AppOrders != want || sp.Joined != want {
		t.Fatalf("split joined %d of %d, want all %d", sp.Joined, sp.AppOrders, want)
	}
	for k, base := range []int64{typical.netIn, typical.decide, typical.send, typical.netOut} {
		p := sp.Parts[k]
		if p.Values[0] < base || p.Values[0] > base*13/10 || p.Negative != 0 {
			t.Errorf("%s: median %d, generated %d..%d (+20%%)", p.Name, p.Values[0], base, base*12/10)
		}
	}
	var sumMean int64
	for _, p := range sp.Parts[:4] {
		sumMean += p.Mean
	}
	if tot := sp.Parts[4].Mean; math.Abs(float64(sumMean-tot)) > 4 {
		t.Errorf("parts add up to %d, tick-to-trade mean %d", sumMean, tot)
	}
	var tl *timelineMetric
	for k := range m.Timelines[0].Metrics {
		if m.Timelines[0].Metrics[k].Metric == latency.FeedLatency {
			tl = &m.Timelines[0].Metrics[k]
		}
	}
	if tl == nil {
		t.Fatal("no feed latency timeline")
	}
	total, peak := 0, 0
	for _, b := range tl.Buckets {
		total += b.N
		peak = max(peak, b.N)
	}
	if total != typical.seconds*typical.tickRate {
		t.Errorf("timeline holds %d ticks, generated %d", total, typical.seconds*typical.tickRate)
	}
	if steady := typical.tickRate / 10; peak < 50 || peak > 50+steady {
		t.Errorf("busiest bucket %d ticks, want the 50-tick burst (+ up to %d)", peak, steady)
	}
	for _, w := range m.Warnings {
		t.Errorf("unexpected warning on a clean run: %s", w.Text)
	}
}

// Ticks held back and released together are called out.
func TestSynthStaleWireTimes(t *testing.T) {
	s := typical
	s.seconds, s.stale = 5, 400
	r, err := Load(s.write(t, t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build([]*Run{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, w := range m.Warnings {
		all = append(all, w.Text)
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"400 of 2000 ticks carry the same wire time", "the trader read the tick before the capture saw it"} {
		if !strings.Contains(text, want) {
			t.Errorf("warnings %q lack %q", all, want)
		}
	}
}

// A 20 s run of ~10k events builds in well under 2 s into a page under 2 MB.
func TestSynthBuildBudget(t *testing.T) {
	s := typical
	s.tickRate = 400 // 8000 ticks + 2000 orders + 2000 acks
	dir := s.write(t, t.TempDir())
	startT := time.Now()
	r, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Build([]*Run{r}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := render(&buf, m); err != nil {
		t.Fatal(err)
	}
	el := time.Since(startT)
	t.Logf("%d events: load+build+render %v, page %d KB", len(r.Reps[0].Events), el, buf.Len()/1024)
	if buf.Len() > 2<<20 {
		t.Errorf("page is %d bytes, budget 2 MB", buf.Len())
	}
	if !raceEnabled && el > 2*time.Second {
		t.Errorf("building took %v, budget 2 s", el)
	}
}

func BenchmarkReport(b *testing.B) {
	dir := typical.write(b, b.TempDir())
	b.ReportAllocs()
	for b.Loop() {
		r, err := Load(dir)
		if err != nil {
			b.Fatal(err)
		}
		m, err := Build([]*Run{r}, Options{})
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := render(&buf, m); err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(buf.Len()))
	}
}
