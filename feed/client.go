package feed

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

// qitem is one queued tick, a copy owned by the client's queue.
type qitem struct {
	st *stream
	t  format.Tick
}

// client is one WebSocket connection.
type client struct {
	s      *Server
	conn   *websocket.Conn
	remote string
	opts   format.EncodeOptions

	mu   sync.Mutex // guards the ring
	ring []qitem    // queue: head is the oldest, n the length; grows up to max
	head int
	n    int
	max  int // Config.Queue

	notify chan struct{} // a tick was queued (capacity 1)
	ctrl   chan []byte   // replies to control messages, written before ticks
	stop   chan struct{} // closed to make the writer return between writes

	killOnce   sync.Once
	kill       chan struct{} // closed when the client must be disconnected
	killCode   websocket.StatusCode
	killReason string
	killHard   bool // the peer does not answer: skip the close handshake

	subs  []*stream // subscriptions in order; touched by the reader goroutine only (and cleanup after it ended)
	sent  atomic.Uint64
	drops atomic.Uint64
}

// push queues a copy of t. When the queue is full the slow policy applies.
// It never blocks on the network: it is called by the generator.
func (c *client) push(st *stream, t *format.Tick) {
	c.mu.Lock()
	if c.n == len(c.ring) && len(c.ring) < c.max {
		c.grow()
	}
	if c.n == len(c.ring) {
		if c.s.cfg.SlowPolicy == Disconnect {
			c.mu.Unlock()
			c.disconnect(websocket.StatusPolicyViolation, "slow consumer: queue full", true, false)
			return
		}
		old := &c.ring[c.head]
		old.st.dropped.Add(1)
		c.head = (c.head + 1) % len(c.ring)
		c.n--
		c.drops.Add(1)
		c.s.dropped.Add(1)
	}
	c.ring[(c.head+c.n)%len(c.ring)] = qitem{st: st, t: *t}
	c.n++
	c.mu.Unlock()
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// grow doubles the ring (up to max), keeping the order. A client that keeps
// up never needs more than the initial ring, so memory follows the backlog.
func (c *client) grow() {
	n := min(2*len(c.ring), c.max)
	ring := make([]qitem, n)
	for i := 0; i < c.n; i++ {
		ring[i] = c.ring[(c.head+i)%len(c.ring)]
	}
	c.ring, c.head = ring, 0
}

// disconnect asks the connection's goroutine to close it (once).
func (c *client) disconnect(code websocket.StatusCode, reason string, slow, hard bool) {
	c.killOnce.Do(func() {
		c.killCode, c.killReason, c.killHard = code, reason, hard
		if slow {
			c.s.slowDisconnects.Add(1)
		}
		close(c.kill)
	})
}

// popBatch moves up to cap(batch) queued ticks into batch.
func (c *client) popBatch(batch []qitem) []qitem {
	c.mu.Lock()
	for c.n > 0 && len(batch) < cap(batch) {
		batch = append(batch, c.ring[c.head])
		c.head = (c.head + 1) % len(c.ring)
		c.n--
	}
	c.mu.Unlock()
	return batch
}

// writeLoop is the only goroutine that writes data messages. It returns nil
// when told to stop and the write error otherwise. Writes use a context
// without a deadline (coder/websocket then allocates nothing per write); a
// writer stuck on a full socket is cut off by closing the connection.
func (c *client) writeLoop() error {
	buf := make([]byte, 0, 512)
	batch := make([]qitem, 0, 64)
	ctx := context.Background()
	write := func(b []byte) error { return c.conn.Write(ctx, websocket.MessageText, b) }
	for {
		select {
		case <-c.stop:
			return nil
		case m := <-c.ctrl:
			if err := write(m); err != nil {
				return err
			}
		case <-c.notify:
		}
		for more := true; more; {
			// Replies first, so that a SUBSCRIBE's answer precedes its ticks.
			for drained := false; !drained; {
				select {
				case m := <-c.ctrl:
					if err := write(m); err != nil {
						return err
					}
				default:
					drained = true
				}
			}
			batch = c.popBatch(batch[:0])
			more = len(batch) == cap(batch)
			for i := range batch {
				select {
				case <-c.stop:
					return nil
				default:
				}
				it := &batch[i]
				// The exchange timestamp is taken here, in the client's
				// writer, immediately before the WebSocket write: the feed
				// latency measured on the wire is then network plus client,
				// not time spent in this server's queues.
				it.t.ExchNS = time.Now().UnixNano()
				buf = format.Append(buf[:0], c.s.cfg.Format, &it.t, c.opts)
				if err := write(buf); err != nil {
					return err
				}
				it.st.sent.Add(1)
				c.sent.Add(1)
				c.s.sent.Add(1)
			}
		}
	}
}

// reply queues a control reply for the writer.
func (c *client) reply(b []byte, writerDone <-chan struct{}) {
	select {
	case c.ctrl <- b:
	case <-writerDone:
	}
}

// pingLoop pings every interval and disconnects when a pong is late.
func (c *client) pingLoop(ctx context.Context) {
	iv, to := c.s.cfg.PingInterval, c.s.cfg.PingTimeout
	if iv <= 0 {
		return
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, to)
		err := c.conn.Ping(pctx)
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				c.s.log.Info("ping failed, disconnecting", "remote", c.remote, "err", err)
				c.disconnect(websocket.StatusPolicyViolation, "pong timeout", false, true)
			}
			return
		}
	}
}

