package stats

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/latency"
)

// bruteForce enumerates every way of choosing which len(c) of the pooled
// values are the candidate's and returns P(U >= observed U), U counting
// pairs (b, c) with c > b plus one half per tie: the definition, with no
// ranks involved.
func bruteForce(b, c []float64) (p, u float64) {
	pool := append(append([]float64(nil), b...), c...)
	n, k := len(pool), len(c)
	uOf := func(isCand []bool) float64 {
		var u float64
		for i := range pool {
			if !isCand[i] {
				continue
			}
			for j := range pool {
				if isCand[j] {
					continue
				}
				switch {
				case pool[i] > pool[j]:
					u++
				case pool[i] == pool[j]:
					u += 0.5
				}
			}
		}
		return u
	}
	obs := make([]bool, n)
	for i := len(b); i < n; i++ {
		obs[i] = true
	}
	u = uOf(obs)
	var total, tail float64
	sel := make([]bool, n)
	var rec func(i, left int)
	rec = func(i, left int) {
		if left == 0 {
			total++
			if uOf(sel) >= u-1e-9 {
				tail++
			}
			return
		}
		if n-i < left {
			return
		}
		sel[i] = true
		rec(i+1, left-1)
		sel[i] = false
		rec(i+1, left)
	}
	rec(0, k)
	return tail / total, u
}

func TestMannWhitneyPublishedTable(t *testing.T) {
	// Critical values of the exact null distribution (Mann and Whitney
	// 1947; standard tables): n1 = n2 = 5, P(U <= 4) = 12/252 = 0.0476 and
	// P(U <= 5) = 19/252 = 0.0754; n1 = n2 = 4, P(U <= 0) = 1/70 and
	// P(U <= 1) = 2/70. In our one-sided orientation the candidate's U is
	// n1*n2 minus the baseline's.
	cases := []struct {
		name string
		b, c []float64
		u, p float64
	}{
		{"5v5 U=21", []float64{1, 2, 3, 4, 9}, []float64{5, 6, 7, 8, 10}, 21, 12.0 / 252},
		{"5v5 U=20", []float64{1, 2, 3, 4, 10}, []float64{5, 6, 7, 8, 9}, 20, 19.0 / 252},
		{"5v5 separated", []float64{1, 2, 3, 4, 5}, []float64{6, 7, 8, 9, 10}, 25, 1.0 / 252},
		{"4v4 separated", []float64{1, 2, 3, 4}, []float64{5, 6, 7, 8}, 16, 1.0 / 70},
		{"4v4 U=15", []float64{1, 2, 3, 5}, []float64{4, 6, 7, 8}, 15, 2.0 / 70},
		{"candidate faster", []float64{6, 7, 8, 9, 10}, []float64{1, 2, 3, 4, 5}, 0, 1},
	}
	for _, c := range cases {
		r := MannWhitney(c.b, c.c)
		if r.Method != "exact" || r.U != c.u || math.Abs(r.P-c.p) > 1e-12 {
			t.Errorf("%s: U %g p %.6f (%s), want U %g p %.6f exact", c.name, r.U, r.P, r.Method, c.u, c.p)
		}
	}
	if p := MinP(5, 5); math.Abs(p-1.0/252) > 1e-15 {
		t.Errorf("MinP(5,5) = %g", p)
	}
	for _, c := range []struct {
		alpha float64
		n     int
	}{{0.05, 3}, {0.05 / 6, 5}, {0.01, 5}, {0.001, 7}, {0.2, 2}} {
		if n := NeededRepetitions(c.alpha); n != c.n {
			t.Errorf("NeededRepetitions(%g) = %d, want %d", c.alpha, n, c.n)
		}
	}
}

func TestMannWhitneyExactAgainstEnumeration(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	for trial := range 60 {
		nb, nc := 1+rng.IntN(7), 1+rng.IntN(7)
		levels := 3 + rng.IntN(10) // few levels: many ties
		b, c := make([]float64, nb), make([]float64, nc)
		for i := range b {
			b[i] = float64(rng.IntN(levels))
		}
		shift := rng.IntN(3)
		for i := range c {
			c[i] = float64(rng.IntN(levels) + shift)
		}
		want, wantU := bruteForce(b, c)
		got := MannWhitney(b, c)
		if got.Method != "exact" || got.U != wantU || math.Abs(got.P-want) > 1e-12 {
			t.Fatalf("trial %d: b %v c %v: U %g p %.10f, enumeration U %g p %.10f", trial, b, c, got.U, got.P, wantU, want)
		}
	}
}

