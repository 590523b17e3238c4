// Package session runs a small trading session on loopback for the
// pipeline's tests and fixture generator: a TLS WebSocket feed of
// Binance-shaped trades (gorilla/websocket or coder/websocket, with or
// without permessage-deflate), an HTTPS order API (net/http, HTTP/1.1
// keep-alive) answering Binance-shaped acks, and a client that reads the
// ticks, posts an order naming the tick that triggered it (tick_feed,
// tick_seq) and writes its TLS secrets to a key log. It returns the ground
// truth the monitor must find: every tick with its exchange time, every
// order with its tick.
//
// The server stamps a tick's exchange time E (microseconds) right before
// writing it, so a monitor's feed latency (wire time - E) must be >= 0.
//
// Buffers: nothing is shared with the caller except the Truth returned by
// Run, which the caller owns.
package session

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	cws "github.com/coder/websocket"
	gws "github.com/gorilla/websocket"
)

// Options describe one session.
type Options struct {
	TLS    string // "1.2" or "1.3" (default)
	Cipher string // TLS 1.2 suite short name (aes128gcm, aes256gcm, chacha20)
	// WS picks the feed's WebSocket library: "gorilla" (default) or
	// "coder". Gorilla's permessage-deflate never keeps context; coder's
	// does when ContextTakeover is set.
	WS              string
	Deflate         bool
	ContextTakeover bool
	// Fragment makes the coder server write every message in frames of
	// 100 bytes (gorilla fragments only messages over its 4 KiB buffer).
	Fragment   bool
	Ticks      int // ticks the feed sends (default 20)
	OrderEvery int // an order after every n-th tick (default 4; <0: none)
	BigEvery   int // every n-th tick carries ~30 KB of padding (0: none)
	Seed       int64
	Symbol     string // default BTCUSDT
	KeyLog     io.Writer
	// Dial dials both servers (default net.Dialer). Listen wraps the raw
	// TCP listeners (nil: as they are). The generator records bytes with
	// them.
	Dial   func(ctx context.Context, network, addr string) (net.Conn, error)
	Listen func(net.Listener) net.Listener
}

// Tick is one feed message as the server sent it.
type Tick struct {
	Seq    uint64
	ExchUS int64 // E, microseconds since the epoch, stamped before the write
	Len    int   // payload bytes
}

// Order is one order as the client sent it, with the server's ack.
type Order struct {
	ID      string
	TickSeq uint64
	Status  string
}

// Truth is what the session sent.
type Truth struct {
	FeedConn string // the feed connection as the client saw it: "client:port-server:port"
	Ticks    []Tick
	Orders   []Order
}

// Session is a running pair of servers.
type Session struct {
	opts      Options
	feedLn    net.Listener
	orderLn   net.Listener
	feedSrv   *http.Server
	orderSrv  *http.Server
	roots     *x509.CertPool
	wg        sync.WaitGroup
	mu        sync.Mutex
	sent      []Tick
	serveErrs []error
	nextOrder int64
}

