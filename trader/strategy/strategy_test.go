package strategy

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

func tick(feed int, sym string, seq uint64, px float64) *Tick {
	return &Tick{Tick: format.Tick{Symbol: sym, Stream: "x", Seq: seq, Last: px, Kind: format.KindTrade}, Feed: feed}
}

func mustNew(t *testing.T, name string, kv map[string]string, env Env) Strategy {
	t.Helper()
	s, err := New(name, kv, env)
	if err != nil {
		t.Fatalf("New(%s, %v): %v", name, kv, err)
	}
	return s
}

func TestNewErrors(t *testing.T) {
	cases := []struct {
		name string
		kv   map[string]string
		env  Env
		want string
	}{
		{"nope", nil, Env{}, `strategy "nope": unknown strategy (want one of ` + strings.Join(Names(), ", ") + ")"},
		{"every", map[string]string{"n": "x"}, Env{}, `strategy every: param n: "x" is not an integer`},
		{"every", map[string]string{"n": "0"}, Env{}, `strategy every: param n: 0 is below 1`},
		{"every", map[string]string{"m": "3"}, Env{}, `strategy every: param m: unknown parameter (every takes n, qty, seed, side, think, type)`},
		{"every", map[string]string{"side": "up"}, Env{}, `strategy every: param side: "up": want buy, sell, alternate`},
		{"every", map[string]string{"qty": "-1"}, Env{}, `strategy every: param qty: -1 is not above 0`},
		{"every", map[string]string{"qty": "NaN"}, Env{}, `strategy every: param qty: "NaN" is not a number`},
		{"every", map[string]string{"type": "stop"}, Env{}, `strategy every: param type: "stop": want limit, market`},
		{"every", map[string]string{"think": "2xs"}, Env{}, `strategy every: param think: "2xs" is not a duration`},
		{"every", map[string]string{"think": "gauss:1ms"}, Env{}, `strategy every: param think: unknown distribution "gauss"`},
		{"every", map[string]string{"seed": "-3"}, Env{}, `strategy every: param seed: "-3" is not an unsigned integer`},
		{"threshold", nil, Env{}, `strategy threshold: param level: required`},
		{"threshold", map[string]string{"level": "abc"}, Env{}, `strategy threshold: param level: "abc" is not a number`},
		{"threshold", map[string]string{"level": "10", "mode": "x"}, Env{}, `strategy threshold: param mode: "x": want follow, fade`},
		{"momentum", map[string]string{"fast": "10", "slow": "5"}, Env{}, `strategy momentum: param slow: 5 must be above fast (10)`},
		{"momentum", map[string]string{"slow": "1"}, Env{}, `strategy momentum: param slow: 1 is below 2`},
		{"arb", nil, Env{Feeds: 1}, `strategy arb: param a: arb needs two feeds`},
		{"arb", map[string]string{"a": "1", "b": "1"}, Env{Feeds: 2}, `strategy arb: param b: 1 is the same feed as a`},
		{"arb", map[string]string{"b": "2"}, Env{Feeds: 2}, `strategy arb: param b: feed 2 does not exist (2 feeds)`},
		{"arb", map[string]string{"bps": "0"}, Env{Feeds: 2}, `strategy arb: param bps: 0 is not above 0`},
	}
	for _, c := range cases {
		_, err := New(c.name, c.kv, c.env)
		if err == nil {
			t.Errorf("New(%s, %v): no error, want %q", c.name, c.kv, c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%s, %v):\n got %q\nwant %q", c.name, c.kv, err, c.want)
		}
	}
}

func TestParseKV(t *testing.T) {
	m, err := ParseKV([]string{"n=5", " think = uniform:1us-2us "})
	if err != nil || m["n"] != "5" || m["think"] != "uniform:1us-2us" {
		t.Fatalf("ParseKV = %v, %v", m, err)
	}
	for in, want := range map[string]string{"n": `--param "n": want key=value`, "=4": `--param "=4": empty key`} {
		if _, err := ParseKV([]string{in}); err == nil || err.Error() != want {
			t.Errorf("ParseKV(%q) = %v, want %q", in, err, want)
		}
	}
	if _, err := ParseKV([]string{"n=1", "n=2"}); err == nil || err.Error() != "--param n: given twice" {
		t.Errorf("duplicate: %v", err)
	}
}

