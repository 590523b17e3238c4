package pipeline_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline/internal/session"
)

// fixtures are the committed recordings (go run ./monitor/pipeline/internal/gen).
var fixtures = []string{"tls13-ws", "tls12-chacha-deflate"}

func readFixture(t testing.TB, name string) (capBytes, keys []byte, truth *session.Truth) {
	t.Helper()
	var err error
	if capBytes, err = os.ReadFile(filepath.Join("testdata", name+".pcapng")); err != nil {
		t.Fatal(err)
	}
	if keys, err = os.ReadFile(filepath.Join("testdata", name+".keys")); err != nil {
		t.Fatal(err)
	}
	tj, err := os.ReadFile(filepath.Join("testdata", name+".truth.json"))
	if err != nil {
		t.Fatal(err)
	}
	truth = new(session.Truth)
	if err := json.Unmarshal(tj, truth); err != nil {
		t.Fatal(err)
	}
	return capBytes, keys, truth
}

// TestIntegrationTsharkOracleFixtures decodes the committed fixtures with
// tshark and with the pipeline: same messages, same frame times.
func TestIntegrationTsharkOracleFixtures(t *testing.T) {
	haveTool(t, "tshark")
	for _, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("testdata", name+".pcapng")
			theirs := tsharkMsgs(t, path, filepath.Join("testdata", name+".keys"), nil)
			_, keys, truth := readFixture(t, name)
			a := analyzeFile(t, path, keys, "binance", true)
			compareMsgs(t, name, theirs, a.msgs())
			checkTruth(t, a, truth, theirs)
		})
	}
}

