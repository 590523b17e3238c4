// Package correlate turns decoded messages into latency records: feed
// latency per tick, tick-to-trade per order (explicit when the order names
// its tick, else the last tick that host saw before it), order-to-ack per
// ack, and sequence gaps per feed stream. It keeps the HDR histograms of the
// whole capture and of each group (feed connection, exchange, trader).
//
// Input must come in capture order (the monitor feeds it packet by packet);
// output events are then in wire order and deterministic.
//
// Buffers: byte slices passed in (profile.Fields, payloads) are used during
// the call only. Each message becomes one event.Event (a line of the events
// file) handed to the Sink; it points into the caller's and the
// correlator's buffers and is valid only during Sink.Event. The correlator
// keeps a bounded ring of recent ticks per feed connection for explicit
// matching. Not safe for concurrent use.
package correlate

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"net/netip"
	"regexp"
	"sort"

	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

// Sink receives events in wire order (event.Writer writes them to a file).
type Sink interface {
	Event(*event.Event) error
}

// Labels name groups. Empty functions use addresses: the exchange is the
// server address (or the TLS server name when known), the trader the
// client's IP address.
type Labels struct {
	Exchange func(conn stream.ConnKey) string
	Trader   func(client netip.Addr) string
}

// Config sets the correlator's bounds.
type Config struct {
	TickRing  int // recent ticks kept per feed connection for explicit matching (default 65536)
	Labels    Labels
	WarmupEnd int64 // events before this wire time are emitted but not in the statistics
	// OrderTick returns the order-tick rule for the orders of a client
	// host, nil for none: a regular expression matched against the
	// order's client order id (as the profile reads it) whose first group
	// is the decimal sequence number of the tick that triggered the order,
	// in the numbering of the profile's ticks (a Binance trade id). Such an
	// order is matched explicitly to that tick, on any feed connection of
	// the same host and symbol; one that names a tick the capture lacks is
	// counted in RuleMisses and falls back to the last tick.
	OrderTick func(client netip.Addr) *regexp.Regexp
	// MaxConnGroups bounds the per-feed-connection groups (default 256);
	// later connections are grouped as OtherConns.
	MaxConnGroups int
}

// OtherConns names the group of feed connections beyond Config.MaxConnGroups.
const OtherConns = "(other connections)"

type tickRec struct {
	seq    uint64
	sym    uint64 // hash of the symbol
	wire   int64
	hasSeq bool
}

type feedConn struct {
	key   stream.ConnKey
	ring  []tickRec // grows by doubling up to Config.TickRing, then wraps
	max   int
	next  int
	full  bool
	group *groupStats
	// gap detection per stream+symbol
	last map[uint64]uint64
	// closedAt is the capture time TCP closed the connection (0: open).
	closedAt int64
}

type groupStats struct {
	set *latency.Set
}

// connGroups caches the exchange and trader groups of a connection so that
// the per-message path neither formats names nor allocates.
type connGroups struct {
	exchange, trader *groupStats
}

// Gaps counts sequence anomalies of contiguous streams.
type Gaps struct {
	Gaps       int64 `json:"gaps"`         // places where sequence numbers were skipped
	Missing    int64 `json:"missing"`      // messages skipped in total
	Duplicates int64 `json:"duplicates"`   // sequence numbers seen again or going back
	NoExchTime int64 `json:"no_exch_time"` // ticks without an exchange timestamp
}

// Counts are the correlator's totals.
type Counts struct {
	Ticks           int64 `json:"ticks"`
	Orders          int64 `json:"orders"`
	OrdersExplicit  int64 `json:"orders_explicit"`
	OrdersLastTick  int64 `json:"orders_last_tick"`
	OrdersUnmatched int64 `json:"orders_unmatched"`
	// Orders under an order-tick rule (Config.OrderTick) whose client order
	// id named a tick the capture does not have (they fell back to the
	// last tick), and whose id the rule did not match at all.
	RuleMisses     int64 `json:"rule_misses,omitempty"`
	RuleNoMatch    int64 `json:"rule_no_match,omitempty"`
	Acks           int64 `json:"acks"`
	AcksUnpaired   int64 `json:"acks_unpaired"`
	Warmup         int64 `json:"warmup_excluded"`
	GroupedAsOther int64 `json:"feed_conns_grouped_as_other,omitempty"`
	Gaps
}

type hostTick struct {
	conn  stream.ConnKey
	rec   tickRec
	ok    bool
	group *groupStats // the feed connection's group (its state may be freed)
}

