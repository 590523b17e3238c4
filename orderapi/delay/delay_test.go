package delay

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

const us = time.Microsecond

func TestParse(t *testing.T) {
	cases := []struct {
		in      string
		want    Dist
		wantErr string // substring of the error; empty means success
	}{
		{"200us", Constant(200 * us), ""},
		{"200µs", Constant(200 * us), ""},
		{" 1.5ms ", Constant(1500 * us), ""},
		{"0", Constant(0), ""},
		{"fixed:3ms", Constant(3 * time.Millisecond), ""},
		{"uniform:100us-300us", Dist{Uniform, 100 * us, 300 * us}, ""},
		{"UNIFORM:1ms-1ms", Dist{Uniform, time.Millisecond, time.Millisecond}, ""},
		{"normal:200us,50us", Dist{Normal, 200 * us, 50 * us}, ""},
		{"normal:200us, 50us", Dist{Normal, 200 * us, 50 * us}, ""},
		{"exp:200us", Dist{Exp, 200 * us, 0}, ""},
		{"lognormal:200us,100us", Dist{LogNormal, 200 * us, 100 * us}, ""},
		{"", Dist{}, "empty"},
		{"   ", Dist{}, "empty"},
		{"200", Dist{}, `"200" is not a duration`},
		{"2xs", Dist{}, `"2xs" is not a duration`},
		{"-5us", Dist{}, `"-5us" is negative`},
		{"fixed:", Dist{}, "missing duration"},
		{"uniform:300us-100us", Dist{}, "low bound 300us above high bound 100us"},
		{"uniform:100us", Dist{}, `uniform wants two durations separated by "-"`},
		{"uniform:-1us-3us", Dist{}, "missing duration"},
		{"uniform:1us-", Dist{}, "missing duration"},
		{"normal:200us", Dist{}, `normal wants two durations separated by ","`},
		{"normal:200us,-1us", Dist{}, `"-1us" is negative`},
		{"exp:abc", Dist{}, `"abc" is not a duration`},
		{"lognormal:0,1us", Dist{}, "lognormal mean must be above 0"},
		{"gamma:1us,2us", Dist{}, `unknown distribution "gamma"`},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if c.wantErr == "" {
			if err != nil || got != c.want {
				t.Errorf("Parse(%q) = %#v, %v; want %#v", c.in, got, err, c.want)
			}
			continue
		}
		var se *SyntaxError
		if !errors.As(err, &se) || se.Text != c.in || !strings.Contains(err.Error(), c.wantErr) {
			t.Errorf("Parse(%q) error %v; want a *SyntaxError naming the text with %q", c.in, err, c.wantErr)
		}
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, s := range []string{"200us", "0s", "1.5ms", "uniform:100us-300us", "normal:200us,50us", "exp:1.234567ms", "lognormal:2ms,1ms", "1h2m3.000000004s"} {
		d, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if d.String() != s {
			t.Errorf("Parse(%q).String() = %q", s, d.String())
		}
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Errorf("round trip of %q: %#v, %v", s, back, err)
		}
	}
	// Text marshalling, as configs will use it.
	var v struct{ Think Dist }
	if err := json.Unmarshal([]byte(`{"Think":"uniform:1us-2us"}`), &v); err != nil || v.Think != (Dist{Uniform, us, 2 * us}) {
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
		} else if d.Mean() != want && d.Kind != Normal {
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
		case Fixed:
			if lo != hi {
				t.Errorf("%s: fixed varied %v..%v", c.text, lo, hi)
			}
		case Uniform:
			if lo < d.A || hi > d.B || lo > d.A+us || hi < d.B-us {
				t.Errorf("%s: range %v..%v", c.text, lo, hi)
			}
		case Normal:
			if c.text == "normal:200us,50us" {
				sd := math.Sqrt(sumSq/n - mean*mean)
				if math.Abs(sd-50000) > 1000 {
					t.Errorf("%s: sample sd %.0fns", c.text, sd)
				}
			} else if lo != 0 {
				t.Errorf("%s: clamped normal never hit 0 (min %v)", c.text, lo)
			}
		case LogNormal:
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
	if x := (Dist{Kind: Uniform, A: 0, B: math.MaxInt64}).Sample(r); x < 0 {
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

func FuzzParse(f *testing.F) {
	for _, s := range []string{"200us", "uniform:100us-300us", "normal:200us,50us", "exp:200us", "lognormal:200us,100us", "fixed:1s", "uniform:3us-1us", "", ":", "normal:,", "x:y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := Parse(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) || se.Text != s {
				t.Fatalf("Parse(%q): error %v is not a *SyntaxError naming the text", s, err)
			}
			return
		}
		back, err := Parse(d.String())
		if err != nil || back != d {
			t.Fatalf("Parse(%q) = %#v; String %q reparses to %#v, %v", s, d, d.String(), back, err)
		}
		r := rand.New(rand.NewPCG(1, 1))
		if x := d.Sample(r); x < 0 {
			t.Fatalf("Parse(%q): negative sample %v", s, x)
		}
		if d.Mean() < 0 {
			t.Fatalf("Parse(%q): negative mean", s)
		}
	})
}
