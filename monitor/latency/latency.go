// Package latency keeps latency samples in HDR histograms (nanosecond
// resolution, 1 ns to 1 h, 3 significant digits) and turns them into the
// metric summaries of docs/FORMATS.md: count, min, p50, p90, p99, p99.9, max, mean
// and the histogram itself as base64 HdrHistogram V2, so runs can be merged
// and compared exactly.
//
// A Histogram is not safe for concurrent use. Recording allocates nothing.
package latency

import (
	"fmt"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

const (
	lowest  = 1
	highest = 3_600_000_000_000 // 1 h in ns
	sigfigs = 3
)

// Names of the three metrics, as used in summary.json.
const (
	FeedLatency = "feed_latency"
	TickToTrade = "tick_to_trade"
	OrderToAck  = "order_to_ack"
)

// MetricNames lists the metrics in their display order.
var MetricNames = []string{FeedLatency, TickToTrade, OrderToAck}

// Histogram records latencies in nanoseconds. Negative samples (possible for
// feed latency when the exchange clock runs ahead of the capture clock) and
// samples above one hour cannot be placed in the HDR histogram; they are
// counted separately and reported, never silently dropped.
type Histogram struct {
	h        *hdrhistogram.Histogram
	negative int64
	overflow int64
	minNeg   int64 // most negative sample seen
}

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdrhistogram.New(lowest, highest, sigfigs)}
}

// Record adds one sample in nanoseconds.
func (h *Histogram) Record(ns int64) {
	switch {
	case ns < 0:
		h.negative++
		if ns < h.minNeg {
			h.minNeg = ns
		}
	case ns > highest:
		h.overflow++
		_ = h.h.RecordValue(highest)
	default:
		_ = h.h.RecordValue(ns)
	}
}

// Count is the number of samples in the histogram (negative ones excluded).
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Quantile returns the value at quantile q (0..1) in ns.
func (h *Histogram) Quantile(q float64) int64 { return h.h.ValueAtQuantile(q * 100) }

// Merge adds every sample of o into h.
func (h *Histogram) Merge(o *Histogram) {
	h.h.Merge(o.h)
	h.negative += o.negative
	h.overflow += o.overflow
	if o.minNeg < h.minNeg {
		h.minNeg = o.minNeg
	}
}

// HDR exposes the underlying histogram for plotting (read only).
func (h *Histogram) HDR() *hdrhistogram.Histogram { return h.h }

// Metric is one metric's summary as written to summary.json.
type Metric struct {
	Count    int64  `json:"count"`
	MinNS    int64  `json:"min_ns"`
	P50NS    int64  `json:"p50_ns"`
	P90NS    int64  `json:"p90_ns"`
	P99NS    int64  `json:"p99_ns"`
	P999NS   int64  `json:"p999_ns"`
	MaxNS    int64  `json:"max_ns"`
	MeanNS   int64  `json:"mean_ns"`
	HDR      string `json:"hdr"`
	Negative int64  `json:"negative,omitempty"`    // samples below zero, not in the histogram
	MinNegNS int64  `json:"min_neg_ns,omitempty"`  // the most negative of those
	Overflow int64  `json:"overflow_1h,omitempty"` // samples above 1 h, recorded as 1 h
}

// Metric summarises the histogram. Quantiles are HDR's highest equivalent
// values (within 0.1%).
func (h *Histogram) Metric() (Metric, error) {
	m := Metric{Count: h.h.TotalCount(), Negative: h.negative, MinNegNS: h.minNeg, Overflow: h.overflow}
	if m.Count > 0 {
		m.MinNS = h.h.Min()
		m.MaxNS = h.h.Max()
		m.MeanNS = int64(h.h.Mean() + 0.5)
		m.P50NS = h.h.ValueAtQuantile(50)
		m.P90NS = h.h.ValueAtQuantile(90)
		m.P99NS = h.h.ValueAtQuantile(99)
		m.P999NS = h.h.ValueAtQuantile(99.9)
	}
	enc, err := h.h.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		return m, fmt.Errorf("latency: encoding histogram: %w", err)
	}
	m.HDR = string(enc)
	return m, nil
}

// FromMetric rebuilds a histogram from a Metric's hdr field (for merging and
// comparing runs).
func FromMetric(m Metric) (*Histogram, error) {
	if m.HDR == "" {
		return NewHistogram(), nil
	}
	h, err := hdrhistogram.Decode([]byte(m.HDR))
	if err != nil {
		return nil, fmt.Errorf("latency: decoding hdr: %w", err)
	}
	return &Histogram{h: h, negative: m.Negative, minNeg: m.MinNegNS, overflow: m.Overflow}, nil
}

// Set holds the three metrics of one scope (the whole capture, one group).
type Set struct {
	Feed, T2T, Ack *Histogram
}

// NewSet returns a Set of empty histograms.
func NewSet() *Set {
	return &Set{Feed: NewHistogram(), T2T: NewHistogram(), Ack: NewHistogram()}
}

// Merge adds o's samples into s.
func (s *Set) Merge(o *Set) {
	s.Feed.Merge(o.Feed)
	s.T2T.Merge(o.T2T)
	s.Ack.Merge(o.Ack)
}

// Metrics returns the set as summary.json's "metrics" object.
func (s *Set) Metrics() (map[string]Metric, error) {
	out := make(map[string]Metric, 3)
	for name, h := range map[string]*Histogram{FeedLatency: s.Feed, TickToTrade: s.T2T, OrderToAck: s.Ack} {
		m, err := h.Metric()
		if err != nil {
			return nil, err
		}
		out[name] = m
	}
	return out, nil
}

// SetFromMetrics rebuilds a Set from a "metrics" object; missing metrics are empty.
func SetFromMetrics(ms map[string]Metric) (*Set, error) {
	s := NewSet()
	for name, dst := range map[string]**Histogram{FeedLatency: &s.Feed, TickToTrade: &s.T2T, OrderToAck: &s.Ack} {
		m, ok := ms[name]
		if !ok {
			continue
		}
		h, err := FromMetric(m)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		*dst = h
	}
	return s, nil
}