// Correlator holds the state of one analysis.
type Correlator struct {
	cfg    Config
	sink   Sink
	seed   maphash.Seed
	total  *latency.Set
	window *latency.Set // since the last TakeWindow (live views)
	feeds  map[stream.ConnKey]*feedConn
	closed []*feedConn                       // closed feed connections still kept, oldest first
	groups map[string]map[string]*groupStats // kind -> name -> stats
	byHost map[netip.Addr]*hostTick
	conns  map[stream.ConnKey]*connGroups
	counts Counts
	ev     event.Event
	// connText holds the text of the event's conn and tick_conn (formatted
	// only when there is a sink).
	connText [2][]byte

	lastFeedRaw []byte
	lastFeedKey stream.ConnKey
	lastFeedOK  bool
}

// New returns a correlator writing events to sink (nil: no events).
func New(cfg Config, sink Sink) *Correlator {
	if cfg.TickRing <= 0 {
		cfg.TickRing = 1 << 16
	}
	if cfg.MaxConnGroups <= 0 {
		cfg.MaxConnGroups = 256
	}
	c := &Correlator{
		cfg:    cfg,
		sink:   sink,
		seed:   maphash.MakeSeed(),
		total:  latency.NewSet(),
		window: latency.NewSet(),
		feeds:  map[stream.ConnKey]*feedConn{},
		groups: map[string]map[string]*groupStats{"feed_conn": {}, "exchange": {}, "trader": {}},
		byHost: map[netip.Addr]*hostTick{},
		conns:  map[stream.ConnKey]*connGroups{},
	}
	if sink != nil { // room for two bracketed IPv6 endpoints
		c.connText = [2][]byte{make([]byte, 0, 128), make([]byte, 0, 128)}
	}
	return c
}

func (c *Correlator) group(kind, name string) *groupStats {
	g := c.groups[kind][name]
	if g == nil {
		g = &groupStats{set: latency.NewSet()}
		c.groups[kind][name] = g
	}
	return g
}

func (c *Correlator) exchange(conn stream.ConnKey) string {
	if c.cfg.Labels.Exchange != nil {
		if s := c.cfg.Labels.Exchange(conn); s != "" {
			return s
		}
	}
	return conn.Server.String()
}

func (c *Correlator) trader(a netip.Addr) string {
	if c.cfg.Labels.Trader != nil {
		if s := c.cfg.Labels.Trader(a); s != "" {
			return s
		}
	}
	return a.String()
}

func (c *Correlator) connGroups(conn stream.ConnKey) *connGroups {
	g := c.conns[conn]
	if g == nil {
		g = &connGroups{exchange: c.group("exchange", c.exchange(conn)), trader: c.group("trader", c.trader(conn.Client.Addr()))}
		c.conns[conn] = g
	}
	return g
}

func (c *Correlator) feed(conn stream.ConnKey) *feedConn {
	fc := c.feeds[conn]
	if fc != nil && fc.closedAt != 0 {
		c.forget(fc) // the 4-tuple is reused by a new connection
		fc = nil
	}
	if fc == nil {
		fc = &feedConn{key: conn, ring: make([]tickRec, min(1024, c.cfg.TickRing)), max: c.cfg.TickRing, last: map[uint64]uint64{}}
		name := conn.String()
		if _, ok := c.groups["feed_conn"][name]; !ok && len(c.groups["feed_conn"]) >= c.cfg.MaxConnGroups {
			// Each group holds three HDR histograms (~768 KiB): a capture
			// with thousands of feed connections shares one group past the cap.
			name = OtherConns
			c.counts.GroupedAsOther++
		}
		fc.group = c.group("feed_conn", name)
		c.feeds[conn] = fc
	}
	return fc
}

// text formats k into connText[i] for the event, when events are written.
func (c *Correlator) text(i int, k stream.ConnKey) []byte {
	if c.sink == nil {
		return nil
	}
	c.connText[i] = k.AppendText(c.connText[i][:0])
	return c.connText[i]
}

func (c *Correlator) emit() error {
	if c.sink == nil {
		return nil
	}
	return c.sink.Event(&c.ev)
}

func (c *Correlator) inWarmup(wire int64) bool {
	if wire < c.cfg.WarmupEnd {
		c.counts.Warmup++
		return true
	}
	return false
}