// Start starts the feed and order servers on 127.0.0.1 with free ports.
func Start(o Options) (*Session, error) {
	if o.Ticks == 0 {
		o.Ticks = 20
	}
	if o.OrderEvery == 0 {
		o.OrderEvery = 4
	}
	if o.Symbol == "" {
		o.Symbol = "BTCUSDT"
	}
	if o.WS == "" {
		o.WS = "gorilla"
	}
	if o.WS != "gorilla" && o.WS != "coder" {
		return nil, fmt.Errorf("session: WS %q: want gorilla or coder", o.WS)
	}
	if o.Fragment && o.WS != "coder" {
		return nil, errors.New("session: Fragment needs WS coder")
	}
	if o.ContextTakeover && o.WS != "coder" {
		return nil, errors.New("session: context takeover needs WS coder (gorilla never keeps context)")
	}
	tcfg, err := tlsconf.ServerConfig(tlsconf.Options{Version: o.TLS, Cipher: o.Cipher, Hosts: []string{"127.0.0.1"}}, "http/1.1")
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	for _, c := range tcfg.Certificates {
		for _, der := range c.Certificate {
			if cert, err := x509.ParseCertificate(der); err == nil {
				roots.AddCert(cert)
			}
		}
	}
	s := &Session{opts: o, roots: roots, nextOrder: 1000}
	listen := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		if o.Listen != nil {
			ln = o.Listen(ln)
		}
		return tls.NewListener(ln, tcfg.Clone()), nil
	}
	if s.feedLn, err = listen(); err != nil {
		return nil, err
	}
	if s.orderLn, err = listen(); err != nil {
		s.feedLn.Close()
		return nil, err
	}
	s.feedSrv = &http.Server{Handler: http.HandlerFunc(s.serveFeed), ReadHeaderTimeout: 10 * time.Second}
	s.orderSrv = &http.Server{Handler: http.HandlerFunc(s.serveOrder), ReadHeaderTimeout: 10 * time.Second}
	for _, p := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.feedSrv, s.feedLn}, {s.orderSrv, s.orderLn}} {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := p.srv.Serve(p.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.noteErr(err)
			}
		}()
	}
	return s, nil
}

// FeedAddr and OrderAddr are the servers' addresses.
func (s *Session) FeedAddr() netAddr  { return s.feedLn.Addr().(*net.TCPAddr) }
func (s *Session) OrderAddr() netAddr { return s.orderLn.Addr().(*net.TCPAddr) }

type netAddr = *net.TCPAddr

// Close stops both servers and waits for their goroutines.
func (s *Session) Close() error {
	s.feedSrv.Close()
	s.orderSrv.Close()
	s.wg.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.serveErrs...)
}

func (s *Session) noteErr(err error) {
	s.mu.Lock()
	s.serveErrs = append(s.serveErrs, err)
	s.mu.Unlock()
}