func TestMannWhitneyNormalApproximation(t *testing.T) {
	// Reference: the exact mean and variance of U over every split of a
	// tied sample (enumerated here), then the continuity-corrected normal
	// tail. The tie-corrected formula must reproduce that variance.
	b := []float64{1, 2, 2, 3, 3, 3, 5}
	c := []float64{2, 3, 4, 4, 5, 6, 6}
	pool := append(append([]float64(nil), b...), c...)
	n, k := len(pool), len(c)
	var sum, sum2, count float64
	sel := make([]bool, n)
	var rec func(i, left int)
	rec = func(i, left int) {
		if left == 0 {
			var u float64
			for x := range pool {
				for y := range pool {
					if sel[x] && !sel[y] {
						if pool[x] > pool[y] {
							u++
						} else if pool[x] == pool[y] {
							u += 0.5
						}
					}
				}
			}
			sum += u
			sum2 += u * u
			count++
			return
		}
		if n-i < left {
			return
		}
		sel[i] = true
		rec(i+1, left-1)
		sel[i] = false
		rec(i+1, left)
	}
	rec(0, k)
	mean := sum / count
	variance := sum2/count - mean*mean
	_, uObs := bruteForce(b, c)
	zRef := (uObs - mean - 0.5) / math.Sqrt(variance)
	pRef := 0.5 * math.Erfc(zRef/math.Sqrt2)
	_, ties := doubledRanks(b, c)
	p, z := normalUpperTail(uObs, len(b), len(c), ties)
	if math.Abs(z-zRef) > 1e-9 || math.Abs(p-pRef) > 1e-12 {
		t.Errorf("normal approximation: z %.6f p %.6f, reference z %.6f p %.6f (mean %g variance %g)", z, p, zRef, pRef, mean, variance)
	}

	// Above exactLimit MannWhitney switches to the approximation; it must
	// stay close to the exact tail (computed by the same subset count).
	rng := rand.New(rand.NewPCG(11, 3))
	for _, shift := range []float64{0, 0.3, 0.6} {
		bb, cc := make([]float64, 30), make([]float64, 30)
		for i := range bb {
			bb[i] = math.Round(rng.NormFloat64()*10) / 10
			cc[i] = math.Round((rng.NormFloat64()+shift)*10) / 10
		}
		r := MannWhitney(bb, cc)
		ranks, _ := doubledRanks(bb, cc)
		r2 := 0
		for _, x := range ranks[30:] {
			r2 += x
		}
		exact := exactUpperTail(ranks, 30, r2)
		if r.Method != "normal" || math.Abs(r.P-exact) > 0.005+0.05*exact {
			t.Errorf("shift %g: normal p %.5f (%s), exact %.5f", shift, r.P, r.Method, exact)
		}
	}
	if r := MannWhitney([]float64{3, 3, 3}, []float64{3, 3, 3}); r.P != 1 {
		t.Errorf("all tied: p %g, want 1", r.P)
	}
}