// Tick records a feed message f (Kind Tick) on conn, completed on the wire
// at span.LastNS.
func (c *Correlator) Tick(conn stream.ConnKey, f *profile.Fields, span stream.Span, payload []byte) error {
	c.counts.Ticks++
	fc := c.feed(conn)
	symh := maphash.Bytes(c.seed, f.Symbol)
	if f.HasSeq && f.Contiguous {
		sk := maphash.Bytes(c.seed, f.Stream) ^ symh*31
		if last, ok := fc.last[sk]; ok {
			switch {
			case f.Seq == last+1:
			case f.Seq > last+1:
				c.counts.Gaps.Gaps++
				c.counts.Missing += int64(min(f.Seq-last-1, 1<<40)) // a hostile jump must not wrap the counter
			default:
				c.counts.Duplicates++
			}
		}
		if last, ok := fc.last[sk]; !ok || f.Seq > last {
			fc.last[sk] = f.Seq
		}
	}
	rec := tickRec{seq: f.Seq, sym: symh, wire: span.LastNS, hasSeq: f.HasSeq}
	fc.ring[fc.next] = rec
	fc.next++
	if fc.next == len(fc.ring) {
		if !fc.full && len(fc.ring) < fc.max {
			// Grow (rarely: log2 of the cap times per connection) so that a
			// capture with many quiet connections does not pay for the cap.
			grown := make([]tickRec, min(2*len(fc.ring), fc.max))
			copy(grown, fc.ring)
			fc.ring = grown
		} else {
			fc.next, fc.full = 0, true
		}
	}
	ht := c.byHost[conn.Client.Addr()]
	if ht == nil {
		ht = &hostTick{}
		c.byHost[conn.Client.Addr()] = ht
	}
	if !ht.ok || rec.wire >= ht.rec.wire { // a tick released late by a skipped hole is not the host's latest
		ht.conn, ht.rec, ht.ok, ht.group = conn, rec, true, fc.group
	}

	c.ev = event.Event{Kind: profile.Tick, Conn: c.text(0, conn), WireNS: span.LastNS, FirstWireNS: span.FirstNS,
		Seq: f.Seq, HasSeq: f.HasSeq, Symbol: f.Symbol, ExchNS: f.ExchNS, HasExch: f.HasExch, Payload: payload}
	if f.HasExch {
		c.ev.FeedLatencyNS = span.LastNS - f.ExchNS
		if !c.inWarmup(span.LastNS) {
			c.total.Feed.Record(c.ev.FeedLatencyNS)
			c.window.Feed.Record(c.ev.FeedLatencyNS)
			fc.group.set.Feed.Record(c.ev.FeedLatencyNS)
			g := c.connGroups(conn)
			g.exchange.set.Feed.Record(c.ev.FeedLatencyNS)
			g.trader.set.Feed.Record(c.ev.FeedLatencyNS)
		}
	} else {
		c.counts.NoExchTime++
	}
	return c.emit()
}

// parseConn parses docs/FORMATS.md's conn form "a:p-b:q" (client first).
func parseConn(b []byte) (stream.ConnKey, bool) {
	// IPv6 addresses are bracketed and never contain '-'.
	i := bytes.IndexByte(b, '-')
	if i < 0 {
		return stream.ConnKey{}, false
	}
	cl, err1 := netip.ParseAddrPort(string(b[:i]))
	sv, err2 := netip.ParseAddrPort(string(b[i+1:]))
	if err1 != nil || err2 != nil {
		return stream.ConnKey{}, false
	}
	return stream.ConnKey{Client: cl, Server: sv}, true
}

func (fc *feedConn) find(seq, sym uint64) (tickRec, bool) {
	n := fc.next
	if fc.full {
		n = len(fc.ring)
	}
	for i := 1; i <= n; i++ {
		j := fc.next - i
		if j < 0 {
			j += len(fc.ring)
		}
		r := fc.ring[j]
		if r.hasSeq && r.seq == seq && r.sym == sym {
			return r, true
		}
	}
	return tickRec{}, false
}

// OrderRef identifies an order so that its ack can be tied to it.
type OrderRef struct {
	WireNS int64
	Conn   stream.ConnKey
	valid  bool
}

