package trader

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// tickMsg is one tick on its way to the strategy.
type tickMsg struct {
	strategy.Tick
	conn string // tick_feed: the feed connection, client first
}

// orderMsg is one order on its way to a sender, with its tick's identity
// and timestamps.
type orderMsg struct {
	order    strategy.Order
	num      uint64 // client order number (the id is prefix+num)
	first    bool   // first order of its tick: the sender writes the tick line
	symbol   string
	stream   string
	conn     string
	seq      uint64
	exchNS   int64
	recvNS   int64
	decideNS int64
}

// client is one independent trading client.
type client struct {
	t      *Trader
	id     int
	strat  strategy.Strategy
	prefix string // "<prefix><id>-"
	ticks  chan tickMsg
	orders chan orderMsg
	stats  *counters

	decision   *hist // tick read -> decision, for ticks that led to orders
	tickToWire *hist // tick read -> order written
	orderToAck *hist // order written -> ack read

	logMu    sync.Mutex
	gapLogs  int // gap log lines written (bounded)
	errLogs  int // order error log lines written (bounded)
	jitterMu sync.Mutex
	jitter   *rand.Rand
}

// maxLogLines bounds per-client log lines about gaps and order errors; the
// counters keep counting.
const maxLogLines = 20

func newClient(t *Trader, id int, s strategy.Strategy) *client {
	return &client{
		t: t, id: id, strat: s,
		prefix:     t.cfg.IDPrefix + strconv.Itoa(id) + "-",
		ticks:      make(chan tickMsg, t.cfg.TickQueue),
		orders:     make(chan orderMsg, t.cfg.OrderQueue),
		stats:      newCounters(),
		decision:   newHist(),
		tickToWire: newHist(),
		orderToAck: newHist(),
		jitter:     rand.New(rand.NewPCG(t.cfg.Seed, uint64(id))),
	}
}

// logLimited logs at most maxLogLines lines per counter.
func (c *client) logLimited(n *int, msg string, args ...any) {
	c.logMu.Lock()
	ok := *n < maxLogLines
	*n++
	last := *n == maxLogLines
	c.logMu.Unlock()
	if ok {
		if last {
			args = append(args, "note", "further such messages are counted, not logged")
		}
		c.t.log.Warn(msg, append([]any{"client", c.id}, args...)...)
	}
}

// backoff returns a jittered wait in [d/2, d].
func (c *client) backoff(d time.Duration) time.Duration {
	c.jitterMu.Lock()
	j := time.Duration(c.jitter.Int64N(int64(d/2) + 1))
	c.jitterMu.Unlock()
	return d/2 + j
}

// feedState is what a feed reader keeps across reconnects.
type feedState struct {
	idx  int
	url  string
	seqs map[string]*streamSeqs // by stream name
}

type streamSeqs struct{ last uint64 }

// runFeed keeps one feed connected until ctx ends.
func (c *client) runFeed(ctx context.Context, idx int) {
	fs := &feedState{idx: idx, url: c.t.cfg.Feeds[idx], seqs: map[string]*streamSeqs{}}
	wait := c.t.cfg.ReconnectMin
	connected := false
	for ctx.Err() == nil {
		conn, name, err := c.dialFeed(ctx, fs.url)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.stats.dialErrors.Add(1)
			d := c.backoff(wait)
			c.t.log.Warn("feed connect failed", "client", c.id, "feed", fs.url, "err", err, "retry_in", d.Round(time.Millisecond))
			if !sleepCtx(ctx, d) {
				return
			}
			wait = min(2*wait, c.t.cfg.ReconnectMax)
			continue
		}
		c.stats.connects.Add(1)
		if connected {
			c.stats.reconnects.Add(1)
			c.t.log.Info("feed reconnected", "client", c.id, "feed", fs.url, "conn", name)
		} else {
			c.t.log.Info("feed connected", "client", c.id, "feed", fs.url, "conn", name)
		}
		connected = true
		began := time.Now()
		err = c.readFeed(ctx, conn, name, fs)
		if ctx.Err() != nil {
			return
		}
		// A connection that lived a while resets the backoff.
		if time.Since(began) > c.t.cfg.ReconnectMax {
			wait = c.t.cfg.ReconnectMin
		}
		d := c.backoff(wait)
		c.t.log.Warn("feed dropped", "client", c.id, "feed", fs.url, "conn", name, "err", err, "retry_in", d.Round(time.Millisecond))
		if !sleepCtx(ctx, d) {
			return
		}
		wait = min(2*wait, c.t.cfg.ReconnectMax)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// dialFeed opens one WebSocket, learning its TCP connection's name from the
// dialer, and sends the subscribe messages.
func (c *client) dialFeed(ctx context.Context, u string) (*websocket.Conn, string, error) {
	d := newDialer(c.t.tls)
	var name string
	d.onConn = func(raw net.Conn) { name = connName(raw) }
	tr := d.transport(1)
	defer tr.CloseIdleConnections()
	opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: tr}}
	switch c.t.cfg.Deflate {
	case DeflateContext:
		opts.CompressionMode = websocket.CompressionContextTakeover
	case DeflateNoContext:
		opts.CompressionMode = websocket.CompressionNoContextTakeover
	}
	dctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	conn, resp, err := websocket.Dial(dctx, u, opts)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return nil, "", err
	}
	conn.SetReadLimit(maxMessage)
	for _, m := range c.t.cfg.Subscribe {
		if err := conn.Write(dctx, websocket.MessageText, []byte(m)); err != nil {
			conn.CloseNow()
			return nil, "", err
		}
	}
	return conn, name, nil
}

