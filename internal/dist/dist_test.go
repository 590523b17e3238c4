package dist

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

const us = time.Microsecond

// The grammar's own tests are internal/units'; these check that a Dist reads
// and writes it, as flags and configs use it.
func TestText(t *testing.T) {
	for _, s := range []string{"200us", "0s", "uniform:100us-300us", "normal:200us,50us", "exp:1.234567ms", "lognormal:2ms,1ms"} {
		d, err := Parse(s)
		if err != nil || d.String() != s {
			t.Errorf("Parse(%q) = %#v, %v; String %q", s, d, err, d.String())
		}
	}
	if d, err := Parse("uniform:3ms-1ms"); err == nil {
		t.Errorf("Parse accepted %#v", d)
	} else if _, ok := errors.AsType[*units.Error](err); !ok {
		t.Errorf("Parse error %T %v, want a *units.Error", err, err)
	}
	var v struct{ Think Dist }
	if err := json.Unmarshal([]byte(`{"Think":"uniform:1us-2us"}`), &v); err != nil || v.Think != (Dist{units.Uniform, us, 2 * us}) {
		t.Fatalf("json: %#v %v", v, err)
	}
	if b, _ := json.Marshal(v); string(b) != `{"Think":"uniform:1us-2us"}` {
		t.Errorf("json marshal: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"Think":"bogus"}`), &v); err == nil || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("json bad text: %v", err)
	}
}

// TestSampleStatistics: sample means (and bounds) match the distribution
// within a tolerance sized to about 6 standard errors, with a fixed seed.
func TestSampleStatistics(t *testing.T) {
	const n = 200000
	cases := []struct {
		text     string
		wantMean time.Duration
		tolFrac  float64
	}{
		{"200us", 200 * us, 0},
		{"uniform:100us-300us", 200 * us, 0.005},
		{"normal:200us,50us", 200 * us, 0.005},
		{"normal:10us,50us", 0, 0.02}, // heavy clamping: wantMean from the formula below
		{"exp:200us", 200 * us, 0.015},
		{"lognormal:200us,100us", 200 * us, 0.01},
	}
	for _, c := range cases {
		d := MustParse(c.text)
		want := c.wantMean
		if want == 0 {
			want = d.Mean()
			// µΦ(µ/σ)+σφ(µ/σ) with µ=10, σ=50: 10·Φ(0.2)+50·φ(0.2) = 10·0.57926+50·0.39104 ≈ 25.345us.
			if math.Abs(float64(want)-25345) > 10 {
				t.Errorf("%s: Mean() = %v, want about 25.345us", c.text, want)
			}
		} else if d.Mean() != want && d.Kind != units.Normal {
			t.Errorf("%s: Mean() = %v, want %v", c.text, d.Mean(), want)
		}
		r := rand.New(rand.NewPCG(1, 2))
		var sum, sumSq float64
		lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
		for range n {
			x := d.Sample(r)
			lo, hi = min(lo, x), max(hi, x)
			sum += float64(x)
			sumSq += float64(x) * float64(x)
		}
		mean := sum / n
		if diff := math.Abs(mean - float64(want)); diff > c.tolFrac*float64(want) {
			t.Errorf("%s: sample mean %.0fns, want %v ± %.1f%%", c.text, mean, want, 100*c.tolFrac)
		}
		if lo < 0 {
			t.Errorf("%s: negative sample %v", c.text, lo)
		}
		switch d.Kind {
		case units.Fixed:
			if lo != hi {
				t.Errorf("%s: fixed varied %v..%v", c.text, lo, hi)
			}
		case units.Uniform:
			if lo < d.A || hi > d.B || lo > d.A+us || hi < d.B-us {
				t.Errorf("%s: range %v..%v", c.text, lo, hi)
			}
		case units.Normal:
			if c.text == "normal:200us,50us" {
				sd := math.Sqrt(sumSq/n - mean*mean)
				if math.Abs(sd-50000) > 1000 {
					t.Errorf("%s: sample sd %.0fns", c.text, sd)
				}
			} else if lo != 0 {
				t.Errorf("%s: clamped normal never hit 0 (min %v)", c.text, lo)
			}
		case units.LogNormal:
			sd := math.Sqrt(sumSq/n - mean*mean)
			if math.Abs(sd-100000) > 5000 {
				t.Errorf("%s: sample sd %.0fns, want about 100us", c.text, sd)
			}
		}
	}
}

func TestSeeded(t *testing.T) {
	d := MustParse("exp:1ms")
	a, b := rand.New(rand.NewPCG(7, 7)), rand.New(rand.NewPCG(7, 7))
	for i := range 100 {
		if x, y := d.Sample(a), d.Sample(b); x != y {
			t.Fatalf("sample %d differs with the same seed: %v vs %v", i, x, y)
		}
	}
}

func TestIsZeroAndEdges(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range []string{"0", "uniform:0s-0s", "normal:0s,0s", "exp:0s"} {
		d := MustParse(s)
		if !d.IsZero() || d.Sample(r) != 0 || d.Mean() != 0 {
			t.Errorf("%s: want zero", s)
		}
	}
	if MustParse("uniform:0s-1us").IsZero() || (Dist{}).String() != "0s" {
		t.Error("IsZero/zero String wrong")
	}
	// A huge mean saturates rather than wrapping negative.
	if x := MustParse("exp:2000000h").Sample(rand.New(rand.NewPCG(3, 3))); x < 0 {
		t.Errorf("overflowed to %v", x)
	}
	if x := (Dist{Kind: units.Uniform, A: 0, B: math.MaxInt64}).Sample(r); x < 0 {
		t.Errorf("uniform full range %v", x)
	}
}

func TestSampleAllocs(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	d := MustParse("lognormal:200us,100us")
	if n := testing.AllocsPerRun(100, func() { d.Sample(r) }); n != 0 {
		t.Errorf("Sample allocates %v", n)
	}
}

// FuzzSample: whatever Parse accepts samples and averages to non-negative
// durations and survives text marshalling.
func FuzzSample(f *testing.F) {
	for _, s := range []string{"200us", "uniform:100us-300us", "normal:200us,50us", "normal:10us,50us", "exp:200us",
		"lognormal:200us,100us", "lognormal:1ns,2562047h", "exp:2000000h", "uniform:0s-2562047h", "fixed:1s", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			return
		}
		r := rand.New(rand.NewPCG(1, 1))
		for range 10 {
			if x := d.Sample(r); x < 0 {
				t.Fatalf("Parse(%q): negative sample %v", s, x)
			}
		}
		if d.Mean() < 0 {
			t.Fatalf("Parse(%q): negative mean", s)
		}
		var back Dist
		if b, _ := d.MarshalText(); back.UnmarshalText(b) != nil || back != d {
			t.Fatalf("Parse(%q) = %#v; text %q reads back %#v", s, d, b, back)
		}
	})
}
