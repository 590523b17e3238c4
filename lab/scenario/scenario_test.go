package scenario

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `name: quick
seed: 7
duration: 20s
warmup: 2s
exchanges:
  - name: near
    feed:
      format: binance
      rate: 500
    orderapi:
      ack_delay: 200us
    link:
      delay: 1ms
      down:
        jitter: 100us
traders:
  - name: t1
    strategy: every
    params:
      n: 5
      think: 50us
    feeds: [near]
gate:
  slo:
    tick_to_trade.p99: 5ms
`

func TestGoodScenario(t *testing.T) {
	f, err := Parse("quick.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	if s.Duration.D != 20*time.Second || s.Repeat != 1 || s.Capture.Modes[0] != "local" || !*s.Capture.Events {
		t.Fatalf("defaults: %+v", s)
	}
	e := s.Exchanges[0]
	if e.Feed.Symbols[0] != "BTCUSDT" || e.Link.Delay.D != time.Millisecond {
		t.Fatalf("exchange: %+v", e)
	}
	down, up := e.Link.Direction(false), e.Link.Direction(true)
	if down.Delay.D != time.Millisecond || down.Jitter.D != 100*time.Microsecond || up.Jitter.D != 0 {
		t.Fatalf("directions: down %+v up %+v", down, up)
	}
	tr := s.Traders[0]
	if tr.Orders != "near" || tr.Clients != 1 || tr.Params["n"] != "5" || tr.Params["think"] != "50us" {
		t.Fatalf("trader: %+v", tr)
	}
	if s.Gate.SLO["tick_to_trade.p99"].D != 5*time.Millisecond || s.Gate.Alpha != 0.05 {
		t.Fatalf("gate: %+v", s.Gate)
	}
	// The resolved form parses and validates to the same scenario.
	out, err := f.Resolved()
	if err != nil {
		t.Fatal(err)
	}
	f2, err := Parse("resolved.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := f2.Validate(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if f2.Scenario.Exchanges[0].Link.Direction(false).Jitter.D != 100*time.Microsecond || f2.Scenario.Traders[0].Params["think"] != "50us" {
		t.Fatalf("resolved lost values:\n%s", out)
	}
}