// maxMessage bounds one feed message.
const maxMessage = 1 << 20

// readFeed reads ticks until the connection fails or ctx ends (then it
// closes the connection with a close frame).
func (c *client) readFeed(ctx context.Context, conn *websocket.Conn, name string, fs *feedState) error {
	// The read runs under a context of its own: cancelling the context of
	// a coder/websocket read tears the connection down, while stopping
	// should send a close frame.
	rctx, rcancel := context.WithCancel(context.WithoutCancel(ctx))
	defer rcancel()
	stop := context.AfterFunc(ctx, func() {
		conn.Close(websocket.StatusNormalClosure, "trader stopping")
		rcancel()
	})
	defer stop()
	defer conn.CloseNow()

	f := c.t.cfg.Format
	buf := make([]byte, 0, 4096)
	var m tickMsg
	m.Feed = fs.idx
	m.conn = name
	for {
		_, r, err := conn.Reader(rctx)
		if err != nil {
			return err
		}
		buf, err = readAll(r, buf[:0])
		if err != nil {
			return err
		}
		now := time.Now().UnixNano()
		var perr error
		if f == format.Auto {
			perr = format.Parse(format.Auto, buf, &m.Tick.Tick)
			if perr == nil {
				f = format.Detect(buf) // the first tick fixes the connection's format
			}
		} else {
			perr = format.Parse(f, buf, &m.Tick.Tick)
			if perr != nil && !errors.Is(perr, format.ErrNotTick) {
				// A control message in another format (a Coinbase-style
				// error from a server answering a Coinbase subscription on
				// a Binance connection) is still a control message.
				if g := format.Detect(buf); g != f && g != format.Auto && errors.Is(format.Parse(g, buf, &m.Tick.Tick), format.ErrNotTick) {
					perr = format.ErrNotTick
				}
			}
		}
		switch {
		case perr == nil:
		case errors.Is(perr, format.ErrNotTick):
			c.stats.control.Add(1)
			continue
		default:
			if c.stats.bad.Add(1) <= maxLogLines {
				c.t.log.Warn("undecodable feed message", "client", c.id, "conn", name, "err", perr)
			}
			continue
		}
		c.stats.ticks.Add(1)
		c.checkSeq(fs, &m.Tick.Tick, name)
		m.RecvNS = now
		select {
		case c.ticks <- m:
		default:
			c.stats.tickDrops.Add(1)
		}
	}
}

// readAll reads r to EOF into buf, growing it.
func readAll(r io.Reader, buf []byte) ([]byte, error) {
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
	}
}

// checkSeq counts gaps and resets of t's stream on this feed.
func (c *client) checkSeq(fs *feedState, t *format.Tick, conn string) {
	st := fs.seqs[t.Stream]
	if st == nil {
		fs.seqs[t.Stream] = &streamSeqs{last: t.Seq}
		return
	}
	switch {
	case t.Seq == st.last+1:
	case t.Seq > st.last+1:
		missing := t.Seq - st.last - 1
		c.stats.gaps.Add(1)
		c.stats.missing.Add(missing)
		c.logLimited(&c.gapLogs, "sequence gap", "feed", fs.url, "conn", conn, "stream", t.Stream,
			"after", st.last, "got", t.Seq, "missing", missing)
	default:
		c.stats.resets.Add(1)
		c.logLimited(&c.gapLogs, "sequence went back (feed restarted?)", "feed", fs.url, "conn", conn, "stream", t.Stream,
			"after", st.last, "got", t.Seq)
	}
	st.last = t.Seq
}

// runStrategy feeds ticks to the strategy and orders to the senders.
func (c *client) runStrategy(ctx context.Context) {
	out := make([]strategy.Order, 0, 16)
	var num uint64
	for {
		var m tickMsg
		select {
		case <-ctx.Done():
			return
		case m = <-c.ticks:
		}
		out = c.strat.OnTick(&m.Tick, out[:0])
		c.stats.decided.Add(1)
		if len(out) == 0 {
			continue
		}
		decide := time.Now().UnixNano()
		c.decision.record(decide - m.RecvNS)
		for i := range out {
			num++
			c.stats.orders.Add(1)
			om := orderMsg{
				order: out[i], num: num, first: i == 0,
				symbol: m.Symbol, stream: m.Stream, conn: m.conn, seq: m.Seq,
				exchNS: m.ExchNS, recvNS: m.RecvNS, decideNS: decide,
			}
			select {
			case c.orders <- om:
			default:
				c.stats.orderDrops.Add(1)
			}
		}
	}
}
