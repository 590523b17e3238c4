package latency

import (
	"math/rand/v2"
	"sort"
	"testing"
)

func TestMetricMatchesExactQuantiles(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	h := NewHistogram()
	var xs []int64
	for i := 0; i < 100000; i++ {
		v := int64(r.ExpFloat64()*200_000) + 5_000 // ~200 µs exponential + 5 µs floor
		xs = append(xs, v)
		h.Record(v)
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i] < xs[j] })
	m, err := h.Metric()
	if err != nil {
		t.Fatal(err)
	}
	exact := func(q float64) int64 { return xs[int(q*float64(len(xs)-1)+0.5)] }
	for _, c := range []struct {
		name string
		got  int64
		q    float64
	}{{"p50", m.P50NS, .5}, {"p90", m.P90NS, .9}, {"p99", m.P99NS, .99}, {"p999", m.P999NS, .999}} {
		want := exact(c.q)
		if d := float64(c.got-want) / float64(want); d < -0.002 || d > 0.002 {
			t.Errorf("%s = %d, exact %d (rel err %.4f > 0.2%%)", c.name, c.got, want, d)
		}
	}
	if m.Count != 100000 || m.MinNS > xs[0]+xs[0]/500 || m.MaxNS < xs[len(xs)-1] {
		t.Errorf("count/min/max %d/%d/%d, want 100000/%d/%d", m.Count, m.MinNS, m.MaxNS, xs[0], xs[len(xs)-1])
	}
}

func TestRoundTripAndMerge(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		a.Record(i * 1000)
		b.Record(i * 2000)
	}
	a.Record(-5)
	ma, err := a.Metric()
	if err != nil {
		t.Fatal(err)
	}
	if ma.Negative != 1 || ma.MinNegNS != -5 || ma.Count != 1000 {
		t.Fatalf("negative sample handling: %+v", ma)
	}
	back, err := FromMetric(ma)
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := back.Metric()
	if mb != ma {
		t.Fatalf("round trip changed the metric:\n%+v\n%+v", ma, mb)
	}
	back.Merge(b)
	if back.Count() != 2000 {
		t.Fatalf("merged count %d", back.Count())
	}
	if _, err := FromMetric(Metric{HDR: "not base64!"}); err == nil {
		t.Fatal("bad hdr accepted")
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	h := NewHistogram()
	n := testing.AllocsPerRun(1000, func() { h.Record(123456) })
	if n != 0 {
		t.Fatalf("Record allocates %v per call", n)
	}
}
