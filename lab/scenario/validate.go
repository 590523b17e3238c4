package scenario

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

var (
	// namePattern: exchange and trader names (they name namespaces and links).
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)
	// scenarioNamePattern: the scenario's name (it names the results folder).
	scenarioNamePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
)

// Formats the lab's feed speaks.
var Formats = []string{"lab", "binance", "coinbase"}

// DefaultSymbols are used when a feed names none.
func DefaultSymbols(format string) []string {
	if format == "coinbase" {
		return []string{"BTC-USD", "ETH-USD"}
	}
	return []string{"BTCUSDT", "ETHUSDT"}
}

// MetricNames and QuantileNames are what gate thresholds may name.
var (
	MetricNames   = []string{"feed_latency", "tick_to_trade", "order_to_ack"}
	QuantileNames = []string{"p50", "p90", "p99", "p999", "max", "mean"}
)

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Check is an extra validation step that owners of other packages provide
// (strategies, rate patterns): it reports problems through f.Errorf.
type Check func(f *File) Errors

// Errorf makes an Error positioned at a field path (for Check functions).
func (f *File) Errorf(path, format string, args ...any) *Error {
	return f.errorAt(path, format, args...)
}

// Validate fills defaults (fillDefaults) and then checks every field. It
// reports all problems found, in file order.
func (f *File) Validate(checks ...Check) error {
	f.Scenario.fillDefaults()
	c := &checker{f: f}
	s := &f.Scenario
	c.top(s)
	c.capture(&s.Capture)
	exch := c.exchanges(s.Exchanges)
	c.traders(s.Traders, exch)
	c.gate(&s.Gate)
	for _, check := range checks {
		c.errs = append(c.errs, check(f)...)
	}
	if len(c.errs) > 0 {
		return c.errs
	}
	return nil
}

// checker collects the problems of a scenario whose defaults are filled,
// each positioned at its field.
type checker struct {
	f    *File
	errs Errors
}

func (c *checker) add(path, format string, args ...any) {
	c.errs = append(c.errs, c.f.errorAt(path, format, args...))
}

// value reports a value that did not parse (nil: nothing to report). The
// path names the field, so an internal/units error goes without its
// "units: " prefix.
func (c *checker) value(path string, err error) {
	if ue, ok := errors.AsType[*units.Error](err); ok {
		c.add(path, "%s", ue.Detail())
	} else if err != nil {
		c.add(path, "%v", err)
	}
}

func (c *checker) top(s *Scenario) {
	if s.Name == "" {
		c.add("name", "required")
	} else if !scenarioNamePattern.MatchString(s.Name) {
		c.add("name", "%q: use letters, digits, '.', '_' and '-' (it names the results folder)", s.Name)
	}
	c.value("duration", s.Duration.err)
	c.value("warmup", s.Warmup.err)
	if s.Duration.err == nil {
		if s.Duration.D <= 0 {
			c.add("duration", "required and > 0 (for example 20s)")
		} else if s.Duration.D > 24*time.Hour {
			c.add("duration", "%s is more than 24h", s.Duration.D)
		}
	}
	if s.Warmup.err == nil && s.Duration.D > 0 && s.Warmup.D >= s.Duration.D {
		c.add("warmup", "%s must be shorter than duration %s", s.Warmup.D, s.Duration.D)
	}
	if s.Repeat < 0 || s.Repeat > 100 {
		c.add("repeat", "%d: want 1..100", s.Repeat)
	}
}

func (c *checker) capture(cp *Capture) {
	seen := map[string]bool{}
	for i, m := range cp.Modes {
		p := fmt.Sprintf("capture.modes.%d", i)
		if m != "local" && m != "mirror" {
			c.add(p, "%q: want local or mirror", m)
		} else if seen[m] {
			c.add(p, "%q twice", m)
		}
		seen[m] = true
	}
	c.value("capture.snaplen", cp.Snaplen.err)
	if cp.Snaplen.N != 0 && cp.Snaplen.N < 96 {
		c.add("capture.snaplen", "%d bytes would cut TCP headers: use 0 (whole frames) or at least 96", cp.Snaplen.N)
	} else if cp.Snaplen.N > 262144 {
		c.add("capture.snaplen", "%d bytes: at most 262144 (a 64 KiB GSO frame fits)", cp.Snaplen.N)
	}
	if cp.Mirror.VNI < 0 || cp.Mirror.VNI > 1<<24-1 {
		c.add("capture.mirror.vni", "%d: a VNI is 0..16777215", cp.Mirror.VNI)
	}
	c.value("capture.mirror.truncate", cp.Mirror.Truncate.err)
	if t := cp.Mirror.Truncate.N; t != 0 && t < 96 {
		c.add("capture.mirror.truncate", "%d bytes would cut TCP headers (AWS allows 1..65535; the monitor needs at least 96)", t)
	} else if t > 65535 {
		c.add("capture.mirror.truncate", "%d bytes: AWS allows 1..65535", t)
	}
	c.link("capture.mirror.link", cp.Mirror.Link)
}

