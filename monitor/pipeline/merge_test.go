package pipeline

import (
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

func summaryOf(t *testing.T, vals []int64, decoded int64, missing string) *Summary {
	t.Helper()
	h := latency.NewHistogram()
	for _, v := range vals {
		h.Record(v)
	}
	m, err := h.Metric()
	if err != nil {
		t.Fatal(err)
	}
	s := &Summary{
		Metrics: map[string]latency.Metric{latency.FeedLatency: m},
		Groups:  map[string]map[string]map[string]latency.Metric{"trader": {"t1": {latency.FeedLatency: m}}},
	}
	s.Decode.WSMessages = decoded
	s.Decode.TCP.Packets = uint64(decoded)
	s.Decode.Ticks = decoded
	s.Capture.Packets = 10
	if missing != "" {
		s.Decode.MissingKeys = []string{missing}
	}
	return s
}

func TestMerge(t *testing.T) {
	a := summaryOf(t, []int64{1000, 2000, 3000}, 3, "bb")
	b := summaryOf(t, []int64{4000, 5000}, 2, "aa")
	b.Partial, b.Reason = true, "cut"
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	f := m.Metrics[latency.FeedLatency]
	if f.Count != 5 || f.MinNS != 1000 || f.MaxNS < 5000 || f.MaxNS > 5005 {
		t.Fatalf("merged feed metric %+v", f)
	}
	if m.Metrics[latency.TickToTrade].Count != 0 || m.Groups["trader"]["t1"][latency.FeedLatency].Count != 5 {
		t.Fatalf("metrics %+v groups %+v", m.Metrics, m.Groups)
	}
	if m.Decode.WSMessages != 5 || m.Decode.TCP.Packets != 5 || m.Decode.Ticks != 5 || m.Capture.Packets != 20 {
		t.Fatalf("counts %+v %+v", m.Decode, m.Capture)
	}
	if len(m.Decode.MissingKeys) != 2 || m.Decode.MissingKeys[0] != "aa" || !m.Partial || m.Reason != "cut" {
		t.Fatalf("missing %v partial %v %q", m.Decode.MissingKeys, m.Partial, m.Reason)
	}
}

func TestMergeKeepsCaptureTimes(t *testing.T) {
	a, b := summaryOf(t, []int64{1}, 1, ""), summaryOf(t, []int64{2}, 1, "")
	a.Capture.FirstNS, a.Capture.LastNS = 100, 200
	b.Capture.FirstNS, b.Capture.LastNS = 150, 300
	b.Warnings, a.Warnings = []string{"same"}, []string{"same"}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Capture.FirstNS != 100 || m.Capture.LastNS != 300 || len(m.Warnings) != 1 {
		t.Fatalf("first %d last %d warnings %v", m.Capture.FirstNS, m.Capture.LastNS, m.Warnings)
	}
}