// tick builds the n-th trade message, E stamped now.
func (s *Session) tick(n uint64, pad []byte) ([]byte, Tick) {
	e := time.Now().UnixMicro()
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"e":"trade","E":%d,"s":%q,"t":%d,"p":"%d.%02d","q":"0.%03d","T":%d,"m":%t`,
		e, s.opts.Symbol, n, 60000+n%97, n%100, 1+n%997, e/1000, n%2 == 0)
	if pad != nil {
		fmt.Fprintf(&b, `,"pad":"%s"`, pad)
	}
	b.WriteByte('}')
	return b.Bytes(), Tick{Seq: n, ExchUS: e, Len: b.Len()}
}

func (s *Session) serveFeed(w http.ResponseWriter, r *http.Request) {
	rng := rand.New(rand.NewSource(s.opts.Seed))
	pad := func(n uint64) []byte {
		if s.opts.BigEvery <= 0 || n%uint64(s.opts.BigEvery) != 0 {
			return nil
		}
		p := make([]byte, 30000)
		for i := range p {
			p[i] = 'a' + byte(rng.Intn(26))
		}
		return p
	}
	var write func(n uint64) error
	var finish func()
	if s.opts.WS == "gorilla" {
		up := gws.Upgrader{EnableCompression: s.opts.Deflate}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			s.noteErr(err)
			return
		}
		defer c.Close()
		write = func(n uint64) error {
			msg, t := s.tick(n, pad(n))
			err := c.WriteMessage(gws.TextMessage, msg)
			s.record(t)
			return err
		}
		finish = func() {
			c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, "done"), time.Now().Add(5*time.Second))
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			for {
				if _, _, err := c.NextReader(); err != nil {
					return
				}
			}
		}
	} else {
		mode := cws.CompressionDisabled
		if s.opts.Deflate {
			mode = cws.CompressionNoContextTakeover
			if s.opts.ContextTakeover {
				mode = cws.CompressionContextTakeover
			}
		}
		c, err := cws.Accept(w, r, &cws.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
		if err != nil {
			s.noteErr(err)
			return
		}
		defer c.CloseNow()
		ctx := r.Context()
		write = func(n uint64) error {
			msg, t := s.tick(n, pad(n))
			var err error
			if s.opts.Fragment {
				var wr io.WriteCloser
				if wr, err = c.Writer(ctx, cws.MessageText); err == nil {
					for i := 0; i < len(msg) && err == nil; i += 100 {
						_, err = wr.Write(msg[i:min(i+100, len(msg))])
					}
					if err == nil {
						err = wr.Close()
					}
				}
			} else {
				err = c.Write(ctx, cws.MessageText, msg)
			}
			s.record(t)
			return err
		}
		finish = func() { c.Close(cws.StatusNormalClosure, "done") }
	}
	for n := uint64(1); n <= uint64(s.opts.Ticks); n++ {
		if err := write(n); err != nil {
			s.noteErr(fmt.Errorf("feed: tick %d: %w", n, err))
			return
		}
	}
	finish()
}

func (s *Session) record(t Tick) {
	s.mu.Lock()
	s.sent = append(s.sent, t)
	s.mu.Unlock()
}

type orderReq struct {
	Symbol   string `json:"symbol"`
	Side     string `json:"side"`
	Type     string `json:"type"`
	Quantity string `json:"quantity"`
	Price    string `json:"price"`
	ID       string `json:"newClientOrderId"`
	TickFeed string `json:"tick_feed"`
	TickSeq  uint64 `json:"tick_seq"`
}

func (s *Session) serveOrder(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/api/v3/order" {
		http.Error(w, `{"code":-1100,"msg":"not found"}`, http.StatusNotFound)
		return
	}
	var o orderReq
	if err := json.NewDecoder(r.Body).Decode(&o); err != nil || o.ID == "" {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":-1102,"msg":"bad order"}`)
		return
	}
	s.mu.Lock()
	s.nextOrder++
	id := s.nextOrder
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"symbol":%q,"orderId":%d,"orderListId":-1,"clientOrderId":%q,"transactTime":%d,"price":%q,"origQty":%q,"executedQty":"0.00000000","status":"NEW","timeInForce":"GTC","type":%q,"side":%q}`,
		o.Symbol, id, o.ID, time.Now().UnixMilli(), o.Price, o.Quantity, o.Type, o.Side)
}

func (s *Session) clientTLS() *tls.Config {
	c := &tls.Config{RootCAs: s.roots, ServerName: "127.0.0.1", KeyLogWriter: s.opts.KeyLog, NextProtos: []string{"http/1.1"}}
	if s.opts.TLS == "1.2" {
		c.MaxVersion = tls.VersionTLS12
	}
	return c
}

func (s *Session) dial() func(ctx context.Context, network, addr string) (net.Conn, error) {
	if s.opts.Dial != nil {
		return s.opts.Dial
	}
	var d net.Dialer
	return d.DialContext
}

// feedConn is what the client needs of a feed connection.
type feedConn interface {
	read(ctx context.Context) ([]byte, error)
	close()
	name() string
}

type gorillaFeed struct{ c *gws.Conn }

func (g gorillaFeed) read(context.Context) ([]byte, error) {
	_, b, err := g.c.ReadMessage()
	return b, err
}
func (g gorillaFeed) close() {
	g.c.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, ""), time.Now().Add(5*time.Second))
	g.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, _, err := g.c.NextReader(); err != nil {
			break
		}
	}
	g.c.Close()
}
func (g gorillaFeed) name() string { return g.c.LocalAddr().String() + "-" + g.c.RemoteAddr().String() }

type coderFeed struct {
	c    *cws.Conn
	addr string
}

func (c *coderFeed) read(ctx context.Context) ([]byte, error) {
	_, b, err := c.c.Read(ctx)
	return b, err
}
func (c *coderFeed) close()       { c.c.Close(cws.StatusNormalClosure, "") }
func (c *coderFeed) name() string { return c.addr }

// Run connects a client, reads every tick, posts the orders and closes.
func (s *Session) Run(ctx context.Context) (*Truth, error) {
	url := "wss://" + s.feedLn.Addr().String() + "/ws/btcusdt@trade"
	var fc feedConn
	if s.opts.WS == "gorilla" {
		d := gws.Dialer{NetDialContext: s.dial(), TLSClientConfig: s.clientTLS(), EnableCompression: s.opts.Deflate, HandshakeTimeout: 10 * time.Second}
		c, resp, err := d.DialContext(ctx, url, nil)
		if err != nil {
			return nil, fmt.Errorf("session: feed dial: %w", err)
		}
		resp.Body.Close()
		fc = gorillaFeed{c}
	} else {
		var name string
		dial := s.dial()
		tr := &http.Transport{TLSClientConfig: s.clientTLS(), DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err == nil {
				name = c.LocalAddr().String() + "-" + c.RemoteAddr().String()
			}
			return c, err
		}}
		defer tr.CloseIdleConnections()
		mode := cws.CompressionDisabled
		if s.opts.Deflate {
			mode = cws.CompressionNoContextTakeover
			if s.opts.ContextTakeover {
				mode = cws.CompressionContextTakeover
			}
		}
		c, resp, err := cws.Dial(ctx, url, &cws.DialOptions{HTTPClient: &http.Client{Transport: tr}, CompressionMode: mode, CompressionThreshold: 1})
		if err != nil {
			return nil, fmt.Errorf("session: feed dial: %w", err)
		}
		if resp != nil && resp.Body != nil {
			resp.Body.Close()
		}
		c.SetReadLimit(1 << 20)
		fc = &coderFeed{c: c, addr: name}
	}
	tr := &http.Transport{TLSClientConfig: s.clientTLS(), DialContext: s.dial(), MaxIdleConnsPerHost: 1, ForceAttemptHTTP2: false}
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	defer tr.CloseIdleConnections()
	truth := &Truth{FeedConn: fc.name()}
	orderURL := "https://" + s.orderLn.Addr().String() + "/api/v3/order"
	for len(truth.Ticks) < s.opts.Ticks {
		b, err := fc.read(ctx)
		if err != nil {
			return nil, fmt.Errorf("session: feed read after %d ticks: %w", len(truth.Ticks), err)
		}
		var m struct {
			Ev string `json:"e"` // Go's JSON matches keys case-insensitively: "e" needs its own field
			E  int64  `json:"E"`
			T  uint64 `json:"t"`
			TT int64  `json:"T"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("session: tick %d: %w", len(truth.Ticks)+1, err)
		}
		truth.Ticks = append(truth.Ticks, Tick{Seq: m.T, ExchUS: m.E, Len: len(b)})
		if s.opts.OrderEvery > 0 && m.T%uint64(s.opts.OrderEvery) == 0 {
			o, err := s.order(ctx, hc, orderURL, truth.FeedConn, m.T)
			if err != nil {
				return nil, err
			}
			truth.Orders = append(truth.Orders, o)
		}
	}
	fc.close()
	tr.CloseIdleConnections()
	return truth, nil
}

func (s *Session) order(ctx context.Context, hc *http.Client, url, feed string, seq uint64) (Order, error) {
	id := "cp-" + strconv.FormatUint(seq, 10)
	body, _ := json.Marshal(orderReq{Symbol: s.opts.Symbol, Side: "BUY", Type: "LIMIT", Quantity: "0.001", Price: "60000.00", ID: id, TickFeed: feed, TickSeq: seq})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Order{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return Order{}, fmt.Errorf("session: order %s: %w", id, err)
	}
	defer resp.Body.Close()
	var ack struct {
		ID     string `json:"clientOrderId"`
		Status string `json:"status"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&ack); err != nil || resp.StatusCode != 200 || ack.ID != id {
		return Order{}, fmt.Errorf("session: order %s: status %d, ack %+v, %v", id, resp.StatusCode, ack, err)
	}
	return Order{ID: id, TickSeq: seq, Status: ack.Status}, nil
}

// Sent returns the ticks the server wrote, in order.
func (s *Session) Sent() []Tick {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Tick(nil), s.sent...)
}
