package stats

import (
	"math"
	"sort"
)

// exactLimit is the largest total sample size (baseline + candidate) for
// which MannWhitney computes the exact permutation distribution. Subset
// counts stay below 2^53 up to C(50, 25) ≈ 1.3e14, so float64 counts are
// exact.
const exactLimit = 50

// MWResult is the outcome of a one-sided Mann–Whitney U test.
type MWResult struct {
	U      float64 // candidate's U: pairs (b, c) with c > b, ties counting one half
	P      float64 // one-sided p-value for "candidate tends to be larger"
	Method string  // "exact" or "normal"
	Z      float64 // the continuity-corrected z score (normal method only)
}

// MannWhitney tests whether candidate values tend to be larger than baseline
// values (one-sided). Ties get mid-ranks. Up to exactLimit values in all, the
// p-value is exact: the permutation distribution of the candidate's rank sum
// over every way of splitting the pooled (tied) values, so ties are handled
// exactly too. Above, it uses the normal approximation with the tie-corrected
// variance and a continuity correction of one half. Either slice empty gives
// P = 1.
func MannWhitney(baseline, candidate []float64) MWResult {
	nb, nc := len(baseline), len(candidate)
	if nb == 0 || nc == 0 {
		return MWResult{P: 1, Method: "exact"}
	}
	ranks2, ties := doubledRanks(baseline, candidate)
	var r2 int // candidate's doubled rank sum
	for _, r := range ranks2[nb:] {
		r2 += r
	}
	u := float64(r2)/2 - float64(nc*(nc+1))/2
	if nb+nc <= exactLimit {
		return MWResult{U: u, P: exactUpperTail(ranks2, nc, r2), Method: "exact"}
	}
	p, z := normalUpperTail(u, nb, nc, ties)
	return MWResult{U: u, P: p, Method: "normal", Z: z}
}

// doubledRanks pools baseline then candidate values and returns each value's
// mid-rank times two (an integer), in input order, and the sizes of the tie
// groups larger than one.
func doubledRanks(baseline, candidate []float64) ([]int, []int) {
	n := len(baseline) + len(candidate)
	vals := make([]float64, 0, n)
	vals = append(vals, baseline...)
	vals = append(vals, candidate...)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return vals[idx[a]] < vals[idx[b]] })
	ranks := make([]int, n)
	var ties []int
	for i := 0; i < n; {
		j := i
		for j+1 < n && vals[idx[j+1]] == vals[idx[i]] {
			j++
		}
		// Positions i..j (0-based) share the mid-rank ((i+1)+(j+1))/2.
		for k := i; k <= j; k++ {
			ranks[idx[k]] = i + j + 2
		}
		if j > i {
			ties = append(ties, j-i+1)
		}
		i = j + 1
	}
	return ranks, ties
}

// exactUpperTail returns P(S >= obs) where S is the sum of k of the doubled
// ranks chosen uniformly at random without replacement: a subset-sum count
// over all C(n, k) subsets by dynamic programming.
func exactUpperTail(ranks2 []int, k, obs int) float64 {
	total := 0
	for _, r := range ranks2 {
		total += r
	}
	// cnt[j][s]: subsets of size j of the items seen so far with sum s.
	cnt := make([][]float64, k+1)
	for j := range cnt {
		cnt[j] = make([]float64, total+1)
	}
	cnt[0][0] = 1
	for _, r := range ranks2 {
		for j := k; j >= 1; j-- {
			prev, cur := cnt[j-1], cnt[j]
			for s := total; s >= r; s-- {
				if prev[s-r] != 0 {
					cur[s] += prev[s-r]
				}
			}
		}
	}
	var all, tail float64
	for s, c := range cnt[k] {
		all += c
		if s >= obs {
			tail += c
		}
	}
	return tail / all
}

// normalUpperTail is the large-sample p-value P(U >= u) with the variance
// corrected for ties and a continuity correction.
func normalUpperTail(u float64, nb, nc int, ties []int) (p, z float64) {
	n := float64(nb + nc)
	mean := float64(nb*nc) / 2
	var tieSum float64
	for _, t := range ties {
		tf := float64(t)
		tieSum += tf*tf*tf - tf
	}
	variance := float64(nb*nc) / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if variance <= 0 {
		return 1, 0 // every value tied: no evidence either way
	}
	z = (u - mean - 0.5) / math.Sqrt(variance)
	return 0.5 * math.Erfc(z/math.Sqrt2), z
}

// MinP is the smallest one-sided p-value a Mann–Whitney test can reach with
// nb baseline and nc candidate values: 1 / C(nb+nc, nc), when every candidate
// value exceeds every baseline value.
func MinP(nb, nc int) float64 {
	if nb == 0 || nc == 0 {
		return 1
	}
	return 1 / binomial(nb+nc, nc)
}

// NeededRepetitions is the smallest number of repetitions per run (the same
// in both) with which the test can reach significance at alpha.
func NeededRepetitions(alpha float64) int {
	n := 1
	for MinP(n, n) > alpha && n < 1000 {
		n++
	}
	return n
}

func binomial(n, k int) float64 {
	if k < 0 || k > n {
		return 0
	}
	if k > n-k {
		k = n - k
	}
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	return math.Round(r)
}