// serveConn runs one connection until the peer leaves, the server shuts
// down, the slow policy or a ping timeout disconnects it, or a write fails.
func (s *Server) serveConn(conn *websocket.Conn, remote string, initial []*stream, opts format.EncodeOptions) {
	c := &client{
		s: s, conn: conn, remote: remote, opts: opts,
		ring:   make([]qitem, min(s.cfg.Queue, 64)),
		max:    s.cfg.Queue,
		notify: make(chan struct{}, 1),
		ctrl:   make(chan []byte, 16),
		stop:   make(chan struct{}),
		kill:   make(chan struct{}),
	}
	s.connections.Add(1)
	s.mu.Lock()
	s.clients[c] = struct{}{}
	s.mu.Unlock()
	s.log.Info("client connected", "remote", remote, "streams", len(initial), "combined", opts.Combined)

	c.subscribe(initial)

	wctx, wcancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	var writeErr error
	go func() {
		defer close(writerDone)
		writeErr = c.writeLoop()
	}()
	readDone := make(chan struct{})
	var readErr error
	go func() {
		defer close(readDone)
		readErr = c.readLoop(writerDone)
	}()
	pingDone := make(chan struct{})
	go func() {
		defer close(pingDone)
		c.pingLoop(wctx)
	}()

	code, reason, hard := websocket.StatusNormalClosure, "", false
	select {
	case <-s.ctx.Done():
		code, reason = websocket.StatusGoingAway, "server shutting down"
	case <-c.kill:
		code, reason, hard = c.killCode, c.killReason, c.killHard
	case <-readDone:
	case <-writerDone:
		code, reason = websocket.StatusInternalError, "write failed"
	}

	// Stop the writer between two messages so the close frame is not cut
	// into a data frame; a writer stuck on a full socket is cut off.
	close(c.stop)
	select {
	case <-writerDone:
	case <-time.After(2 * time.Second):
		conn.CloseNow()
		<-writerDone
	}
	if !hard {
		conn.Close(code, reason) // sends the close frame and waits (bounded) for the peer's
	}
	wcancel()
	conn.CloseNow()
	<-readDone
	<-pingDone
	for _, st := range c.subs { // the reader has ended: c.subs is ours now
		st.remove(c)
	}

	s.mu.Lock()
	delete(s.clients, c)
	s.mu.Unlock()
	s.log.Info("client disconnected", "remote", remote, "code", int(code), "reason", reason,
		"sent", c.sent.Load(), "dropped", c.drops.Load(), "read_err", errString(readErr), "write_err", errString(writeErr))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// subscribe adds the client to each stream of one request (the URL's
// streams or one SUBSCRIBE), then lets a waiting replay start: only once the
// whole request is in place, so that the replay's first subscriber gets
// every tick from the first one on, of every stream it asked for.
func (c *client) subscribe(sts []*stream) {
	for _, st := range sts {
		if indexOf(c.subs, st) >= 0 {
			continue
		}
		c.subs = append(c.subs, st)
		st.add(c)
	}
	if len(c.subs) > 0 {
		c.s.firstSubOnce.Do(func() { close(c.s.firstSub) })
	}
}

func (c *client) unsubscribe(st *stream) {
	if i := indexOf(c.subs, st); i >= 0 {
		c.subs = append(c.subs[:i], c.subs[i+1:]...)
		st.remove(c)
	}
}

// readLoop reads control messages until the connection closes.
func (c *client) readLoop(writerDone <-chan struct{}) error {
	c.conn.SetReadLimit(64 << 10)
	for {
		_, msg, err := c.conn.Read(context.Background())
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return nil
			}
			return err
		}
		c.handleControl(msg, writerDone)
	}
}