func TestEvery(t *testing.T) {
	s := mustNew(t, "every", map[string]string{"n": "5", "qty": "2"}, Env{})
	var out []Order
	var sides []Side
	for i := 1; i <= 23; i++ {
		n := len(out)
		out = s.OnTick(tick(0, "BTCUSDT", uint64(i), 100+float64(i)), out)
		if len(out) > n {
			if i%5 != 0 {
				t.Errorf("order on tick %d", i)
			}
			sides = append(sides, out[n].Side)
			if out[n].Price != 100+float64(i) || out[n].Quantity != 2 || out[n].Type != Limit {
				t.Errorf("order %+v", out[n])
			}
		}
	}
	if len(out) != 4 || sides[0] != Buy || sides[1] != Sell || sides[2] != Buy {
		t.Fatalf("orders %v sides %v, want 4 alternating", out, sides)
	}
	// A limit order needs a price; a market order does not.
	lim := mustNew(t, "every", map[string]string{"n": "1"}, Env{})
	if got := lim.OnTick(tick(0, "X", 1, 0), nil); len(got) != 0 {
		t.Errorf("limit order without price: %v", got)
	}
	mkt := mustNew(t, "every", map[string]string{"n": "1", "type": "market", "side": "sell"}, Env{})
	if got := mkt.OnTick(tick(0, "X", 1, 0), nil); len(got) != 1 || got[0].Type != Market || got[0].Side != Sell {
		t.Errorf("market order: %v", got)
	}
}

func TestThreshold(t *testing.T) {
	s := mustNew(t, "threshold", map[string]string{"level": "100"}, Env{})
	prices := []float64{99, 99.5, 100, 101, 100.5, 99.9, 99, 100.1}
	want := []string{"", "", "BUY", "", "", "SELL", "", "BUY"}
	for i, px := range prices {
		got := s.OnTick(tick(0, "A", uint64(i), px), nil)
		g := ""
		if len(got) == 1 {
			g = got[0].Side.String()
		}
		if g != want[i] || len(got) > 1 {
			t.Errorf("tick %d px %v: %v, want %q", i, px, got, want[i])
		}
	}
	// Another symbol has its own previous price, and fade reverses.
	f := mustNew(t, "threshold", map[string]string{"level": "100", "mode": "fade", "symbol": "B"}, Env{})
	f.OnTick(tick(0, "B", 1, 99), nil)
	if got := f.OnTick(tick(0, "A", 2, 101), nil); len(got) != 0 {
		t.Errorf("filtered symbol traded: %v", got)
	}
	if got := f.OnTick(tick(0, "B", 3, 101), nil); len(got) != 1 || got[0].Side != Sell {
		t.Errorf("fade crossing up: %v", got)
	}
}

func TestMomentum(t *testing.T) {
	s := mustNew(t, "momentum", map[string]string{"fast": "2", "slow": "4"}, Env{})
	// Falling, then rising: fast crosses above slow once, then falls again.
	prices := []float64{10, 9, 8, 7, 6, 7, 9, 11, 13, 12, 10, 8, 6}
	var got []string
	for i, px := range prices {
		for _, o := range s.OnTick(tick(0, "A", uint64(i), px), nil) {
			got = append(got, o.Side.String()+"@"+ftoa(px))
		}
	}
	want := "BUY@9 SELL@10"
	if strings.Join(got, " ") != want {
		t.Fatalf("orders %v, want %s", got, want)
	}
}

