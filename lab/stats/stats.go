// Package stats is the statistics that cloudpcap gate judges runs with and
// that the report shows beside its deltas, in one place so that the two
// cannot disagree: the median, a one-sided Mann–Whitney U test
// (MannWhitney, MinP, NeededRepetitions) and percentile bootstrap intervals
// of a ratio, over per-repetition values (BootstrapRatio) or over the
// samples inside two HDR histograms (BootstrapHDR).
//
// Randomness comes only from the *rand.Rand the caller passes, so a seed
// gives the same interval every time. Buffers: the functions read the
// slices and histograms they are given and neither keep nor modify them.
package stats

import (
	"encoding/json"
	"math"
	"sort"
)

// Interval is a confidence interval of a ratio candidate/baseline.
type Interval struct {
	Lo, Hi float64
}

// Median returns the median of xs (the mean of the middle two for an even
// count); NaN for none. xs is not modified.
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func percentileInterval(xs []float64, conf float64) Interval {
	if len(xs) == 0 {
		return Interval{math.NaN(), math.NaN()}
	}
	sort.Float64s(xs)
	a := (1 - conf) / 2
	return Interval{Lo: sortedQuantile(xs, a), Hi: sortedQuantile(xs, 1-a)}
}

// sortedQuantile interpolates linearly between order statistics.
func sortedQuantile(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(math.Floor(pos))
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

// MarshalJSON writes a bound that could not be computed (NaN) as null: JSON
// has no NaN.
func (iv Interval) MarshalJSON() ([]byte, error) {
	bound := func(f float64) *float64 {
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil
		}
		return &f
	}
	return json.Marshal(struct {
		Lo *float64 `json:"lo"`
		Hi *float64 `json:"hi"`
	}{bound(iv.Lo), bound(iv.Hi)})
}
