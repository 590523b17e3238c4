package runner

import (
	"fmt"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/topology"
)

// feedFlags turns the scenario's feed section into `cloudpcap feed` flags.
func feedFlags(f scenario.Feed) []string {
	var a []string
	if f.Rate > 0 {
		a = append(a, "--rate", strconv.FormatFloat(f.Rate, 'g', -1, 64))
	}
	if f.Pattern != "" {
		a = append(a, "--pattern", f.Pattern)
	}
	if f.TLS != "" {
		a = append(a, "--tls", f.TLS)
	}
	if f.Cipher != "" {
		a = append(a, "--cipher", f.Cipher)
	}
	if f.Deflate {
		a = append(a, "--deflate")
	}
	if f.NoContextTakeover {
		a = append(a, "--deflate-no-context-takeover")
	}
	if f.Queue > 0 {
		a = append(a, "--queue", strconv.Itoa(f.Queue))
	}
	if f.SlowPolicy != "" {
		a = append(a, "--slow-policy", f.SlowPolicy)
	}
	if f.Replay != "" {
		a = append(a, "--replay", f.Replay)
	}
	if f.Speed > 0 {
		a = append(a, "--speed", strconv.FormatFloat(f.Speed, 'g', -1, 64))
	}
	return append(a, f.Extra...)
}

// orderFlags turns the scenario's orderapi section into `cloudpcap orderapi` flags.
func orderFlags(o scenario.OrderAPI) []string {
	var a []string
	if o.AckDelay != "" {
		a = append(a, "--ack-delay", o.AckDelay)
	}
	if o.RejectRate.F > 0 {
		a = append(a, "--reject-rate", strconv.FormatFloat(o.RejectRate.F, 'g', -1, 64))
	}
	if o.RateLimit > 0 {
		a = append(a, "--rate-limit", strconv.FormatFloat(o.RateLimit, 'g', -1, 64))
	}
	if o.TLS != "" {
		a = append(a, "--tls", o.TLS)
	}
	if o.Cipher != "" {
		a = append(a, "--cipher", o.Cipher)
	}
	return append(a, o.Extra...)
}

// traderArgs is the `cloudpcap trader` command line of a scenario trader.
func (r *repetition) traderArgs(t scenario.Trader) []string {
	args := []string{"trader", "--insecure", "--strategy", t.Strategy, "--clients", strconv.Itoa(t.Clients),
		"--keylog", r.keyLog(t), "--timestamps", filepath.Join(r.dir, results.StampsFile(t.Name)),
		"--stats", filepath.Join(r.dir, results.TraderStatsFile(t.Name)), "--duration", r.sc.Duration.D.String(), "--id-prefix", t.Name + "-"}
	for _, fe := range t.Feeds {
		args = append(args, "--feed", feedURL(r.sc, r.topo, fe, t))
	}
	oh := r.topo.Host(topology.Exchange, t.Orders)
	args = append(args, "--orders", fmt.Sprintf("https://%s:%d", oh.Addr, OrderPort))
	keys := make([]string, 0, len(t.Params))
	for k := range t.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "--param", k+"="+string(t.Params[k]))
	}
	return append(args, t.Extra...)
}

// feedURL is the URL a trader subscribes to on an exchange's feed: every
// symbol's main stream by path, or the trader's own stream list.
func feedURL(sc *scenario.Scenario, topo *topology.Topology, exchange string, t scenario.Trader) string {
	var e scenario.Exchange
	for _, x := range sc.Exchanges {
		if x.Name == exchange {
			e = x
		}
	}
	streams := t.Streams
	if len(streams) == 0 {
		f, _ := format.ParseFormat(e.Feed.Format) // validated with the scenario
		for _, s := range e.Feed.Symbols {
			streams = append(streams, f.MainStream(s))
		}
	}
	h := topo.Host(topology.Exchange, exchange)
	u := fmt.Sprintf("wss://%s:%d/ws/%s", h.Addr, FeedPort, strings.Join(streams, "/"))
	if e.Feed.Format == "binance" && e.Feed.TimeUnit != "ms" {
		u += "?timeUnit=MICROSECOND"
	}
	return u
}
