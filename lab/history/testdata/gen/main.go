// Command gen writes the synthetic run folders under lab/history/testdata/runs
// that the history, gate and CLI tests read:
//
//	go run ./lab/history/testdata/gen
//
// Each run has five repetitions of 300 samples per metric drawn (seeded)
// from log-normal distributions, so its quantiles vary from repetition to
// repetition like a real run's. base and aa share their distributions; slow
// adds 200 µs to tick-to-trade (a strategy that thinks for 200 µs);
// partial failed in its third repetition; quick is another scenario.
package main

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

type spec struct {
	name, scenario string
	seed           uint64
	start          time.Time
	t2tShift       float64 // ns added to tick-to-trade
	reps           int
	partial        bool
	revision       string
}

const scenarioYAML = `name: %s
description: synthetic fixture for the history and gate tests
seed: 13
duration: 3s
warmup: 1s
repeat: %d
exchanges:
  - name: ex
    feed: {format: lab, rate: 300, symbols: [BTCUSDT]}
    orderapi: {ack_delay: 100us}
    link: {delay: 300us}
traders:
  - name: t1
    strategy: every
    params: {n: 5}
    feeds: [ex]
gate:
  metrics: [feed_latency, tick_to_trade, order_to_ack]
  quantiles: [p50, p99]
  alpha: 0.05
  min_effect: 5%%
  floor: 25us
  slo:
    tick_to_trade.p99: 5ms
`

func main() {
	t0 := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	specs := []spec{
		{"base", "ci", 1, t0, 0, 5, false, "1111111111111111111111111111111111111111"},
		{"aa", "ci", 2, t0.Add(time.Hour), 0, 5, false, "2222222222222222222222222222222222222222"},
		{"slow", "ci", 3, t0.Add(2 * time.Hour), 200e3, 5, false, "3333333333333333333333333333333333333333"},
		{"partial", "ci", 4, t0.Add(3 * time.Hour), 0, 5, true, ""},
		{"quick", "quick", 5, t0.Add(4 * time.Hour), 0, 1, false, "5555555555555555555555555555555555555555"},
	}
	for _, s := range specs {
		if err := write(filepath.Join("lab/history/testdata/runs", s.name), s); err != nil {
			fmt.Fprintln(os.Stderr, "gen:", err)
			os.Exit(1)
		}
	}
}

func write(dir string, s spec) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(s.seed, 0x636c6f7564))
	// Repetition-level drift (a busy machine) on top of per-sample noise.
	median := map[string]float64{latency.FeedLatency: 330e3, latency.TickToTrade: 200e3, latency.OrderToAck: 870e3}
	reps := s.reps
	if s.partial {
		reps = 3
	}
	var parts []pipeline.Summary
	all := latency.NewSet()
	for r := 0; r < reps; r++ {
		set := latency.NewSet()
		drift := math.Exp(rng.NormFloat64() * 0.03)
		hs := []*latency.Histogram{set.Feed, set.T2T, set.Ack} // latency.MetricNames order
		for i, name := range latency.MetricNames {
			h := hs[i]
			for range 300 {
				v := median[name] * drift * math.Exp(rng.NormFloat64()*0.25)
				if name == latency.TickToTrade {
					v += s.t2tShift
				}
				h.Record(int64(v))
			}
		}
		ms, err := set.Metrics()
		if err != nil {
			return err
		}
		parts = append(parts, pipeline.Summary{Metrics: ms})
		all.Merge(set)
	}
	ms, err := all.Metrics()
	if err != nil {
		return err
	}
	sum := pipeline.Summary{Metrics: ms}
	if s.reps > 1 {
		sum.Repetitions = parts
	}
	status := "ok"
	if s.partial {
		sum.Partial, sum.Reason = true, "repetition 3: trader exited early"
		status = "failed: repetition 3: trader exited early"
	}
	type rep struct {
		Repetition int    `json:"repetition"`
		RunID      string `json:"run_id"`
	}
	env := map[string]any{
		"scenario": s.scenario, "cloudpcap_revision": s.revision, "link_mechanism": "linkemu",
		"start": s.start, "end": s.start.Add(20 * time.Second), "status": status,
	}
	var rs []rep
	for r := 1; r <= reps; r++ {
		rs = append(rs, rep{r, fmt.Sprintf("%08x", s.seed*100+uint64(r))})
	}
	env["repetitions"] = rs
	if err := os.WriteFile(filepath.Join(dir, "scenario.yaml"), fmt.Appendf(nil, scenarioYAML, s.scenario, s.reps), 0o644); err != nil {
		return err
	}
	for name, v := range map[string]any{"summary.json": sum, "env.json": env} {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}