// handleControl answers one subscription message. Every message gets an
// answer: a result, the subscription list, or an error.
func (c *client) handleControl(msg []byte, writerDone <-chan struct{}) {
	ctl, err := parseControl(msg)
	if err != nil {
		var ce *controlError
		errors.As(err, &ce)
		if ctl.coinbase || (ctl.method == "" && c.s.coinbaseStyle()) {
			c.reply(coinbaseError("Failed to parse message", ce.msg), writerDone)
		} else {
			c.reply(binanceError(ctl.id, ce.code, ce.msg), writerDone)
		}
		return
	}
	if ctl.coinbase {
		c.handleCoinbase(ctl, writerDone)
		return
	}
	switch ctl.method {
	case "SUBSCRIBE", "UNSUBSCRIBE":
		if len(ctl.params) == 0 {
			c.reply(binanceError(ctl.id, 2, "Invalid request: "+errNoStreams.Error()), writerDone)
			return
		}
		sts := make([]*stream, 0, len(ctl.params))
		for _, p := range ctl.params {
			st := c.s.lookup(p)
			if st == nil {
				c.reply(binanceError(ctl.id, 2, "Invalid request: "+errUnknownStream(p).Error()), writerDone)
				return
			}
			sts = append(sts, st)
		}
		// The reply is queued before the subscription takes effect, so it
		// reaches the client before the first tick of the new stream.
		c.reply(binanceResult(ctl.id, nil), writerDone)
		if ctl.method == "SUBSCRIBE" {
			c.subscribe(sts)
		} else {
			for _, st := range sts {
				c.unsubscribe(st)
			}
		}
	case "LIST_SUBSCRIPTIONS":
		names := make([]string, 0, len(c.subs))
		for _, st := range c.subs {
			names = append(names, st.name)
		}
		c.reply(binanceResult(ctl.id, names), writerDone)
	default:
		c.reply(binanceError(ctl.id, 2, "Invalid request: unknown method "+quote(ctl.method)), writerDone)
	}
}

func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b := []byte{'"'}
	for _, r := range s {
		if r < 0x20 || r == '"' || r == '\\' || r > 0x7e {
			r = '?'
		}
		b = append(b, byte(r))
	}
	return string(append(b, '"'))
}

func (c *client) handleCoinbase(ctl control, writerDone <-chan struct{}) {
	if ctl.typ != "subscribe" && ctl.typ != "unsubscribe" {
		c.reply(coinbaseError("Failed to subscribe", "unknown message type "+quote(ctl.typ)), writerDone)
		return
	}
	var sts []*stream
	for _, sub := range ctl.subs {
		if sub.Name != "ticker" {
			c.reply(coinbaseError("Failed to subscribe", "channel "+quote(sub.Name)+" is not supported (only ticker)"), writerDone)
			return
		}
		for _, p := range sub.ProductIDs {
			st := c.s.lookup(p + "@ticker")
			if st == nil {
				c.reply(coinbaseError("Failed to subscribe", quote(p)+" is not a valid product"), writerDone)
				return
			}
			sts = append(sts, st)
		}
	}
	// Work out the resulting list and queue the reply before the change
	// takes effect, so that it precedes the first tick of a new product.
	after := append([]*stream(nil), c.subs...)
	for _, st := range sts {
		i := indexOf(after, st)
		switch {
		case ctl.typ == "subscribe" && i < 0:
			after = append(after, st)
		case ctl.typ == "unsubscribe" && i >= 0:
			after = append(after[:i], after[i+1:]...)
		}
	}
	products := make([]string, 0, len(after))
	for _, st := range after {
		products = append(products, st.symbol)
	}
	c.reply(coinbaseSubscriptions(products), writerDone)
	if ctl.typ == "subscribe" {
		c.subscribe(sts)
	} else {
		for _, st := range sts {
			c.unsubscribe(st)
		}
	}
}

func indexOf(sts []*stream, st *stream) int {
	for i, x := range sts {
		if x == st {
			return i
		}
	}
	return -1
}
