package feed

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
)

func TestValidate(t *testing.T) {
	ok := Config{Format: format.Binance, Rate: 100}
	tests := []struct {
		name    string
		mod     func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"coinbase products", func(c *Config) { c.Format, c.Symbols = format.Coinbase, []string{"BTC-USD", "sol-eur"} }, ""},
		{"burst", func(c *Config) { c.Pattern = "burst:100/1ms@100ms" }, ""},
		{"staged", func(c *Config) { c.Pattern = "staged:500@10s,2000@5s"; c.Rate = 0 }, ""},
		{"tls12 cipher", func(c *Config) { c.TLS = tlsconf.Options{Version: "1.2", Cipher: "chacha20"} }, ""},
		{"auto format", func(c *Config) { c.Format = format.Auto }, `--format "auto": want lab, binance or coinbase`},
		{"symbol with dash on binance", func(c *Config) { c.Symbols = []string{"BTC-USD"} }, `--symbols: "BTC-USD": want letters and digits`},
		{"coinbase symbol without dash", func(c *Config) { c.Format, c.Symbols = format.Coinbase, []string{"BTCUSD"} }, `--symbols: "BTCUSD": want a product id`},
		{"empty symbol", func(c *Config) { c.Symbols = []string{"BTCUSDT", ""} }, `--symbols: "": want 1 to 32 characters`},
		{"duplicate symbol", func(c *Config) { c.Symbols = []string{"BTCUSDT", "btcusdt"} }, `--symbols: "btcusdt" given twice`},
		{"negative rate", func(c *Config) { c.Rate = -1 }, "--rate -1"},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "--rate 0 with --pattern constant"},
		{"bad pattern", func(c *Config) { c.Pattern = "sine" }, `--pattern "sine": unknown pattern`},
		{"bad burst", func(c *Config) { c.Pattern = "burst:10/20ms@10ms" }, "burst length must be shorter than its period"},
		{"bad stage", func(c *Config) { c.Pattern = "staged:500@10x" }, `stage length "10x"`},
		{"silent stages", func(c *Config) { c.Pattern = "staged:0@1s" }, "every stage has rate 0"},
		{"constant with arg", func(c *Config) { c.Pattern = "constant:5" }, "constant takes no argument"},
		{"tls 1.1", func(c *Config) { c.TLS.Version = "1.1" }, `--tls "1.1"`},
		{"cipher on 1.3", func(c *Config) { c.TLS.Cipher = "aes128gcm" }, "--cipher applies to --tls 1.2 only"},
		{"no tls ignores tls", func(c *Config) { c.NoTLS = true; c.TLS.Version = "1.1" }, ""},
		{"no context takeover without deflate", func(c *Config) { c.DeflateNoContextTakeover = true }, "--deflate-no-context-takeover needs --deflate"},
		{"queue too big", func(c *Config) { c.Queue = maxQueue + 1 }, "--queue 1048577"},
		{"queue negative", func(c *Config) { c.Queue = -1 }, "--queue -1"},
		{"slow policy", func(c *Config) { c.SlowPolicy = "block" }, `--slow-policy "block": want drop-oldest or disconnect`},
		{"ping timeout", func(c *Config) { c.PingTimeout = -time.Second }, "--ping-timeout -1s"},
		{"speed without replay", func(c *Config) { c.Speed = 2 }, "--speed applies to --replay only"},
		{"negative speed", func(c *Config) { c.Speed = -1; c.Replay = "x" }, "--speed -1"},
		{"replay and record", func(c *Config) { c.Replay, c.Record = "a", "b" }, "--replay and --record cannot be combined"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.mod(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func offsets(s schedule, n int) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = s.next()
	}
	return out
}

func TestSchedules(t *testing.T) {
	ms, us := time.Millisecond, time.Microsecond
	tests := []struct {
		pattern string
		rate    float64
		want    []time.Duration
	}{
		{"constant", 1000, []time.Duration{0, ms, 2 * ms, 3 * ms}},
		{"constant", 3, []time.Duration{0, 333333333, 666666666, time.Second}},
		{"burst:4/1ms@10ms", 0, []time.Duration{0, 250 * us, 500 * us, 750 * us, 10 * ms, 10*ms + 250*us}},
		{"burst:1/0s@5ms", 0, []time.Duration{0, 5 * ms, 10 * ms}},
		{"staged:1000@3ms,0@5ms,500@4ms", 0, []time.Duration{0, ms, 2 * ms, 8 * ms, 10 * ms, 12 * ms, 13 * ms, 14 * ms}},
	}
	for _, tt := range tests {
		p, err := parsePattern(tt.pattern, tt.rate)
		if err != nil {
			t.Fatal(err)
		}
		got := offsets(p.newSchedule(nil), len(tt.want))
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: offsets %v, want %v", tt.pattern, got, tt.want)
				break
			}
		}
	}
}

// TestPoisson: the mean gap is 1/rate and gaps vary (coefficient of
// variation near 1, as for an exponential distribution).
func TestPoisson(t *testing.T) {
	p, err := parsePattern("poisson", 2000)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20000
	o := offsets(p.newSchedule(rand.New(rand.NewPCG(1, 2))), n)
	var sum, sq float64
	prev := time.Duration(0)
	for _, x := range o {
		if x < prev {
			t.Fatalf("offsets go back: %v after %v", x, prev)
		}
		g := float64(x - prev)
		sum += g
		sq += g * g
		prev = x
	}
	mean := sum / n
	cv := (sq/n - mean*mean) / (mean * mean)
	if mean < 475e3 || mean > 525e3 {
		t.Errorf("mean gap %.0f ns, want 500000 ±5%%", mean)
	}
	if cv < 0.9 || cv > 1.1 {
		t.Errorf("squared coefficient of variation %.2f, want about 1", cv)
	}
}

// TestPriceProcess: the same seed gives the same prices; bid < ask; the last
// trade is at the bid or the ask.
func TestPriceProcess(t *testing.T) {
	run := func(seed uint64) []format.Tick {
		p := priceProcess{rng: rand.New(rand.NewPCG(seed, 1)), mid: startPrice("BTCUSDT")}
		out := make([]format.Tick, 1000)
		for i := range out {
			p.step(&out[i])
		}
		return out
	}
	a, b, c := run(7), run(7), run(8)
	if a[999] != b[999] {
		t.Fatal("same seed, different prices")
	}
	if a[999] == c[999] {
		t.Fatal("different seeds, same prices")
	}
	for i, x := range a {
		if !(x.Bid < x.Ask) || (x.Last != x.Bid && x.Last != x.Ask) || x.Size <= 0 {
			t.Fatalf("tick %d inconsistent: %+v", i, x)
		}
		if x.Bid < 50000 || x.Ask > 80000 {
			t.Fatalf("tick %d: price wandered off: %+v", i, x)
		}
	}
}