func TestBootstrapRatioCoverage(t *testing.T) {
	// Log-normal repetitions whose medians are 100 and 130: the true ratio
	// of medians is 1.3. A 95% interval should cover it in about 95% of
	// experiments (the percentile bootstrap of a median runs a little
	// under nominal with ten values).
	rng := rand.New(rand.NewPCG(2026, 11))
	const trials = 300
	covered := 0
	var width float64
	for range trials {
		b, c := make([]float64, 10), make([]float64, 10)
		for i := range b {
			b[i] = 100 * math.Exp(rng.NormFloat64()*0.1)
			c[i] = 130 * math.Exp(rng.NormFloat64()*0.1)
		}
		iv := BootstrapRatio(b, c, 1000, 0.95, rng)
		if iv.Lo <= 1.3 && 1.3 <= iv.Hi {
			covered++
		}
		width += iv.Hi - iv.Lo
	}
	cov := float64(covered) / trials
	t.Logf("coverage %.3f, mean width %.3f", cov, width/trials)
	if cov < 0.86 || cov > 0.99 {
		t.Errorf("coverage %.3f of the true ratio 1.3, want about 0.95", cov)
	}
	// The same seed gives the same interval.
	b, c := []float64{1, 2, 3, 4, 5}, []float64{2, 3, 4, 5, 6}
	x := BootstrapRatio(b, c, 500, 0.9, rand.New(rand.NewPCG(1, 2)))
	y := BootstrapRatio(b, c, 500, 0.9, rand.New(rand.NewPCG(1, 2)))
	if x != y {
		t.Errorf("seeded bootstrap differs: %v %v", x, y)
	}
}

func TestBootstrapHDRCoverage(t *testing.T) {
	// 2000 samples per run; the candidate's distribution is the
	// baseline's scaled by 1.2, so every quantile's true ratio is 1.2.
	rng := rand.New(rand.NewPCG(5, 5))
	for _, q := range []string{"p50", "p99", "mean"} {
		covered := 0
		const trials = 150
		for range trials {
			hb, hc := latency.NewHistogram(), latency.NewHistogram()
			for range 2000 {
				hb.Record(int64(200e3 * math.Exp(rng.NormFloat64()*0.3)))
				hc.Record(int64(1.2 * 200e3 * math.Exp(rng.NormFloat64()*0.3)))
			}
			iv := BootstrapHDR(hb.HDR(), hc.HDR(), q, 400, 0.95, rng)
			if iv.Lo <= 1.2 && 1.2 <= iv.Hi {
				covered++
			}
		}
		cov := float64(covered) / trials
		t.Logf("%s: coverage %.3f", q, cov)
		if cov < 0.86 || cov > 0.995 {
			t.Errorf("%s: coverage %.3f of the true ratio 1.2, want about 0.95", q, cov)
		}
	}
}

func TestBetaRand(t *testing.T) {
	// Beta(a, b) has mean a/(a+b) and variance ab/((a+b)^2 (a+b+1)).
	rng := rand.New(rand.NewPCG(9, 9))
	for _, c := range []struct{ a, b float64 }{{1, 1}, {2, 5}, {990, 11}, {5e5, 5e5}} {
		var s, s2 float64
		const n = 40000
		for range n {
			x := betaRand(rng, c.a, c.b)
			s += x
			s2 += x * x
		}
		mean := s / n
		v := s2/n - mean*mean
		wm := c.a / (c.a + c.b)
		wv := c.a * c.b / ((c.a + c.b) * (c.a + c.b) * (c.a + c.b + 1))
		if math.Abs(mean-wm) > 4*math.Sqrt(wv/n) || math.Abs(v-wv)/wv > 0.05 {
			t.Errorf("Beta(%g,%g): mean %.6g var %.4g, want %.6g %.4g", c.a, c.b, mean, v, wm, wv)
		}
	}
}

// FuzzMannWhitney checks the exact test against enumeration of every split
// and that p stays a probability, on small samples built from the input.
func FuzzMannWhitney(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 9}, []byte{5, 6, 7, 8, 10})
	f.Add([]byte{3, 3, 3}, []byte{3, 3})
	f.Add([]byte{200, 1}, []byte{0})
	f.Fuzz(func(t *testing.T, bb, cb []byte) {
		if len(bb) == 0 || len(cb) == 0 || len(bb) > 7 || len(cb) > 7 {
			return
		}
		b, c := make([]float64, len(bb)), make([]float64, len(cb))
		for i, x := range bb {
			b[i] = float64(x % 8)
		}
		for i, x := range cb {
			c[i] = float64(x % 8)
		}
		r := MannWhitney(b, c)
		want, u := bruteForce(b, c)
		if r.U != u || math.Abs(r.P-want) > 1e-12 || r.P < MinP(len(b), len(c))-1e-12 || r.P > 1 {
			t.Fatalf("b %v c %v: U %g p %g, enumeration U %g p %g", b, c, r.U, r.P, u, want)
		}
	})
}