// exchanges checks every exchange and returns their names (to the index of
// the last with that name), which traders refer to.
func (c *checker) exchanges(exchanges []Exchange) map[string]int {
	exch := map[string]int{}
	if len(exchanges) == 0 {
		c.add("exchanges", "at least one exchange is required")
	}
	if len(exchanges) > 16 {
		c.add("exchanges", "%d exchanges: at most 16", len(exchanges))
	}
	for i := range exchanges {
		e := &exchanges[i]
		p := fmt.Sprintf("exchanges.%d", i)
		if !namePattern.MatchString(e.Name) {
			c.add(p+".name", "%q: want 1-16 of a-z, 0-9 and '-', starting with a letter", e.Name)
		} else if _, dup := exch[e.Name]; dup {
			c.add(p+".name", "%q is used twice", e.Name)
		}
		exch[e.Name] = i
		c.exchange(p, e)
	}
	return exch
}

// exchange checks one exchange's feed, order API and link (p is its path).
func (c *checker) exchange(p string, e *Exchange) {
	fd := &e.Feed
	if !contains(Formats, fd.Format) {
		c.add(p+".feed.format", "%q: want one of %s", fd.Format, strings.Join(Formats, ", "))
	}
	if fd.Rate < 0 || fd.Rate > 1e6 {
		c.add(p+".feed.rate", "%g messages/s: want 0..1000000", fd.Rate)
	}
	for j, sym := range fd.Symbols {
		if sym == "" || strings.ContainsAny(sym, " ,/@") {
			c.add(fmt.Sprintf("%s.feed.symbols.%d", p, j), "%q is not a symbol", sym)
		}
	}
	c.tls(p+".feed", fd.TLS, fd.Cipher)
	c.tls(p+".orderapi", e.OrderAPI.TLS, e.OrderAPI.Cipher)
	if fd.Queue < 0 || fd.Queue > 1<<20 {
		c.add(p+".feed.queue", "%d: want 0..1048576 messages", fd.Queue)
	}
	if sp := fd.SlowPolicy; sp != "" && sp != "drop-oldest" && sp != "disconnect" {
		c.add(p+".feed.slow_policy", "%q: want drop-oldest or disconnect", sp)
	}
	if fd.TimeUnit != "us" && fd.TimeUnit != "ms" {
		c.add(p+".feed.time_unit", "%q: want us or ms", fd.TimeUnit)
	}
	if fd.TimeUnit == "ms" && fd.Format != "binance" {
		c.add(p+".feed.time_unit", "ms applies to the binance format only (lab carries ns, coinbase RFC 3339 ns)")
	}
	if fd.Speed < 0 {
		c.add(p+".feed.speed", "%g: want > 0", fd.Speed)
	} else if fd.Speed > 0 && fd.Replay == "" {
		c.add(p+".feed.speed", "applies to a replay: set feed.replay too")
	}
	if e.OrderAPI.AckDelay != "" {
		_, err := units.ParseDist(e.OrderAPI.AckDelay)
		c.value(p+".orderapi.ack_delay", err)
	}
	c.value(p+".orderapi.reject_rate", e.OrderAPI.RejectRate.err)
	if e.OrderAPI.RateLimit < 0 {
		c.add(p+".orderapi.rate_limit", "%g: want >= 0", e.OrderAPI.RateLimit)
	}
	c.link(p+".link", e.Link)
}