// Order records an order request f (Kind Order) on the order connection
// conn, completed on the wire at span.LastNS. It returns the reference to
// pass to Ack with the paired response.
func (c *Correlator) Order(conn stream.ConnKey, f *profile.Fields, span stream.Span, payload []byte) (OrderRef, error) {
	c.counts.Orders++
	c.ev = event.Event{Kind: profile.Order, Conn: c.text(0, conn), WireNS: span.LastNS, FirstWireNS: span.FirstNS, OrderID: f.OrderID, Payload: payload}
	var tickConn stream.ConnKey
	var group *groupStats // the tick's feed connection's
	tick, fc, found := c.namedTick(conn, f, span.LastNS)
	if found {
		tickConn, group = fc.key, fc.group
		c.ev.Match = event.MatchExplicit
		c.counts.OrdersExplicit++
	} else if ht := c.byHost[conn.Client.Addr()]; ht != nil && ht.ok && ht.rec.wire <= span.LastNS {
		tick, tickConn, group, found = ht.rec, ht.conn, ht.group, true
		c.ev.Match = event.MatchLastTick
		c.counts.OrdersLastTick++
	}
	if !found {
		c.counts.OrdersUnmatched++
	} else {
		c.ev.TickConn, c.ev.TickSeq, c.ev.TickWireNS = c.text(1, tickConn), tick.seq, tick.wire
		c.ev.TickToTradeNS = span.LastNS - tick.wire
		if !c.inWarmup(span.LastNS) {
			c.total.T2T.Record(c.ev.TickToTradeNS)
			c.window.T2T.Record(c.ev.TickToTradeNS)
			group.set.T2T.Record(c.ev.TickToTradeNS) // not c.feed: that would reset a closed connection's ring
			g := c.connGroups(conn)
			g.exchange.set.T2T.Record(c.ev.TickToTradeNS)
			g.trader.set.T2T.Record(c.ev.TickToTradeNS)
		}
	}
	return OrderRef{WireNS: span.LastNS, Conn: conn, valid: true}, c.emit()
}

// namedTick finds the tick an order names, captured no later than the
// order (wire): the one its body names (tick_feed and tick_seq, the lab
// trader's extension), else the one its client order id names under the
// host's order-tick rule.
func (c *Correlator) namedTick(conn stream.ConnKey, f *profile.Fields, wire int64) (tickRec, *feedConn, bool) {
	symh := maphash.Bytes(c.seed, f.Symbol)
	if f.HasTick && len(f.TickFeed) > 0 {
		key, ok := c.lastFeedKey, c.lastFeedOK
		if !bytes.Equal(f.TickFeed, c.lastFeedRaw) {
			key, ok = parseConn(f.TickFeed)
			if !ok { // a bare server address "ip:port"
				if sv, err := netip.ParseAddrPort(string(f.TickFeed)); err == nil {
					key, ok = stream.ConnKey{Server: sv}, true
				}
			}
			c.lastFeedRaw = append(c.lastFeedRaw[:0], f.TickFeed...)
			c.lastFeedKey, c.lastFeedOK = key, ok
		}
		if ok {
			return latest(c.candidates(key, conn.Client.Addr()), f.TickSeq, symh, wire)
		}
		return tickRec{}, nil, false
	}
	if c.cfg.OrderTick == nil {
		return tickRec{}, nil, false
	}
	re := c.cfg.OrderTick(conn.Client.Addr())
	if re == nil {
		return tickRec{}, nil, false
	}
	seq, ok := RuleSeq(re, f.OrderID)
	if !ok {
		c.counts.RuleNoMatch++
		return tickRec{}, nil, false
	}
	var feeds []*feedConn
	for k, fc := range c.feeds {
		if k.Client.Addr() == conn.Client.Addr() {
			feeds = append(feeds, fc)
		}
	}
	r, fc, found := latest(feeds, seq, symh, wire)
	if !found {
		c.counts.RuleMisses++
	}
	return r, fc, found
}

// ParseOrderTick compiles an order-tick rule (Config.OrderTick): a Go
// regular expression (RE2 syntax) with at least one group, the first of
// which captures the tick's sequence number.
func ParseOrderTick(expr string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, fmt.Errorf("order-tick rule %#q: %w", expr, err)
	}
	if re.NumSubexp() < 1 {
		return nil, fmt.Errorf("order-tick rule %#q has no group: put the tick's sequence number in the first one, as in ^bot-(\\d+)$", expr)
	}
	return re, nil
}

