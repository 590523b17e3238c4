package linkemu

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name      string
		p         Params
		wantField string // "" means valid
	}{
		{"zero", Params{}, ""},
		{"full", Params{Delay: 2 * time.Millisecond, Jitter: 100 * time.Microsecond, JitterDist: Normal,
			Loss: 0.001, Rate: 100e6, Queue: 1000, Reorder: true, Seed: 9}, ""},
		{"certain loss", Params{Loss: 1}, ""},
		{"negative delay", Params{Delay: -time.Millisecond}, "delay"},
		{"huge delay", Params{Delay: time.Minute}, "delay"},
		{"negative jitter", Params{Jitter: -1}, "jitter"},
		{"huge jitter", Params{Jitter: 11 * time.Second}, "jitter"},
		{"bad dist", Params{JitterDist: 7}, "dist"},
		{"loss above 1", Params{Loss: 1.5}, "loss"},
		{"negative loss", Params{Loss: -0.1}, "loss"},
		{"NaN loss", Params{Loss: math.NaN()}, "loss"},
		{"negative queue", Params{Queue: -1}, "queue"},
		{"huge queue", Params{Queue: 1 << 21}, "queue"},
		{"tiny rate", Params{Rate: 100}, "rate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.wantField == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != tc.wantField {
				t.Fatalf("Validate = %v, want a FieldError on %q", err, tc.wantField)
			}
			if !strings.Contains(err.Error(), tc.wantField) {
				t.Errorf("error %q does not name %q", err, tc.wantField)
			}
		})
	}
}

func TestLinkValidateNamesDirection(t *testing.T) {
	err := Link{BtoA: Params{Loss: 2}}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "b2a: ") || !strings.Contains(err.Error(), "loss") {
		t.Fatalf("Link.Validate = %v, want a b2a loss error", err)
	}
	if Symmetric(Params{Delay: time.Millisecond}).BtoA.Delay != time.Millisecond {
		t.Fatal("Symmetric does not copy the params to B→A")
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Params
		wantKey string // non-empty: want an error naming this key
		wantMsg string
	}{
		{in: "", want: Params{}},
		{in: "  ", want: Params{}},
		{in: "delay=2ms,jitter=100us,dist=normal,loss=0.1%,rate=100mbit,queue=1000,reorder=false",
			want: Params{Delay: 2 * time.Millisecond, Jitter: 100 * time.Microsecond, JitterDist: Normal,
				Loss: 0.001, Rate: 100_000_000, Queue: 1000}},
		{in: " delay = 250µs , loss=0.02 ", want: Params{Delay: 250 * time.Microsecond, Loss: 0.02}},
		{in: "DELAY=1ms,Dist=Uniform", want: Params{Delay: time.Millisecond}},
		{in: "rate=1gbit", want: Params{Rate: 1e9}},
		{in: "rate=12.5mbps", want: Params{Rate: 100e6}},
		{in: "rate=64kbit", want: Params{Rate: 64000}},
		{in: "rate=8000", want: Params{Rate: 8000}},
		{in: "rate=unlimited", want: Params{}},
		{in: "rate=1tbps", want: Params{Rate: 8e12}},
		{in: "rate=0.7mbit", want: Params{Rate: 700000}},
		{in: "limit=50,reorder=true,seed=42", want: Params{Queue: 50, Reorder: true, Seed: 42}},
		{in: "delay=0", want: Params{}},
		{in: "loss=100%", want: Params{Loss: 1}},

		{in: "delay=2xs", wantKey: "delay", wantMsg: "not a duration"},
		{in: "delay=5", wantKey: "delay", wantMsg: "not a duration"},
		{in: "jitter=fast", wantKey: "jitter", wantMsg: "not a duration"},
		{in: "dist=pareto", wantKey: "dist", wantMsg: "uniform or normal"},
		{in: "loss=abc", wantKey: "loss", wantMsg: "not a percentage"},
		{in: "loss=150%", wantKey: "loss", wantMsg: "outside 0%..100%"},
		{in: "loss=NaN", wantKey: "loss", wantMsg: "not a percentage"},
		{in: "rate=fast", wantKey: "rate", wantMsg: "not a rate"},
		{in: "rate=-5mbit", wantKey: "rate", wantMsg: "not a rate"},
		{in: "rate=99999999999999tbit", wantKey: "rate", wantMsg: "too large"},
		{in: "queue=ten", wantKey: "queue", wantMsg: "frame count"},
		{in: "reorder=maybe", wantKey: "reorder", wantMsg: "true or false"},
		{in: "seed=-1", wantKey: "seed", wantMsg: "unsigned"},
		{in: "color=red", wantKey: "color", wantMsg: "unknown key"},
		{in: "delay=1ms,delay=2ms", wantKey: "delay", wantMsg: "given twice"},
		{in: "delay", wantKey: "", wantMsg: "not k=v"},
		{in: "delay=1ms,,loss=1%", wantKey: "", wantMsg: "empty item"},
		{in: "delay=-1ms", wantKey: "delay", wantMsg: `"-1ms" is negative`},
		// Syntax fine, value invalid: Validate's FieldError names the key.
		{in: "queue=-3", wantKey: "queue", wantMsg: "negative"},
		{in: "rate=10bit", wantKey: "rate", wantMsg: "below"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseParams(tc.in)
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("ParseParams: %v", err)
				}
				if got != tc.want {
					t.Fatalf("ParseParams = %+v, want %+v", got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseParams = %+v, want an error on %q", got, tc.wantKey)
			}
			var pe *ParseError
			var fe *FieldError
			switch {
			case errors.As(err, &pe):
				if pe.Key != tc.wantKey {
					t.Errorf("error names key %q, want %q (%v)", pe.Key, tc.wantKey, err)
				}
			case errors.As(err, &fe):
				if fe.Field != tc.wantKey {
					t.Errorf("error names field %q, want %q (%v)", fe.Field, tc.wantKey, err)
				}
			default:
				t.Fatalf("error %T %v is neither ParseError nor FieldError", err, err)
			}
			if !strings.Contains(err.Error(), tc.wantMsg) {
				t.Errorf("error %q does not say %q", err, tc.wantMsg)
			}
		})
	}
}