// traders checks every trader against the exchanges' names exch.
func (c *checker) traders(traders []Trader, exch map[string]int) {
	if len(traders) == 0 {
		c.add("traders", "at least one trader is required")
	}
	if len(traders) > 16 {
		c.add("traders", "%d traders: at most 16", len(traders))
	}
	names := map[string]bool{}
	for i := range traders {
		t := &traders[i]
		p := fmt.Sprintf("traders.%d", i)
		if !namePattern.MatchString(t.Name) {
			c.add(p+".name", "%q: want 1-16 of a-z, 0-9 and '-', starting with a letter", t.Name)
		} else if names[t.Name] {
			c.add(p+".name", "%q is used twice", t.Name)
		} else if _, clash := exch[t.Name]; clash {
			c.add(p+".name", "%q is also an exchange's name", t.Name)
		}
		names[t.Name] = true
		if t.Strategy == "" {
			c.add(p+".strategy", "required")
		}
		if len(t.Feeds) == 0 {
			c.add(p+".feeds", "name at least one exchange whose feed it reads")
		}
		for j, fe := range t.Feeds {
			if _, ok := exch[fe]; !ok {
				c.add(fmt.Sprintf("%s.feeds.%d", p, j), "no exchange named %q", fe)
			}
		}
		if _, ok := exch[t.Orders]; !ok && t.Orders != "" {
			c.add(p+".orders", "no exchange named %q", t.Orders)
		}
		if t.Clients < 1 || t.Clients > 64 {
			c.add(p+".clients", "%d: want 1..64", t.Clients)
		}
		c.link(p+".link", t.Link)
	}
}

func (c *checker) gate(g *Gate) {
	for i, m := range g.Metrics {
		if !contains(MetricNames, m) {
			c.add(fmt.Sprintf("gate.metrics.%d", i), "%q: want one of %s", m, strings.Join(MetricNames, ", "))
		}
	}
	for i, q := range g.Quantiles {
		if !contains(QuantileNames, q) {
			c.add(fmt.Sprintf("gate.quantiles.%d", i), "%q: want one of %s", q, strings.Join(QuantileNames, ", "))
		}
	}
	if g.Alpha <= 0 || g.Alpha > 0.5 {
		c.add("gate.alpha", "%g: want a significance level in (0, 0.5]", g.Alpha)
	}
	c.value("gate.min_effect", g.MinEffect.err)
	c.value("gate.floor", g.Floor.err)
	for _, k := range sortedKeys(g.SLO) {
		m, q, ok := strings.Cut(k, ".")
		if !ok || !contains(MetricNames, m) || !contains(QuantileNames, q) {
			c.add("gate.slo."+k, "want metric.quantile, for example tick_to_trade.p99")
		}
		c.value("gate.slo."+k, g.SLO[k].err)
	}
}

// tls checks a TLS version and cipher at path p (a feed or an order API).
func (c *checker) tls(p, version, cipher string) {
	if version != "" && version != "1.2" && version != "1.3" {
		c.add(p+".tls", "%q: want 1.2 or 1.3", version)
	}
	if cipher != "" && version != "1.2" {
		c.add(p+".cipher", "applies to tls: \"1.2\" only (TLS 1.3 suites are negotiated)")
	}
}

// link checks a link's shared values and its up and down overrides.
func (c *checker) link(p string, l Link) {
	dirs := []struct {
		path string
		d    *LinkDir
	}{{p, &l.LinkDir}, {p + ".up", l.Up}, {p + ".down", l.Down}}
	for _, x := range dirs {
		if x.d == nil {
			continue
		}
		d := x.d
		c.value(x.path+".delay", d.Delay.err)
		c.value(x.path+".jitter", d.Jitter.err)
		c.value(x.path+".loss", d.Loss.err)
		c.value(x.path+".rate", d.Rate.err)
		if d.Delay.D > 10*time.Second {
			c.add(x.path+".delay", "%s: at most 10s", d.Delay.D)
		}
		if d.Jitter.D > 10*time.Second {
			c.add(x.path+".jitter", "%s: at most 10s", d.Jitter.D)
		}
		if d.JitterDist != "" && d.JitterDist != "uniform" && d.JitterDist != "normal" {
			c.add(x.path+".jitter_dist", "%q: want uniform or normal", d.JitterDist)
		}
		if d.Queue < 0 {
			c.add(x.path+".queue", "%d: want >= 0", d.Queue)
		}
		if d.Rate.BPS != 0 && d.Rate.BPS < 8000 {
			c.add(x.path+".rate", "%d bit/s is below 8kbit", d.Rate.BPS)
		}
	}
}