// Scenario errors name the file, line, column and field path exactly.
func TestScenarioErrors(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(string) string
		wantErr string
	}{
		{"bad duration", func(s string) string { return strings.Replace(s, "delay: 1ms", "delay: 2xs", 1) },
			`quick.yaml:13:14: exchanges.0.link.delay: "2xs" is not a duration (use a unit: 250us, 2ms, 1.5s, 1m)`},
		{"unknown field", func(s string) string { return strings.Replace(s, "    link:", "    lnk:", 1) },
			`quick.yaml:12:5: unknown field "lnk"`},
		{"wrong type", func(s string) string { return strings.Replace(s, "rate: 500", "rate: fast", 1) },
			`quick.yaml:9:13: cannot unmarshal string into Go struct field`},
		{"unknown exchange", func(s string) string { return strings.Replace(s, "feeds: [near]", "feeds: [far]", 1) },
			`quick.yaml:22:13: traders.0.feeds.0: no exchange named "far"`},
		{"bad format", func(s string) string { return strings.Replace(s, "format: binance", "format: nasdaq", 1) },
			`quick.yaml:8:15: exchanges.0.feed.format: "nasdaq": want one of lab, binance, coinbase`},
		{"warmup too long", func(s string) string { return strings.Replace(s, "warmup: 2s", "warmup: 30s", 1) },
			`quick.yaml:4:9: warmup: 30s must be shorter than duration 20s`},
		{"bad ack delay", func(s string) string { return strings.Replace(s, "ack_delay: 200us", "ack_delay: uniform:5", 1) },
			`quick.yaml:11:18: exchanges.0.orderapi.ack_delay: `},
		{"bad slo key", func(s string) string { return strings.Replace(s, "tick_to_trade.p99", "tick_to_trade.p98", 1) },
			`quick.yaml:25:22: gate.slo.tick_to_trade.p98: want metric.quantile, for example tick_to_trade.p99`},
		{"missing name", func(s string) string { return strings.Replace(s, "name: quick\n", "", 1) },
			`quick.yaml: name: required`},
		{"bad jitter dist", func(s string) string {
			return strings.Replace(s, "jitter: 100us", "jitter: 100us\n        jitter_dist: pareto", 1)
		},
			`quick.yaml:16:22: exchanges.0.link.down.jitter_dist: "pareto": want uniform or normal`},
		{"bad loss", func(s string) string { return strings.Replace(s, "delay: 1ms", "delay: 1ms\n      loss: 120%", 1) },
			`quick.yaml:14:13: exchanges.0.link.loss: "120%" is outside 0%..100%`},
		{"speed without replay", func(s string) string { return strings.Replace(s, "rate: 500", "rate: 500\n      speed: 2", 1) },
			`quick.yaml:10:14: exchanges.0.feed.speed: applies to a replay: set feed.replay too`},
		{"snaplen too large", func(s string) string {
			return strings.Replace(s, "exchanges:", "capture:\n  snaplen: 5000000000gb\nexchanges:", 1)
		},
			`quick.yaml:6:12: capture.snaplen: `},
		{"duplicate trader", func(s string) string {
			return strings.Replace(s, "gate:", "  - name: t1\n    strategy: every\n    feeds: [near]\ngate:", 1)
		}, `quick.yaml:23:11: traders.1.name: "t1" is used twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := tt.edit(good)
			f, err := Parse("quick.yaml", []byte(src))
			if err == nil {
				err = f.Validate()
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.wantErr)
			}
			first := strings.Split(err.Error(), "\n")[0]
			if !strings.HasPrefix(first, tt.wantErr) {
				t.Fatalf("error\n  %s\nwant prefix\n  %s", first, tt.wantErr)
			}
		})
	}
}

func TestSet(t *testing.T) {
	f, err := Parse("quick.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"exchanges.0.link.delay=2ms", "traders.0.params.think=200us", "exchanges.0.feed.symbols=BTCUSDT,SOLUSDT", "duration=5s", "exchanges.0.link.up.loss=1%", "capture.modes=[local, mirror]"} {
		if err := f.Set(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	if err := f.Validate(); err != nil {
		t.Fatal(err)
	}
	s := f.Scenario
	if s.Exchanges[0].Link.Delay.D != 2*time.Millisecond || s.Traders[0].Params["think"] != "200us" || len(s.Exchanges[0].Feed.Symbols) != 2 || s.Duration.D != 5*time.Second {
		t.Fatalf("%+v", s)
	}
	if up := s.Exchanges[0].Link.Direction(true); up.Loss.F != 0.01 || up.Delay.D != 2*time.Millisecond {
		t.Fatalf("up %+v", up)
	}
	if len(s.Capture.Modes) != 2 {
		t.Fatalf("modes %v", s.Capture.Modes)
	}
	for _, c := range []struct{ set, want string }{
		{"exchanges.3.link.delay=2ms", "--set exchanges.3.link.delay=2ms: exchanges: index 3 out of range (the list has 1)"},
		{"exchanges.0.lnk.delay=2ms", `--set exchanges.0.lnk.delay=2ms: exchanges.0: no field "lnk" (fields: name, feed, orderapi, link)`},
		{"nodelay", "--set nodelay: want path=value"},
		{"seed=abc", "--set seed=abc: cannot unmarshal string into Go value of type int64"},
	} {
		err := f.Set(c.set)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: error %v, want prefix %q", c.set, err, c.want)
		}
	}
	// A bad value set on the command line is attributed to --set by Validate.
	if err := f.Set("exchanges.0.link.delay=2xs"); err != nil {
		t.Fatal(err)
	}
	err = f.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), `--set exchanges.0.link.delay=2xs: exchanges.0.link.delay: "2xs" is not a duration`) {
		t.Fatalf("got %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("name: [\n"))
	f.Add([]byte("exchanges: {a: 1}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		sf, err := Parse("f.yaml", b)
		if err != nil {
			return
		}
		_ = sf.Validate()
		_, _ = sf.Resolved()
	})
}

// Every scenario shipped in scenarios/ stays valid.
func TestShippedScenarios(t *testing.T) {
	paths, err := filepath.Glob("../../scenarios/*.yaml")
	if err != nil || len(paths) < 6 {
		t.Fatalf("scenarios: %v %v", paths, err)
	}
	for _, p := range paths {
		f, err := Load(p)
		if err == nil {
			err = f.Validate()
		}
		if err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
