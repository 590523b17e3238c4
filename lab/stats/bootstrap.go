package stats

import (
	"math"
	"math/rand/v2"
	"sort"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// BootstrapRatio is the percentile bootstrap confidence interval (level
// conf, for example 0.95) of median(candidate)/median(baseline): each of the
// resamples draws len(baseline) baseline values and len(candidate) candidate
// values with replacement. rng makes it reproducible. Resamples whose
// baseline median is zero are skipped; none left gives NaN bounds.
func BootstrapRatio(baseline, candidate []float64, resamples int, conf float64, rng *rand.Rand) Interval {
	if len(baseline) == 0 || len(candidate) == 0 || resamples <= 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	rb := make([]float64, len(baseline))
	rc := make([]float64, len(candidate))
	ratios := make([]float64, 0, resamples)
	for range resamples {
		for i := range rb {
			rb[i] = baseline[rng.IntN(len(baseline))]
		}
		for i := range rc {
			rc[i] = candidate[rng.IntN(len(candidate))]
		}
		mb := Median(rb)
		if mb == 0 {
			continue
		}
		ratios = append(ratios, Median(rc)/mb)
	}
	return percentileInterval(ratios, conf)
}

// empirical is a histogram as an inverse cumulative distribution.
type empirical struct {
	cum    []int64 // cumulative counts
	vals   []int64 // the bucket's highest equivalent value (as HDR reports quantiles)
	total  int64
	mean   float64
	stddev float64
}

func newEmpirical(h *hdrhistogram.Histogram) *empirical {
	e := &empirical{total: h.TotalCount(), mean: h.Mean(), stddev: h.StdDev()}
	var c int64
	for _, b := range h.Distribution() {
		if b.Count == 0 {
			continue
		}
		c += b.Count
		e.cum = append(e.cum, c)
		e.vals = append(e.vals, b.To)
	}
	return e
}

// at returns the value at cumulative probability u in (0, 1].
func (e *empirical) at(u float64) float64 {
	target := int64(math.Ceil(u * float64(e.total)))
	if target < 1 {
		target = 1
	}
	i := sort.Search(len(e.cum), func(i int) bool { return e.cum[i] >= target })
	if i == len(e.cum) {
		i = len(e.cum) - 1
	}
	return float64(e.vals[i])
}

// draw returns one bootstrap replicate of the statistic q ("p50" ... "max",
// "mean") over a resample of e.total values with replacement. For an order
// statistic the k-th smallest of n uniform draws is Beta(k, n-k+1)
// distributed, so the replicate is the inverse CDF at one Beta draw: the
// same distribution as resampling every value, at O(1) cost. The mean uses
// the normal approximation (the central limit theorem) of the resample mean.
func (e *empirical) draw(q string, rng *rand.Rand) float64 {
	n := float64(e.total)
	if q == "mean" {
		return e.mean + rng.NormFloat64()*e.stddev/math.Sqrt(n)
	}
	k := n
	if f, ok := quantileFraction[q]; ok {
		k = math.Max(1, math.Ceil(f*n))
	}
	return e.at(betaRand(rng, k, n-k+1))
}

var quantileFraction = map[string]float64{"p50": 0.50, "p90": 0.90, "p99": 0.99, "p999": 0.999}

// BootstrapHDR is the fallback when runs have too few repetitions for the
// per-repetition bootstrap: it resamples the samples inside the two HDR
// histograms (every recorded latency, not per-repetition values) and returns
// the percentile interval of the ratio of statistic q. It measures only
// within-run variability, so it understates run-to-run variance; the gate
// shows it but never bases a verdict on it.
func BootstrapHDR(baseline, candidate *hdrhistogram.Histogram, q string, resamples int, conf float64, rng *rand.Rand) Interval {
	if baseline.TotalCount() == 0 || candidate.TotalCount() == 0 || resamples <= 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	eb, ec := newEmpirical(baseline), newEmpirical(candidate)
	ratios := make([]float64, 0, resamples)
	for range resamples {
		b := eb.draw(q, rng)
		if b <= 0 {
			continue
		}
		ratios = append(ratios, ec.draw(q, rng)/b)
	}
	return percentileInterval(ratios, conf)
}

// betaRand draws from Beta(a, b) (a, b >= 1) as X/(X+Y) of two gamma draws.
func betaRand(rng *rand.Rand, a, b float64) float64 {
	x := gammaRand(rng, a)
	y := gammaRand(rng, b)
	return x / (x + y)
}

// gammaRand draws from Gamma(shape, 1), shape >= 1, by Marsaglia and Tsang's
// squeeze method (ACM TOMS 26(3), 2000).
func gammaRand(rng *rand.Rand, shape float64) float64 {
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		var x, v float64
		for v <= 0 {
			x = rng.NormFloat64()
			v = 1 + c*x
		}
		v = v * v * v
		u := rng.Float64()
		if u < 1-0.0331*x*x*x*x {
			return d * v
		}
		if u > 0 && math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}
