package trader

import (
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed"
	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/orderapi"
)

// BenchmarkTickToOrder measures the app-side tick-to-order latency of
// `every` n=1 on loopback against the real feed (lab format, 1000 ticks/s,
// TLS 1.3) and order API: one op is one order acked. Reported: p50/p99 of
// tick read -> decision, tick read -> order written to the socket
// (httptrace WroteRequest) and order written -> ack read, over the whole
// run including a 100-order warm-up.
//
//	go test -run '^$' -bench TickToOrder -benchtime 2000x ./trader
func BenchmarkTickToOrder(b *testing.B) {
	api := startOrderAPI(b, orderapi.Config{})
	fd := startFeed(b, feed.Config{Format: format.Lab, Symbols: []string{"BTCUSDT"}, Rate: 1000}, "")
	cfg := baseConfig(api, "wss://"+fd.addr+"/ws/btcusdt@tick")
	cfg.Strategy, cfg.Params = "every", map[string]string{"n": "1"}
	cfg.OrderConns = 4
	r := startTrader(b, cfg)
	waitFor(b, "100 warm-up acks", 20*time.Second, func() bool { return r.tr.Stats().Acked >= 100 })
	base := r.tr.Stats().Acked
	b.ResetTimer()
	waitFor(b, "b.N acks", time.Duration(b.N)*10*time.Millisecond+20*time.Second, func() bool {
		return r.tr.Stats().Acked >= base+uint64(b.N)
	})
	b.StopTimer()
	st := r.stop()
	if st.ErrorCount() != 0 {
		b.Fatalf("errors: %v", st.Errors)
	}
	b.ReportMetric(float64(st.TickToDecision.P50), "decide-p50-ns")
	b.ReportMetric(float64(st.TickToDecision.P99), "decide-p99-ns")
	b.ReportMetric(float64(st.TickToWire.P50), "wire-p50-ns")
	b.ReportMetric(float64(st.TickToWire.P99), "wire-p99-ns")
	b.ReportMetric(float64(st.OrderToAck.P50), "ack-p50-ns")
	b.ReportMetric(float64(st.OrderToAck.P99), "ack-p99-ns")
	b.ReportMetric(float64(st.TickDrops+st.OrderDrops), "drops")
}