func TestParamsStringRoundTrip(t *testing.T) {
	for _, p := range []Params{
		{},
		{Delay: 2 * time.Millisecond, Jitter: 100 * time.Microsecond, JitterDist: Normal, Loss: 0.001,
			Rate: 100e6, Queue: 1000, Reorder: true, Seed: 1<<64 - 1},
		{Rate: 1<<63 - 1},
		{Loss: 1.0 / 3},
	} {
		s := p.String()
		got, err := ParseParams(s)
		if err != nil || got != p {
			t.Errorf("ParseParams(%q) = %+v, %v; want %+v", s, got, err, p)
		}
	}
}

// FuzzParseParams: the parser never panics, everything it accepts is valid,
// and formatting what it accepts reads back the same.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"", "delay=2ms,jitter=100us,dist=normal,loss=0.1%,rate=100mbit,queue=1000,reorder=false",
		"rate=12.5mbps", "loss=100%", "seed=18446744073709551615", "delay=1ms,,x", "rate=1e400bit",
		"limit=5,reorder=true", "jitter=-0s", "rate=0.5kbit",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseParams(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("ParseParams(%q) accepted an invalid %+v: %v", s, p, err)
		}
		again, err := ParseParams(p.String())
		if err != nil || again != p {
			t.Fatalf("round trip of %q via %q: %+v, %v; want %+v", s, p.String(), again, err, p)
		}
	})
}

func TestCommandArgs(t *testing.T) {
	cfg := Config{Netns: "cpl-x-emu", A: "ea", B: "eb", RealtimePriority: 10, SpinWindow: 300 * time.Microsecond,
		Link: Link{AtoB: Params{Delay: 2 * time.Millisecond, Loss: 0.001, Seed: 3}, BtoA: Params{Rate: 1e9}}}
	args := CommandArgs(cfg, "/tmp/s.json")
	get := func(flag string) string {
		for i, a := range args {
			if a == flag && i+1 < len(args) {
				return args[i+1]
			}
		}
		t.Fatalf("no %s in %q", flag, args)
		return ""
	}
	for flag, want := range map[string]string{"--netns": "cpl-x-emu", "--a": "ea", "--b": "eb", "--stats": "/tmp/s.json",
		"--rt-priority": "10", "--spin": "300µs"} {
		if got := get(flag); got != want {
			t.Errorf("%s %q, want %q", flag, got, want)
		}
	}
	for flag, want := range map[string]Params{"--a2b": cfg.Link.AtoB, "--b2a": cfg.Link.BtoA} {
		p, err := ParseParams(get(flag))
		if err != nil || p != want {
			t.Errorf("%s parses to %+v, %v; want %+v", flag, p, err, want)
		}
	}
}