// RuleSeq is the tick sequence number an order-tick rule finds in a client
// order id: the rule's first group, a decimal number.
func RuleSeq(re *regexp.Regexp, orderID []byte) (uint64, bool) {
	m := re.FindSubmatchIndex(orderID)
	if len(m) < 4 || m[2] < 0 {
		return 0, false
	}
	digits := orderID[m[2]:m[3]]
	var n uint64
	for _, d := range digits {
		if d < '0' || d > '9' || n > (1<<64-1-uint64(d-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(d-'0')
	}
	return n, len(digits) > 0
}

// latest is the most recent tick seq of symbol symh on any of feeds that
// was captured no later than wire.
func latest(feeds []*feedConn, seq, symh uint64, wire int64) (tickRec, *feedConn, bool) {
	var tick tickRec
	var from *feedConn
	for _, fc := range feeds {
		if r, ok := fc.find(seq, symh); ok && r.wire <= wire && (from == nil || r.wire > tick.wire) {
			tick, from = r, fc
		}
	}
	return tick, from, from != nil
}

// candidates returns the feed connections an order's tick reference may
// name: the exact connection, else those to the same server from the
// order's host, else any to that server.
func (c *Correlator) candidates(key stream.ConnKey, host netip.Addr) []*feedConn {
	if fc, ok := c.feeds[key]; ok {
		return []*feedConn{fc}
	}
	var same, any []*feedConn
	for k, fc := range c.feeds {
		if k.Server != key.Server {
			continue
		}
		if k.Client.Addr() == host {
			same = append(same, fc)
		}
		any = append(any, fc)
	}
	if len(same) > 0 {
		return same
	}
	return any
}

// Ack records the response f (Kind Ack) to the order ref on conn.
func (c *Correlator) Ack(conn stream.ConnKey, ref OrderRef, f *profile.Fields, span stream.Span, payload []byte) error {
	c.counts.Acks++
	c.ev = event.Event{Kind: profile.Ack, Conn: c.text(0, conn), WireNS: span.LastNS, FirstWireNS: span.FirstNS,
		OrderID: f.OrderID, Status: f.Status, HasOrder: ref.valid, Payload: payload}
	if !ref.valid {
		c.counts.AcksUnpaired++
		return c.emit()
	}
	c.ev.OrderToAckNS = span.LastNS - ref.WireNS
	if !c.inWarmup(ref.WireNS) {
		c.total.Ack.Record(c.ev.OrderToAckNS)
		c.window.Ack.Record(c.ev.OrderToAckNS)
		g := c.connGroups(conn)
		g.exchange.set.Ack.Record(c.ev.OrderToAckNS)
		g.trader.set.Ack.Record(c.ev.OrderToAckNS)
	}
	return c.emit()
}

// Other emits an event for a message that is neither tick, order nor ack
// (only worth calling when payloads are wanted).
func (c *Correlator) Other(conn stream.ConnKey, span stream.Span, payload []byte) error {
	c.ev = event.Event{Kind: profile.Other, Conn: c.text(0, conn), WireNS: span.LastNS, FirstWireNS: span.FirstNS, Payload: payload}
	return c.emit()
}

// TakeWindow returns the samples recorded since the previous call and
// starts a new window (rolling percentiles for live views). The returned
// Set is the caller's.
func (c *Correlator) TakeWindow() *latency.Set {
	w := c.window
	c.window = latency.NewSet()
	return w
}

// Retention of closed feed connections: a bot may send orders naming ticks of a feed
// connection that has just closed (a queue of orders drained after the feed
// ended, a reconnect). The tick rings of the last closedFeeds closed
// connections stay matchable for closedRetain of capture time after their
// close; older ones are freed, so a day-long capture of a reconnecting bot
// stays bounded (each ring holds at most Config.TickRing ticks).
const (
	closedFeeds  = 16
	closedRetain = 60_000_000_000 // ns
)

// Closed tells the correlator that TCP closed conn at capture time at. Its
// cached groups are dropped (its group histograms stay); a feed
// connection's tick ring is kept for explicit matching within the
// retention above.
func (c *Correlator) Closed(conn stream.ConnKey, at int64) {
	delete(c.conns, conn)
	fc := c.feeds[conn]
	if fc == nil || fc.closedAt != 0 {
		return
	}
	fc.closedAt = max(at, 1)
	c.closed = append(c.closed, fc)
	for len(c.closed) > 0 && (len(c.closed) > closedFeeds || c.closed[0].closedAt < at-closedRetain) {
		c.forget(c.closed[0])
	}
}

// forget frees a closed feed connection's state.
func (c *Correlator) forget(fc *feedConn) {
	if c.feeds[fc.key] == fc {
		delete(c.feeds, fc.key)
	}
	for i, x := range c.closed {
		if x == fc {
			c.closed = append(c.closed[:i], c.closed[i+1:]...)
			break
		}
	}
}

// Counts returns the totals so far.
func (c *Correlator) Counts() Counts { return c.counts }

// Total returns the histograms of the whole capture.
func (c *Correlator) Total() *latency.Set { return c.total }

// Groups returns the histograms per group: kind ("feed_conn", "exchange",
// "trader") -> name -> set, with names sorted by the caller as needed.
func (c *Correlator) Groups() map[string]map[string]*latency.Set {
	out := make(map[string]map[string]*latency.Set, len(c.groups))
	for kind, m := range c.groups {
		out[kind] = make(map[string]*latency.Set, len(m))
		for name, g := range m {
			out[kind][name] = g.set
		}
	}
	return out
}

// SortedNames returns the keys of a group map in order.
func SortedNames(m map[string]*latency.Set) []string {
	n := make([]string, 0, len(m))
	for k := range m {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}