func TestMomentumMatchesNaive(t *testing.T) {
	s := mustNew(t, "momentum", map[string]string{"fast": "3", "slow": "7"}, Env{}).(*momentum)
	var hist []float64
	x := uint64(12345)
	for i := 0; i < 10000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
		px := 100 + float64(x>>40)/float64(1<<24)
		hist = append(hist, px)
		s.OnTick(tick(0, "A", uint64(i), px), nil)
		st := s.state["A"]
		if len(hist) >= 7 {
			var f, sl float64
			for _, v := range hist[len(hist)-3:] {
				f += v
			}
			for _, v := range hist[len(hist)-7:] {
				sl += v
			}
			if d := st.sumFast - f; d > 1e-6 || d < -1e-6 {
				t.Fatalf("tick %d: fast sum %v, want %v", i, st.sumFast, f)
			}
			if d := st.sumSlow - sl; d > 1e-6 || d < -1e-6 {
				t.Fatalf("tick %d: slow sum %v, want %v", i, st.sumSlow, sl)
			}
		}
	}
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func TestArb(t *testing.T) {
	s := mustNew(t, "arb", map[string]string{"bps": "10"}, Env{Feeds: 2})
	steps := []struct {
		feed int
		sym  string
		px   float64
		want string
	}{
		{0, "BTCUSDT", 100, ""},
		{1, "btc-usdt", 100, ""},             // same symbol after normalization, no gap
		{0, "BTCUSDT", 100.05, ""},           // 5 bps: inside
		{0, "BTCUSDT", 100.2, "BUY@100"},     // feed 0 leads up by 20 bps: buy at feed 1's price
		{0, "BTCUSDT", 100.3, ""},            // still out of band: already fired
		{1, "btc-usdt", 100.3, ""},           // caught up: re-armed
		{1, "btc-usdt", 100.1, "SELL@100.3"}, // feed 1 leads down
		{2, "BTCUSDT", 50, ""},               // not one of a, b
		{0, "ETHUSDT", 10, ""},               // other symbol: no counterpart yet
	}
	for i, st := range steps {
		got := s.OnTick(tick(st.feed, st.sym, uint64(i), st.px), nil)
		g := ""
		if len(got) == 1 {
			g = got[0].Side.String() + "@" + ftoa(got[0].Price)
		}
		if g != st.want {
			t.Errorf("step %d: %q, want %q", i, g, st.want)
		}
	}
}

func TestThink(t *testing.T) {
	s := mustNew(t, "every", map[string]string{"n": "1", "think": "2ms"}, Env{})
	start := time.Now()
	s.OnTick(tick(0, "A", 1, 1), nil)
	if d := time.Since(start); d < 2*time.Millisecond {
		t.Errorf("think 2ms took %v", d)
	}
	u := mustNew(t, "every", map[string]string{"think": "uniform:100us-300us", "seed": "7"}, Env{Client: 3})
	if th, ok := u.(*thinker); !ok || th.d.String() != "uniform:100us-300us" {
		t.Fatalf("think distribution not applied: %#v", u)
	}
	if _, ok := mustNew(t, "every", nil, Env{}).(*thinker); ok {
		t.Error("zero think should not wrap")
	}
}

func TestBuiltinsRegistered(t *testing.T) {
	for _, n := range []string{"arb", "every", "momentum", "threshold"} {
		if _, ok := Lookup(n); !ok {
			t.Errorf("built-in %s not registered", n)
		}
	}
}

func TestHelpListsEveryStrategy(t *testing.T) {
	h := Help()
	for _, n := range Names() {
		if !strings.Contains(h, n+": ") {
			t.Errorf("Help lacks %s", n)
		}
	}
	if !strings.Contains(h, "think") {
		t.Error("Help lacks think")
	}
}

func TestNoAllocsPerTick(t *testing.T) {
	cases := map[string]map[string]string{
		"every":     {"n": "3"},
		"threshold": {"level": "100.5"},
		"momentum":  {"fast": "3", "slow": "8"},
		"arb":       {"bps": "5"},
	}
	for name, kv := range cases {
		s := mustNew(t, name, kv, Env{Feeds: 2})
		out := make([]Order, 0, 8)
		tk := tick(0, "BTCUSDT", 0, 100)
		i := 0
		step := func() {
			i++
			tk.Feed = i & 1
			tk.Seq = uint64(i)
			tk.Last = 100 + float64(i%7)/5
			out = s.OnTick(tk, out[:0])
		}
		for range 100 {
			step()
		}
		if a := testing.AllocsPerRun(1000, step); a != 0 {
			t.Errorf("%s: %v allocs per tick", name, a)
		}
	}
}
