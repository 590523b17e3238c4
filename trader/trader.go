// Package trader is the lab's trading client: it reads one or more
// market-data feeds (TLS WebSocket, lab, Binance or Coinbase format), runs a
// strategy (package trader/strategy) on every tick, and sends the resulting
// orders, signed (orderapi/sign), to the order API over keep-alive
// HTTP/1.1. It writes the TLS secrets of every connection to an NSS key log
// (trader/keywriter) so the passive monitor can decrypt what it captures, and
// application-side timestamps so a report can split tick-to-trade into
// network-in, decision and network-out.
//
// # Pipeline (per client)
//
//	feed reader (one goroutine per --feed) ──ticks (bounded)──▶ strategy (one goroutine)
//	    ──orders (bounded)──▶ senders (--order-conns goroutines, one connection and one request in flight each)
//
// A full queue drops and counts (tick_drops, order_drops) instead of
// blocking the reader. Feed readers reconnect with exponential backoff and
// jitter (--reconnect-min .. --reconnect-max) and re-send --subscribe
// messages; the URL path subscribes by itself on every connect. Sequence
// numbers are tracked per feed and stream across reconnects: a jump forward
// is a gap (counted, with the missing count), a jump backward a reset (the
// feed restarted).
//
// Every order names the tick that triggered it: tick_feed is the feed's TCP
// connection as "local-remote" (client first, docs/FORMATS.md's conn form, taken
// from the socket when it is dialed) and tick_seq its sequence number. The
// order's symbol is the tick's, upper-cased and stripped to A-Z and 0-9 as
// the order API requires (BTC-USD becomes BTCUSD).
//
// # Adding a strategy
//
// One file in trader/strategy with an init that calls strategy.Register;
// see that package's documentation. Nothing here changes.
//
// # Buffers
//
// Each feed reader owns one message buffer (grown to the largest message)
// and one decoded tick; ticks cross to the strategy by value. The strategy
// goroutine owns its order slice; orders cross to the senders by value. Each
// sender owns its body, signature, response and timestamp-line buffers.
// The key log writer and the timestamps file are shared and locked.
package trader

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/orderapi"
	"github.com/cloudpcap/cloudpcap/trader/keywriter"
	"github.com/cloudpcap/cloudpcap/trader/strategy"
)

// Trader is a configured set of clients. Make it with New, start it with
// Run (once), read Stats at any time.
type Trader struct {
	cfg    Config
	log    *slog.Logger
	tls    *tls.Config
	keyLog *keywriter.Writer
	stamps *stampWriter

	orderURL  string // base + orderapi.PathOrder
	orderPath string // the path signed (as sent)
	healthURL string

	clients []*client
	start   time.Time
	elapsed time.Duration
	mu      sync.Mutex
	ran     bool
}

// New validates cfg, opens the key log and timestamps files and builds the
// clients (strategy instances included). log may be nil (discard). Call
// Close when Run is not called.
func New(cfg Config, log *slog.Logger) (*Trader, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t := &Trader{cfg: cfg, log: log}
	var kl io.Writer
	if cfg.KeyLogFile != "" {
		w, err := keywriter.Open(cfg.KeyLogFile)
		if err != nil {
			return nil, &ConfigError{Flag: "keylog", Msg: err.Error()}
		}
		t.keyLog, kl = w, w
	}
	tc, err := clientTLS(cfg, kl)
	if err != nil {
		t.Close()
		return nil, err
	}
	t.tls = tc
	if cfg.TimestampsFile != "" {
		if t.stamps, err = openStamps(cfg.TimestampsFile); err != nil {
			t.Close()
			return nil, err
		}
	}
	u, _ := url.Parse(cfg.Orders) // validated
	base := strings.TrimSuffix(u.Path, "/")
	t.orderPath = base + pathOrder
	u.Path = t.orderPath
	t.orderURL = u.String()
	u.Path = base + pathHealthz
	t.healthURL = u.String()
	for i := range cfg.Clients {
		s, err := strategy.New(cfg.Strategy, cfg.Params, strategy.Env{Feeds: len(cfg.Feeds), Client: i})
		if err != nil {
			t.Close()
			return nil, err
		}
		t.clients = append(t.clients, newClient(t, i, s))
	}
	return t, nil
}

