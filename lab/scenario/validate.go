package scenario

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/internal/units"
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,15}$`)

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

// Validate fills defaults and checks every field. It reports all problems
// found, in file order.
func (f *File) Validate(checks ...Check) error {
	var errs Errors
	add := func(path, format string, args ...any) {
		errs = append(errs, f.errorAt(path, format, args...))
	}
	s := &f.Scenario
	valueErr := func(path string, err error) {
		if ue, ok := errors.AsType[*units.Error](err); ok {
			add(path, "%s", ue.Detail()) // the path names the field: no "units: "
		} else if err != nil {
			add(path, "%v", err)
		}
	}

	if s.Name == "" {
		add("name", "required")
	} else if !regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`).MatchString(s.Name) {
		add("name", "%q: use letters, digits, '.', '_' and '-' (it names the results folder)", s.Name)
	}
	valueErr("duration", s.Duration.err)
	valueErr("warmup", s.Warmup.err)
	if s.Duration.err == nil {
		if s.Duration.D <= 0 {
			add("duration", "required and > 0 (for example 20s)")
		} else if s.Duration.D > 24*time.Hour {
			add("duration", "%s is more than 24h", s.Duration.D)
		}
	}
	if s.Warmup.err == nil && s.Duration.D > 0 && s.Warmup.D >= s.Duration.D {
		add("warmup", "%s must be shorter than duration %s", s.Warmup.D, s.Duration.D)
	}
	if s.Repeat < 0 || s.Repeat > 100 {
		add("repeat", "%d: want 1..100", s.Repeat)
	}
	if s.Repeat == 0 {
		s.Repeat = 1
	}

	// capture
	if len(s.Capture.Modes) == 0 {
		s.Capture.Modes = []string{"local"}
	}
	seen := map[string]bool{}
	for i, m := range s.Capture.Modes {
		p := fmt.Sprintf("capture.modes.%d", i)
		if m != "local" && m != "mirror" {
			add(p, "%q: want local or mirror", m)
		} else if seen[m] {
			add(p, "%q twice", m)
		}
		seen[m] = true
	}
	valueErr("capture.snaplen", s.Capture.Snaplen.err)
	if s.Capture.Snaplen.N != 0 && s.Capture.Snaplen.N < 96 {
		add("capture.snaplen", "%d bytes would cut TCP headers: use 0 (whole frames) or at least 96", s.Capture.Snaplen.N)
	} else if s.Capture.Snaplen.N > 262144 {
		add("capture.snaplen", "%d bytes: at most 262144 (a 64 KiB GSO frame fits)", s.Capture.Snaplen.N)
	}
	if s.Capture.Mirror.VNI < 0 || s.Capture.Mirror.VNI > 1<<24-1 {
		add("capture.mirror.vni", "%d: a VNI is 0..16777215", s.Capture.Mirror.VNI)
	}
	if s.Capture.Mirror.VNI == 0 {
		s.Capture.Mirror.VNI = 1
	}
	valueErr("capture.mirror.truncate", s.Capture.Mirror.Truncate.err)
	if t := s.Capture.Mirror.Truncate.N; t != 0 && t < 96 {
		add("capture.mirror.truncate", "%d bytes would cut TCP headers (AWS allows 1..65535; the monitor needs at least 96)", t)
	} else if t > 65535 {
		add("capture.mirror.truncate", "%d bytes: AWS allows 1..65535", t)
	}
	f.validateLink("capture.mirror.link", s.Capture.Mirror.Link, add, valueErr)
	if s.Capture.Events == nil {
		t := true
		s.Capture.Events = &t
	}

	// exchanges
	exch := map[string]int{}
	if len(s.Exchanges) == 0 {
		add("exchanges", "at least one exchange is required")
	}
	if len(s.Exchanges) > 16 {
		add("exchanges", "%d exchanges: at most 16", len(s.Exchanges))
	}
	for i := range s.Exchanges {
		e := &s.Exchanges[i]
		p := fmt.Sprintf("exchanges.%d", i)
		if !namePattern.MatchString(e.Name) {
			add(p+".name", "%q: want 1-16 of a-z, 0-9 and '-', starting with a letter", e.Name)
		} else if _, dup := exch[e.Name]; dup {
			add(p+".name", "%q is used twice", e.Name)
		}
		exch[e.Name] = i
		if e.Feed.Format == "" {
			e.Feed.Format = "lab"
		}
		if !contains(Formats, e.Feed.Format) {
			add(p+".feed.format", "%q: want one of %s", e.Feed.Format, strings.Join(Formats, ", "))
		}
		if e.Feed.Rate < 0 || e.Feed.Rate > 1e6 {
			add(p+".feed.rate", "%g messages/s: want 0..1000000", e.Feed.Rate)
		}
		if e.Feed.Rate == 0 && e.Feed.Replay == "" {
			e.Feed.Rate = 100
		}
		if len(e.Feed.Symbols) == 0 {
			e.Feed.Symbols = DefaultSymbols(e.Feed.Format)
		}
		for j, sym := range e.Feed.Symbols {
			if sym == "" || strings.ContainsAny(sym, " ,/@") {
				add(fmt.Sprintf("%s.feed.symbols.%d", p, j), "%q is not a symbol", sym)
			}
		}
		tlsCheck(p+".feed", e.Feed.TLS, e.Feed.Cipher, add)
		tlsCheck(p+".orderapi", e.OrderAPI.TLS, e.OrderAPI.Cipher, add)
		if e.Feed.Queue < 0 || e.Feed.Queue > 1<<20 {
			add(p+".feed.queue", "%d: want 0..1048576 messages", e.Feed.Queue)
		}
		if sp := e.Feed.SlowPolicy; sp != "" && sp != "drop-oldest" && sp != "disconnect" {
			add(p+".feed.slow_policy", "%q: want drop-oldest or disconnect", sp)
		}
		switch e.Feed.TimeUnit {
		case "":
			e.Feed.TimeUnit = "us"
		case "us", "ms":
		default:
			add(p+".feed.time_unit", "%q: want us or ms", e.Feed.TimeUnit)
		}
		if e.Feed.TimeUnit == "ms" && e.Feed.Format != "binance" {
			add(p+".feed.time_unit", "ms applies to the binance format only (lab carries ns, coinbase RFC 3339 ns)")
		}
		if e.Feed.Speed < 0 {
			add(p+".feed.speed", "%g: want > 0", e.Feed.Speed)
		} else if e.Feed.Speed > 0 && e.Feed.Replay == "" {
			add(p+".feed.speed", "applies to a replay: set feed.replay too")
		}
		if e.OrderAPI.AckDelay != "" {
			_, err := units.ParseDist(e.OrderAPI.AckDelay)
			valueErr(p+".orderapi.ack_delay", err)
		}
		valueErr(p+".orderapi.reject_rate", e.OrderAPI.RejectRate.err)
		if e.OrderAPI.RateLimit < 0 {
			add(p+".orderapi.rate_limit", "%g: want >= 0", e.OrderAPI.RateLimit)
		}
		f.validateLink(p+".link", e.Link, add, valueErr)
	}

	// traders
	if len(s.Traders) == 0 {
		add("traders", "at least one trader is required")
	}
	if len(s.Traders) > 16 {
		add("traders", "%d traders: at most 16", len(s.Traders))
	}
	names := map[string]bool{}
	for i := range s.Traders {
		t := &s.Traders[i]
		p := fmt.Sprintf("traders.%d", i)
		if !namePattern.MatchString(t.Name) {
			add(p+".name", "%q: want 1-16 of a-z, 0-9 and '-', starting with a letter", t.Name)
		} else if names[t.Name] {
			add(p+".name", "%q is used twice", t.Name)
		} else if _, clash := exch[t.Name]; clash {
			add(p+".name", "%q is also an exchange's name", t.Name)
		}
		names[t.Name] = true
		if t.Strategy == "" {
			add(p+".strategy", "required")
		}
		if len(t.Feeds) == 0 {
			add(p+".feeds", "name at least one exchange whose feed it reads")
		}
		for j, fe := range t.Feeds {
			if _, ok := exch[fe]; !ok {
				add(fmt.Sprintf("%s.feeds.%d", p, j), "no exchange named %q", fe)
			}
		}
		if t.Orders == "" && len(t.Feeds) > 0 {
			t.Orders = t.Feeds[0]
		} else if _, ok := exch[t.Orders]; !ok && t.Orders != "" {
			add(p+".orders", "no exchange named %q", t.Orders)
		}
		if t.Clients == 0 {
			t.Clients = 1
		}
		if t.Clients < 1 || t.Clients > 64 {
			add(p+".clients", "%d: want 1..64", t.Clients)
		}
		f.validateLink(p+".link", t.Link, add, valueErr)
	}

	// gate
	g := &s.Gate
	if len(g.Metrics) == 0 {
		g.Metrics = append([]string(nil), MetricNames...)
	}
	for i, m := range g.Metrics {
		if !contains(MetricNames, m) {
			add(fmt.Sprintf("gate.metrics.%d", i), "%q: want one of %s", m, strings.Join(MetricNames, ", "))
		}
	}
	if len(g.Quantiles) == 0 {
		g.Quantiles = []string{"p50", "p99"}
	}
	for i, q := range g.Quantiles {
		if !contains(QuantileNames, q) {
			add(fmt.Sprintf("gate.quantiles.%d", i), "%q: want one of %s", q, strings.Join(QuantileNames, ", "))
		}
	}
	if g.Alpha == 0 {
		g.Alpha = 0.05
	}
	if g.Alpha <= 0 || g.Alpha > 0.5 {
		add("gate.alpha", "%g: want a significance level in (0, 0.5]", g.Alpha)
	}
	valueErr("gate.min_effect", g.MinEffect.err)
	valueErr("gate.floor", g.Floor.err)
	for _, k := range sortedKeys(g.SLO) {
		m, q, ok := strings.Cut(k, ".")
		if !ok || !contains(MetricNames, m) || !contains(QuantileNames, q) {
			add("gate.slo."+k, "want metric.quantile, for example tick_to_trade.p99")
		}
		valueErr("gate.slo."+k, g.SLO[k].err)
	}

	for _, c := range checks {
		errs = append(errs, c(f)...)
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

func tlsCheck(p, version, cipher string, add func(string, string, ...any)) {
	if version != "" && version != "1.2" && version != "1.3" {
		add(p+".tls", "%q: want 1.2 or 1.3", version)
	}
	if cipher != "" && version != "1.2" {
		add(p+".cipher", "applies to tls: \"1.2\" only (TLS 1.3 suites are negotiated)")
	}
}

func (f *File) validateLink(p string, l Link, add func(string, string, ...any), valueErr func(string, error)) {
	dirs := []struct {
		path string
		d    *LinkDir
	}{{p, &l.LinkDir}, {p + ".up", l.Up}, {p + ".down", l.Down}}
	for _, x := range dirs {
		if x.d == nil {
			continue
		}
		d := x.d
		valueErr(x.path+".delay", d.Delay.err)
		valueErr(x.path+".jitter", d.Jitter.err)
		valueErr(x.path+".loss", d.Loss.err)
		valueErr(x.path+".rate", d.Rate.err)
		if d.Delay.D > 10*time.Second {
			add(x.path+".delay", "%s: at most 10s", d.Delay.D)
		}
		if d.Jitter.D > 10*time.Second {
			add(x.path+".jitter", "%s: at most 10s", d.Jitter.D)
		}
		if d.JitterDist != "" && d.JitterDist != "uniform" && d.JitterDist != "normal" {
			add(x.path+".jitter_dist", "%q: want uniform or normal", d.JitterDist)
		}
		if d.Queue < 0 {
			add(x.path+".queue", "%d: want >= 0", d.Queue)
		}
		if d.Rate.BPS != 0 && d.Rate.BPS < 8000 {
			add(x.path+".rate", "%d bit/s is below 8kbit", d.Rate.BPS)
		}
	}
}
