package correlate

import (
	"bytes"
	"encoding/json"
	"hash/maphash"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/monitor/stream"
)

var (
	feedA  = stream.ConnKey{Client: netip.MustParseAddrPort("198.18.1.2:40000"), Server: netip.MustParseAddrPort("198.18.0.2:8443")}
	feedB  = stream.ConnKey{Client: netip.MustParseAddrPort("198.18.1.2:40001"), Server: netip.MustParseAddrPort("198.18.0.6:8443")}
	orders = stream.ConnKey{Client: netip.MustParseAddrPort("198.18.1.2:40002"), Server: netip.MustParseAddrPort("198.18.0.2:9443")}
)

func tick(seq uint64, exch int64) *profile.Fields {
	return &profile.Fields{Kind: profile.Tick, Stream: []byte("btcusdt@trade"), Symbol: []byte("BTCUSDT"), Seq: seq, HasSeq: true, Contiguous: true, ExchNS: exch, HasExch: true}
}

func TestCorrelation(t *testing.T) {
	var out bytes.Buffer
	j := event.NewWriter(&out, false)
	c := New(Config{TickRing: 8}, j)
	// Ticks on two feeds, seq 1..5 on A with a gap (3 missing), B leads.
	for _, s := range []struct {
		conn      stream.ConnKey
		seq       uint64
		exch, wir int64
	}{{feedA, 1, 1000, 3000}, {feedB, 1, 1000, 2500}, {feedA, 2, 2000, 4000}, {feedA, 4, 4000, 6500}, {feedA, 4, 4000, 6600}} {
		if err := c.Tick(s.conn, tick(s.seq, s.exch), stream.Span{FirstNS: s.wir - 100, LastNS: s.wir}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Explicit order naming feed A seq 2; then one naming nothing (last tick = A seq 4 at 6600).
	o := &profile.Fields{Kind: profile.Order, OrderID: []byte("o1"), Symbol: []byte("BTCUSDT"), TickFeed: []byte(feedA.String()), TickSeq: 2, HasTick: true}
	ref1, err := c.Order(orders, o, stream.Span{FirstNS: 7000, LastNS: 7000}, nil)
	if err != nil {
		t.Fatal(err)
	}
	o2 := &profile.Fields{Kind: profile.Order, OrderID: []byte("o2"), Symbol: []byte("BTCUSDT")}
	ref2, _ := c.Order(orders, o2, stream.Span{FirstNS: 8000, LastNS: 8000}, nil)
	// Explicit reference by bare server address works too.
	o3 := &profile.Fields{Kind: profile.Order, OrderID: []byte("o3"), Symbol: []byte("BTCUSDT"), TickFeed: []byte("198.18.0.6:8443"), TickSeq: 1, HasTick: true}
	c.Order(orders, o3, stream.Span{FirstNS: 9000, LastNS: 9000}, nil)
	c.Ack(orders, ref1, &profile.Fields{Kind: profile.Ack, OrderID: []byte("o1"), Status: []byte("NEW")}, stream.Span{FirstNS: 9500, LastNS: 9500}, nil)
	c.Ack(orders, ref2, &profile.Fields{Kind: profile.Ack, OrderID: []byte("o2"), Status: []byte("NEW")}, stream.Span{FirstNS: 11000, LastNS: 11000}, nil)
	c.Ack(orders, OrderRef{}, &profile.Fields{Kind: profile.Ack}, stream.Span{LastNS: 12000}, nil)
	j.Flush()

	cnt := c.Counts()
	if cnt.Ticks != 5 || cnt.Gaps.Gaps != 1 || cnt.Missing != 1 || cnt.Duplicates != 1 || cnt.OrdersExplicit != 2 || cnt.OrdersLastTick != 1 || cnt.AcksUnpaired != 1 {
		t.Fatalf("counts %+v", cnt)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 11 {
		t.Fatalf("%d event lines", len(lines))
	}
	var evs []map[string]any
	for _, l := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("%s: %v", l, err)
		}
		evs = append(evs, m)
	}
	check := func(i int, k string, want any) {
		t.Helper()
		if got := evs[i][k]; got != want {
			t.Errorf("event %d %s = %v, want %v (%s)", i, k, got, want, lines[i])
		}
	}
	check(0, "feed_latency_ns", 2000.0)
	check(0, "conn", "198.18.1.2:40000-198.18.0.2:8443")
	check(0, "first_wire_ns", 2900.0)
	check(5, "match", "explicit")
	check(5, "tick_to_trade_ns", 3000.0)
	check(5, "tick_conn", feedA.String())
	check(6, "match", "last_tick")
	check(6, "tick_seq", 4.0)
	check(6, "tick_to_trade_ns", 1400.0)
	check(7, "match", "explicit")
	check(7, "tick_conn", feedB.String())
	check(7, "tick_to_trade_ns", 6500.0)
	check(8, "order_to_ack_ns", 2500.0)
	check(9, "order_to_ack_ns", 3000.0)
	if _, ok := evs[10]["order_to_ack_ns"]; ok {
		t.Error("unpaired ack has a latency")
	}
	m, _ := c.Total().Metrics()
	if m["feed_latency"].Count != 5 || m["tick_to_trade"].Count != 3 || m["order_to_ack"].Count != 2 {
		t.Fatalf("metrics %+v", m)
	}
	g := c.Groups()
	if len(g["feed_conn"]) != 2 || g["feed_conn"][feedA.String()].Feed.Count() != 4 || g["feed_conn"][feedB.String()].T2T.Count() != 1 {
		t.Fatalf("groups %+v", g["feed_conn"])
	}
}

func TestWarmupAndRing(t *testing.T) {
	c := New(Config{TickRing: 2, WarmupEnd: 2500}, nil)
	for i := uint64(1); i <= 4; i++ {
		c.Tick(feedA, tick(i, int64(i)*1000), stream.Span{LastNS: int64(i) * 1000}, nil)
	}
	// seq 1 has left the 2-entry ring: the order falls back to the last tick.
	o := &profile.Fields{Kind: profile.Order, Symbol: []byte("BTCUSDT"), TickFeed: []byte(feedA.String()), TickSeq: 1, HasTick: true}
	c.Order(orders, o, stream.Span{LastNS: 5000}, nil)
	cnt := c.Counts()
	if cnt.OrdersLastTick != 1 || cnt.Warmup != 2 || c.Total().Feed.Count() != 2 {
		t.Fatalf("%+v feed count %d", cnt, c.Total().Feed.Count())
	}
}

func TestTickDoesNotAllocate(t *testing.T) {
	c := New(Config{}, event.NewWriter(&bytes.Buffer{}, false))
	f := tick(1, 1)
	c.Tick(feedA, f, stream.Span{LastNS: 2}, nil)
	n := testing.AllocsPerRun(1000, func() {
		f.Seq++
		c.Tick(feedA, f, stream.Span{LastNS: 2}, nil)
	})
	if n != 0 {
		t.Fatalf("Tick allocates %v", n)
	}
}

// The ring grows to its cap and then keeps the most recent ticks.
func TestRingGrowsThenWraps(t *testing.T) {
	c := New(Config{TickRing: 3000}, nil)
	for i := uint64(1); i <= 5000; i++ {
		c.Tick(feedA, tick(i, 1), stream.Span{LastNS: int64(i)}, nil)
	}
	fc := c.feeds[feedA]
	if len(fc.ring) != 3000 || !fc.full {
		t.Fatalf("ring len %d full %v", len(fc.ring), fc.full)
	}
	sym := fc.ring[0].sym
	if _, ok := fc.find(2001, sym); !ok {
		t.Error("tick 2001 (within the last 3000) not found")
	}
	if _, ok := fc.find(2000, sym); ok {
		t.Error("tick 2000 should have been overwritten")
	}
}

func TestConnGroupsCappedAndClosed(t *testing.T) {
	c := New(Config{MaxConnGroups: 1}, nil)
	c.Tick(feedA, tick(1, 1), stream.Span{LastNS: 10}, nil)
	c.Tick(feedB, tick(1, 1), stream.Span{LastNS: 20}, nil)
	g := c.Groups()["feed_conn"]
	if len(g) != 2 || g[OtherConns] == nil || g[feedA.String()] == nil || c.Counts().GroupedAsOther != 1 {
		t.Fatalf("groups %v counts %+v", SortedNames(g), c.Counts())
	}
	// Once feed A is closed, an order naming its tick still matches it
	// (a bot drains its orders after the feed ended)...
	c.Closed(feedA, 25)
	o := &profile.Fields{Kind: profile.Order, Symbol: []byte("BTCUSDT"), TickFeed: []byte(feedA.String()), TickSeq: 1, HasTick: true}
	c.Order(orders, o, stream.Span{LastNS: 30}, nil)
	c.Order(orders, o, stream.Span{LastNS: 31}, nil) // recording the first must not drop the ring
	if cnt := c.Counts(); cnt.OrdersExplicit != 2 || cnt.OrdersLastTick != 0 {
		t.Fatalf("orders after the feed closed: %+v", cnt)
	}
	// ...until closedRetain of capture time has passed since the close.
	c.Closed(feedB, 25+closedRetain+1)
	c.Order(orders, o, stream.Span{LastNS: 40 + closedRetain}, nil)
	if cnt := c.Counts(); cnt.OrdersExplicit != 2 || cnt.OrdersLastTick != 1 {
		t.Fatalf("order long after the feed closed: %+v", cnt)
	}
}

// At most closedFeeds closed feed connections are kept, and a reused
// 4-tuple starts afresh.
func TestClosedFeedsBounded(t *testing.T) {
	c := New(Config{}, nil)
	conn := func(i int) stream.ConnKey {
		return stream.ConnKey{Client: netip.AddrPortFrom(netip.MustParseAddr("198.18.1.2"), uint16(40000+i)), Server: feedA.Server}
	}
	for i := range closedFeeds + 5 {
		c.Tick(conn(i), tick(1, 1), stream.Span{LastNS: int64(10 * i)}, nil)
		c.Closed(conn(i), int64(10*i+5))
	}
	if len(c.feeds) != closedFeeds || len(c.closed) != closedFeeds {
		t.Fatalf("%d feeds, %d closed kept, want %d", len(c.feeds), len(c.closed), closedFeeds)
	}
	if _, ok := c.feeds[conn(4)]; ok {
		t.Fatal("the oldest closed connections should be gone")
	}
	last := conn(closedFeeds + 4)
	c.Tick(last, tick(7, 1), stream.Span{LastNS: 1000}, nil)
	if fc := c.feeds[last]; fc == nil || fc.closedAt != 0 || len(c.closed) != closedFeeds-1 {
		t.Fatalf("reused 4-tuple: %+v, %d closed", fc, len(c.closed))
	}
	if _, ok := c.feeds[last].find(1, maphash.Bytes(c.seed, []byte("BTCUSDT"))); ok {
		t.Fatal("the reused 4-tuple kept the old connection's ticks")
	}
}

type orderSink struct{ got []event.Event }

func (s *orderSink) Event(e *event.Event) error {
	if e.Kind == profile.Order {
		s.got = append(s.got, *e)
	}
	return nil
}

// An order-tick rule credits an order to the tick its client order id
// names, also when newer ticks arrived before the order (a bot that queues
// its orders); a named tick the capture lacks falls back to the last tick
// and is counted, and so is an id the rule does not match. The lab
// trader's explicit reference in the body comes first.
func TestOrderTickRule(t *testing.T) {
	re := regexp.MustCompile(`^bot-(\d+)$`)
	var sink orderSink
	c := New(Config{OrderTick: func(a netip.Addr) *regexp.Regexp {
		if a == orders.Client.Addr() {
			return re
		}
		return nil
	}}, &sink)
	for i := uint64(1); i <= 5; i++ {
		c.Tick(feedA, tick(i, 1), stream.Span{LastNS: int64(10 * i)}, nil)
	}
	order := func(id string, at int64) {
		f := &profile.Fields{Kind: profile.Order, Symbol: []byte("BTCUSDT"), OrderID: []byte(id)}
		c.Order(orders, f, stream.Span{LastNS: at}, nil)
	}
	order("bot-2", 60) // ticks 3..5 came after tick 2: still tick 2
	order("bot-9", 70) // not captured: last tick (5)
	order("other", 80) // no match: last tick (5)
	want := []struct {
		match event.Match
		seq   uint64
	}{{event.MatchExplicit, 2}, {event.MatchLastTick, 5}, {event.MatchLastTick, 5}}
	for i, w := range want {
		if g := sink.got[i]; g.Match != w.match || g.TickSeq != w.seq {
			t.Errorf("order %s: match %v tick %d, want %v %d", g.OrderID, g.Match, g.TickSeq, w.match, w.seq)
		}
	}
	if cnt := c.Counts(); cnt.OrdersExplicit != 1 || cnt.RuleMisses != 1 || cnt.RuleNoMatch != 1 || cnt.OrdersLastTick != 2 {
		t.Errorf("counts %+v", cnt)
	}
}

func TestRuleSeq(t *testing.T) {
	for _, c := range []struct {
		re, id string
		seq    uint64
		ok     bool
	}{
		{`^x-(\d+)$`, "x-42", 42, true},
		{`(\d+)`, "t1-0-17", 1, true},
		{`-(\d+)$`, "t1-0-17", 17, true},
		{`^x-(\d+)$`, "y-42", 0, false},
		{`^x-(\d*)$`, "x-", 0, false},
		{`^x-(\d+)$`, "x-18446744073709551616", 0, false}, // overflows uint64
		{`^x-(\w+)$`, "x-12ab", 0, false},
		{`^x-(\d+)?$`, "x-", 0, false}, // the group did not take part
	} {
		seq, ok := RuleSeq(regexp.MustCompile(c.re), []byte(c.id))
		if seq != c.seq || ok != c.ok {
			t.Errorf("RuleSeq(%s, %s) = %d, %v; want %d, %v", c.re, c.id, seq, ok, c.seq, c.ok)
		}
	}
}