// checkTruth checks our events against what the session sent and, where
// an oracle's message times are given, the latencies against them.
func checkTruth(t testing.TB, a *analysis, truth *session.Truth, oracle []msg) {
	t.Helper()
	// The capture itself may lose packets (dumpcap's kernel drops on a
	// loaded machine show as drops or TCP gaps): what is missing was never
	// in the file, so then only what was decoded is checked against what
	// was sent; the comparison with tshark still had to agree exactly.
	lost := a.sum.Capture.Drops+a.sum.Decode.TCP.Gaps > 0 || a.captureShort
	ticks := a.kind("tick")
	if lost {
		t.Logf("capture may have lost packets (%d kernel drops, %d TCP gaps, oracle agreed %v): %d ticks decoded of %d sent", a.sum.Capture.Drops, a.sum.Decode.TCP.Gaps, a.captureShort, len(ticks), len(truth.Ticks))
	}
	if len(ticks) != len(truth.Ticks) && !(lost && len(ticks) <= len(truth.Ticks)) {
		t.Fatalf("%d ticks decoded, the server sent %d", len(ticks), len(truth.Ticks))
	}
	sentBySeq := map[uint64]session.Tick{}
	for _, tk := range truth.Ticks {
		sentBySeq[tk.Seq] = tk
	}
	wireOf := map[uint64]int64{}
	for i, e := range ticks {
		want := truth.Ticks[min(i, len(truth.Ticks)-1)]
		if lost && e.Seq != nil {
			want = sentBySeq[*e.Seq]
		}
		if e.Seq == nil || *e.Seq != want.Seq || e.ExchNS != want.ExchUS*1000 || e.Conn != truth.FeedConn {
			t.Errorf("tick %d: got seq %v exch %d conn %s, want seq %d exch %d conn %s", i, e.Seq, e.ExchNS, e.Conn, want.Seq, want.ExchUS*1000, truth.FeedConn)
			continue
		}
		if e.FeedLatencyNS == nil || *e.FeedLatencyNS != e.WireNS-e.ExchNS || *e.FeedLatencyNS < 0 || *e.FeedLatencyNS > 2e9 {
			t.Errorf("tick %d: feed latency %v, wire %d - E %d", want.Seq, e.FeedLatencyNS, e.WireNS, e.ExchNS)
		}
		if e.Payload != nil && len(*e.Payload) != want.Len {
			t.Errorf("tick %d: payload of %d bytes, the server sent %d", want.Seq, len(*e.Payload), want.Len)
		}
		wireOf[want.Seq] = e.WireNS
	}
	orders, acks := a.kind("order"), a.kind("ack")
	if lost && len(orders) <= len(truth.Orders) && len(acks) <= len(orders) {
		t.Logf("%d orders and %d acks decoded of %d sent", len(orders), len(acks), len(truth.Orders))
	} else if len(orders) != len(truth.Orders) || len(acks) != len(truth.Orders) {
		t.Fatalf("%d orders and %d acks decoded, the client sent %d", len(orders), len(acks), len(truth.Orders))
	}
	sentOrder := map[string]session.Order{}
	for _, o := range truth.Orders {
		sentOrder[o.ID] = o
	}
	orderWire := map[string]int64{}
	for i, e := range orders {
		want := truth.Orders[min(i, len(truth.Orders)-1)]
		if lost {
			want = sentOrder[e.OrderID]
		}
		tw, ok := wireOf[want.TickSeq]
		if lost && !ok {
			orderWire[e.OrderID] = e.WireNS
			continue // its tick was lost by the capture: nothing to compare it with
		}
		switch {
		case e.OrderID != want.ID || e.Match != "explicit" || e.TickSeq != want.TickSeq || e.TickConn != truth.FeedConn:
			t.Errorf("order %d: got id %s match %s tick %s#%d, want %s explicit %s#%d", i, e.OrderID, e.Match, e.TickConn, e.TickSeq, want.ID, truth.FeedConn, want.TickSeq)
		case !ok || e.TickWireNS != tw || e.TickToTradeNS == nil || *e.TickToTradeNS != e.WireNS-tw || *e.TickToTradeNS <= 0:
			t.Errorf("order %s: tick_wire %d tick_to_trade %v, want tick wire %d and order wire %d - it", e.OrderID, e.TickWireNS, e.TickToTradeNS, tw, e.WireNS)
		}
		orderWire[e.OrderID] = e.WireNS
	}
	status := map[string]string{}
	for _, o := range truth.Orders {
		status[o.ID] = o.Status
	}
	for i, e := range acks {
		ow, ok := orderWire[e.OrderID]
		want, sent := status[e.OrderID]
		if (!lost && e.OrderID != truth.Orders[i].ID) || !sent || e.Status != want || !ok || e.OrderToAckNS == nil || *e.OrderToAckNS != e.WireNS-ow || *e.OrderToAckNS <= 0 {
			t.Errorf("ack %d: %+v", i, e)
		}
	}
	if oracle == nil {
		return
	}
	// Against the oracle: the frame times tshark reports for the same
	// payloads give the same latencies.
	at := map[string]int64{}
	for _, m := range oracle {
		at[m.Payload] = m.NS
	}
	checked := 0
	for _, e := range a.events {
		if e.Payload == nil {
			continue
		}
		ns, ok := at[*e.Payload]
		if !ok {
			continue // compareMsgs reports it
		}
		if ns != e.WireNS {
			t.Errorf("%s %s: wire %d, tshark frame time %d", e.Kind, e.Conn, e.WireNS, ns)
		}
		checked++
	}
	if m := a.sum.Metrics; m["feed_latency"].Count != int64(len(ticks)) || m["tick_to_trade"].Count != int64(len(orders)) || m["order_to_ack"].Count != int64(len(acks)) {
		t.Errorf("summary counts %d/%d/%d, events %d/%d/%d", m["feed_latency"].Count, m["tick_to_trade"].Count, m["order_to_ack"].Count, len(ticks), len(orders), len(acks))
	}
	t.Logf("ground truth: %d ticks, %d orders, %d acks; %d event times equal tshark's", len(ticks), len(orders), len(acks), checked)
}
