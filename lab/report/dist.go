package report

import (
	"sort"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// dist is a histogram's non-empty buckets in value order: each bucket's
// highest equivalent value (what HdrHistogram reports for a quantile) and
// the cumulative count up to and including it.
type dist struct {
	vals []int64
	cum  []int64
	min  int64
	max  int64
}

func newDist(h *latency.Histogram) *dist {
	d := &dist{}
	if h == nil || h.Count() == 0 {
		return d
	}
	hdr := h.HDR()
	var c int64
	for _, b := range hdr.Distribution() {
		if b.Count == 0 {
			continue
		}
		c += b.Count
		d.vals = append(d.vals, b.To)
		d.cum = append(d.cum, c)
	}
	d.min, d.max = hdr.Min(), hdr.Max()
	return d
}

// distOf builds a dist from raw samples (the split's components).
func distOf(samples []int64) *dist {
	d := &dist{}
	if len(samples) == 0 {
		return d
	}
	s := append([]int64(nil), samples...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	for i, v := range s {
		if n := len(d.vals); n > 0 && d.vals[n-1] == v {
			d.cum[n-1] = int64(i + 1)
			continue
		}
		d.vals = append(d.vals, v)
		d.cum = append(d.cum, int64(i+1))
	}
	d.min, d.max = s[0], s[len(s)-1]
	return d
}

func (d *dist) count() int64 {
	if len(d.cum) == 0 {
		return 0
	}
	return d.cum[len(d.cum)-1]
}

// rank is HdrHistogram's rank of quantile q (0..1) among n samples,
// computed through the percentile as HdrHistogram does (same rounding).
func rank(q float64, n int64) int64 {
	r := (q*100/100)*float64(n) + 0.5
	if !(r >= 1) {
		return 1
	}
	if r >= float64(n) {
		return n
	}
	return int64(r)
}

// atRank returns the value of the k-th smallest sample (1-based).
func (d *dist) atRank(k int64) int64 {
	i := sort.Search(len(d.cum), func(i int) bool { return d.cum[i] >= k })
	if i == len(d.vals) {
		i--
	}
	return d.vals[i]
}

// quantile returns the value at q like latency.Histogram.Quantile.
func (d *dist) quantile(q float64) int64 {
	n := d.count()
	if n == 0 {
		return 0
	}
	if q >= 1 {
		return d.max
	}
	return d.atRank(rank(q, n))
}