// Close releases the files New opened; Run calls it at its end.
func (t *Trader) Close() error {
	var errs []error
	if t.stamps != nil {
		errs = append(errs, t.stamps.close())
		t.stamps = nil
	}
	if t.keyLog != nil {
		errs = append(errs, t.keyLog.Err(), t.keyLog.Close())
		t.keyLog = nil
	}
	return errors.Join(errs...)
}

// Run runs every client until ctx ends or Config.Duration has passed, then
// stops the feeds, lets orders in flight finish (up to stopGrace), closes
// the files and returns. Errors of individual connections are counted and
// logged, not returned: Run fails only when it cannot run at all.
func (t *Trader) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.ran {
		t.mu.Unlock()
		return errors.New("trader: Run called twice")
	}
	t.ran = true
	t.start = time.Now()
	t.mu.Unlock()
	if t.cfg.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, t.cfg.Duration)
		defer cancel()
	}
	if t.cfg.Insecure {
		t.log.Warn("--insecure: server certificates are NOT verified")
	}
	t.log.Info("trader starting", "clients", t.cfg.Clients, "feeds", len(t.cfg.Feeds), "orders", t.cfg.Orders,
		"strategy", t.cfg.Strategy, "order_conns", t.cfg.OrderConns, "keylog", t.cfg.KeyLogFile != "")

	// Senders outlive ctx by up to stopGrace so acks in flight are read.
	sendCtx, sendCancel := context.WithCancel(context.WithoutCancel(ctx))
	var feeds, strat, senders sync.WaitGroup
	for _, c := range t.clients {
		for i := range t.cfg.OrderConns {
			s := c.newSender(sendCtx, i)
			senders.Add(1)
			go func() { defer senders.Done(); s.run(ctx) }()
		}
		strat.Add(1)
		go func() { defer strat.Done(); c.runStrategy(ctx) }()
		for i := range t.cfg.Feeds {
			feeds.Add(1)
			go func() { defer feeds.Done(); c.runFeed(ctx, i) }()
		}
	}
	// The flusher holds its own reference and is waited for before Close
	// (which clears t.stamps): a tick that is ready together with flushDone
	// may still be taken once.
	flushDone, flushExited := make(chan struct{}), make(chan struct{})
	if st := t.stamps; st != nil {
		go func() {
			defer close(flushExited)
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-tick.C:
					st.flush()
				case <-flushDone:
					return
				}
			}
		}()
	} else {
		close(flushExited)
	}
	<-ctx.Done()
	feeds.Wait()
	strat.Wait()
	stopped := make(chan struct{})
	go func() { senders.Wait(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopGrace):
		t.log.Warn("orders still in flight at stop; cancelling them", "grace", stopGrace)
		sendCancel()
		<-stopped
	}
	sendCancel()
	close(flushDone)
	<-flushExited
	t.mu.Lock()
	t.elapsed = time.Since(t.start)
	t.mu.Unlock()
	return t.Close()
}

// Order API paths (orderapi's routes).
const (
	pathOrder   = orderapi.PathOrder
	pathHealthz = orderapi.PathHealthz
)

// stopGrace is how long Run waits for orders in flight after its context ends.
const stopGrace = 3 * time.Second

// Stats returns the counters and latencies of all clients so far.
func (t *Trader) Stats() Stats {
	s := Stats{Clients: len(t.clients), Errors: map[string]uint64{}, Statuses: map[string]uint64{}}
	t.mu.Lock()
	switch {
	case t.elapsed > 0:
		s.Elapsed = t.elapsed
	case t.ran:
		s.Elapsed = time.Since(t.start)
	}
	t.mu.Unlock()
	dec, wire, ack := newHist().h, newHist().h, newHist().h
	for _, c := range t.clients {
		s.add(c.stats)
		c.decision.mergeInto(dec)
		c.tickToWire.mergeInto(wire)
		c.orderToAck.mergeInto(ack)
	}
	s.TickToDecision, s.TickToWire, s.OrderToAck = latencyOf(dec), latencyOf(wire), latencyOf(ack)
	return s
}

// String describes the trader for logs (never secrets).
func (t *Trader) String() string {
	return fmt.Sprintf("trader(%d clients, %s)", len(t.clients), t.cfg.Strategy)
}
