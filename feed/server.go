package feed

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/labstack/echo/v4"

	"github.com/cloudpcap/cloudpcap/feed/format"
	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
)

// stream is one named stream (for example btcusdt@trade) with its subscribers.
type stream struct {
	name   string
	symbol string
	kind   format.Kind

	mu   sync.Mutex                // serialises changes to subs
	subs atomic.Pointer[[]*client] // copy on write; read by the publisher without locking

	lastSeq   atomic.Uint64
	generated atomic.Uint64
	sent      atomic.Uint64
	dropped   atomic.Uint64
}

// publish hands a copy of t (with this stream's name and kind) to every
// subscriber's queue. Only the symbol's generator calls it.
func (st *stream) publish(t *format.Tick) {
	t.Stream, t.Kind = st.name, st.kind
	st.lastSeq.Store(t.Seq)
	st.generated.Add(1)
	if subs := st.subs.Load(); subs != nil {
		for _, c := range *subs {
			c.push(st, t)
		}
	}
}

func (st *stream) add(c *client) {
	st.mu.Lock()
	defer st.mu.Unlock()
	var next []*client
	if old := st.subs.Load(); old != nil {
		next = append(next, *old...)
	}
	next = append(next, c)
	st.subs.Store(&next)
}

func (st *stream) remove(c *client) {
	st.mu.Lock()
	defer st.mu.Unlock()
	old := st.subs.Load()
	if old == nil {
		return
	}
	next := make([]*client, 0, len(*old))
	for _, x := range *old {
		if x != c {
			next = append(next, x)
		}
	}
	st.subs.Store(&next)
}

// symbolFeed is one symbol's streams and, when generating, its price
// process and schedule.
type symbolFeed struct {
	symbol  string
	streams []*stream
	proc    priceProcess
	sched   schedule
	seq     uint64
}

// Server is a feed server. Make one with New and start it with Run.
type Server struct {
	cfg     Config
	log     *slog.Logger
	tls     *tls.Config
	symbols []*symbolFeed
	streams map[string]*stream // by canonical name
	names   []string           // canonical names, sorted
	replay  []format.Tick      // loaded --replay file
	rec     *recorder

	mu       sync.Mutex // guards clients and closing
	clients  map[*client]struct{}
	closing  bool
	clientWG sync.WaitGroup
	ran      atomic.Bool

	connections     atomic.Uint64
	sent            atomic.Uint64
	dropped         atomic.Uint64
	slowDisconnects atomic.Uint64

	ctx    context.Context // cancelled when Run begins shutting down
	cancel context.CancelFunc

	start        time.Time     // generators' time zero, set by Run before they start
	firstSub     chan struct{} // closed once the first subscription is in place (replay starts then)
	replayStart  atomic.Int64  // wall-clock ns of the replay's time zero; 0 until it starts
	firstSubOnce sync.Once
}

// New validates cfg, loads the replay file if any, makes the TLS
// configuration (a self-signed certificate when none is given) and builds
// the streams. log may be nil (discard).
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, streams: map[string]*stream{}, clients: map[*client]struct{}{}}
	if !cfg.NoTLS {
		tc, err := tlsconf.ServerConfig(cfg.TLS, "http/1.1")
		if err != nil {
			return nil, err
		}
		s.tls = tc
	}
	symbols := cfg.Symbols
	if cfg.Replay != "" {
		ticks, syms, err := loadReplay(cfg.Replay, cfg.Format)
		if err != nil {
			return nil, err
		}
		s.replay, symbols = ticks, syms
	}
	pat, err := parsePattern(cfg.Pattern, cfg.Rate)
	if err != nil {
		return nil, err
	}
	for i, sym := range symbols {
		sym = strings.ToUpper(sym)
		sf := &symbolFeed{symbol: sym}
		// Each symbol gets its own RNG stream from the one seed, so adding a
		// symbol does not change the prices of the others.
		rng := rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)+1))
		sf.proc = priceProcess{rng: rng, mid: startPrice(sym)}
		sf.sched = pat.newSchedule(rand.New(rand.NewPCG(uint64(cfg.Seed), uint64(i)+1<<32)))
		for _, ch := range cfg.Format.Channels() {
			st := &stream{name: cfg.Format.StreamName(sym, ch.Name), symbol: sym, kind: ch.Kind}
			s.streams[st.name] = st
			s.names = append(s.names, st.name)
			sf.streams = append(sf.streams, st)
		}
		s.symbols = append(s.symbols, sf)
	}
	sort.Strings(s.names)
	if cfg.Record != "" {
		rec, err := newRecorder(cfg.Record)
		if err != nil {
			return nil, err
		}
		s.rec = rec
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.firstSub = make(chan struct{})
	return s, nil
}

// lookup finds a stream by the name a client gave, ignoring the case of the
// symbol part.
func (s *Server) lookup(name string) *stream {
	if st, ok := s.streams[name]; ok {
		return st
	}
	sym, ch, ok := strings.Cut(name, "@")
	if !ok {
		return nil
	}
	for _, c := range s.cfg.Format.Channels() {
		if strings.EqualFold(c.Name, ch) {
			return s.streams[s.cfg.Format.StreamName(sym, c.Name)]
		}
	}
	return nil
}

// StreamNames lists the server's streams, sorted.
func (s *Server) StreamNames() []string { return append([]string(nil), s.names...) }

// Stats is the /stats document.
type Stats struct {
	Clients         int                    `json:"clients"`
	Connections     uint64                 `json:"connections_total"`
	Sent            uint64                 `json:"messages_sent"`
	Dropped         uint64                 `json:"dropped"`
	SlowDisconnects uint64                 `json:"slow_disconnects"`
	Streams         map[string]StreamStats `json:"streams"`
}

// StreamStats counts one stream.
type StreamStats struct {
	Subscribers int    `json:"subscribers"`
	LastSeq     uint64 `json:"last_seq"`
	Generated   uint64 `json:"generated"`
	Sent        uint64 `json:"sent"`
	Dropped     uint64 `json:"dropped"`
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	n := len(s.clients)
	s.mu.Unlock()
	st := Stats{Clients: n, Connections: s.connections.Load(), Sent: s.sent.Load(), Dropped: s.dropped.Load(),
		SlowDisconnects: s.slowDisconnects.Load(), Streams: map[string]StreamStats{}}
	for name, x := range s.streams {
		subs := 0
		if p := x.subs.Load(); p != nil {
			subs = len(*p)
		}
		st.Streams[name] = StreamStats{Subscribers: subs, LastSeq: x.lastSeq.Load(), Generated: x.generated.Load(),
			Sent: x.sent.Load(), Dropped: x.dropped.Load()}
	}
	return st
}

// Run serves on ln until ctx is cancelled, then closes every WebSocket with
// a close frame (1001 going away), stops the generators, flushes the record
// file and returns. It logs "listening addr=..." first. Run may be called
// once.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	if !s.ran.CompareAndSwap(false, true) {
		return errors.New("feed: Run called twice")
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/stats", func(c echo.Context) error { return c.JSON(http.StatusOK, s.Stats()) })
	e.GET("/", s.handleWS)
	e.GET("/ws", s.handleWS)
	e.GET("/ws/*", s.handleWS)
	e.GET("/stream", s.handleWS)

	srv := &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return s.ctx },
	}
	scheme := "ws"
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
		scheme = "wss"
	}
	tlsVersion := s.cfg.TLS.Version
	if tlsVersion == "" {
		tlsVersion = "1.3"
	}
	if s.tls == nil {
		tlsVersion = "off"
	}
	s.log.Info("listening", "addr", ln.Addr().String(), "url", scheme+"://"+ln.Addr().String()+"/ws",
		"format", s.cfg.Format.String(), "tls", tlsVersion, "streams", len(s.names), "deflate", s.cfg.Deflate)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	var genWG sync.WaitGroup
	start := time.Now()
	s.start = start
	if s.replay != nil {
		genWG.Add(1)
		go func() { defer genWG.Done(); s.runReplay() }()
	} else {
		for _, sf := range s.symbols {
			genWG.Add(1)
			go func() { defer genWG.Done(); s.generate(sf, start) }()
		}
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("feed: serving %s: %w", ln.Addr(), err)
	}
	s.log.Info("shutting down", "clients", s.Stats().Clients)
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.cancel()
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e := srv.Shutdown(shutCtx); e != nil && err == nil {
		err = fmt.Errorf("feed: shutdown: %w", e)
	}
	s.clientWG.Wait()
	genWG.Wait()
	if s.rec != nil {
		if e := s.rec.close(); e != nil && err == nil {
			err = e
		}
	}
	st := s.Stats()
	s.log.Info("stopped", "connections", st.Connections, "sent", st.Sent, "dropped", st.Dropped)
	return err
}

// waitUntil blocks until start+due or until the server stops; it reports
// whether to go on.
func (s *Server) waitUntil(timer *time.Timer, start time.Time, due time.Duration) bool {
	d := due - time.Since(start)
	if d <= 0 {
		return s.ctx.Err() == nil
	}
	timer.Reset(d)
	select {
	case <-s.ctx.Done():
		timer.Stop()
		return false
	case <-timer.C:
		return true
	}
}

// generate runs one symbol's schedule. Every event already due is emitted
// at once (catch-up by schedule), so timer overshoot never accumulates.
func (s *Server) generate(sf *symbolFeed, start time.Time) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var t format.Tick
	for {
		due := sf.sched.next()
		if !s.waitUntil(timer, start, due) {
			return
		}
		sf.seq++
		t = format.Tick{Symbol: sf.symbol, Seq: sf.seq, ExchNS: start.Add(due).UnixNano()}
		sf.proc.step(&t)
		if s.rec != nil {
			s.rec.write(&t, s.log)
		}
		for _, st := range sf.streams {
			st.publish(&t)
		}
	}
}

// wsOptions are the accept options for every connection.
func (s *Server) wsOptions() *websocket.AcceptOptions {
	o := &websocket.AcceptOptions{InsecureSkipVerify: true, CompressionMode: websocket.CompressionDisabled}
	if s.cfg.Deflate {
		o.CompressionMode = websocket.CompressionContextTakeover
		if s.cfg.DeflateNoContextTakeover {
			o.CompressionMode = websocket.CompressionNoContextTakeover
		}
		o.CompressionThreshold = s.cfg.DeflateThreshold
	}
	return o
}

// handleWS upgrades /, /ws, /ws/<streams> and /stream?streams=<streams>.
func (s *Server) handleWS(c echo.Context) error {
	r := c.Request()
	var names []string
	combined := false
	switch {
	case r.URL.Path == "/stream":
		combined = true
		names = splitStreams(r.URL.Query().Get("streams"))
	case strings.HasPrefix(r.URL.Path, "/ws/"):
		names = splitStreams(c.Param("*"))
	}
	subs := make([]*stream, 0, len(names))
	for _, n := range names {
		st := s.lookup(n)
		if st == nil {
			return c.JSON(http.StatusBadRequest, map[string]any{"code": 2, "msg": errUnknownStream(n).Error(), "streams": s.names})
		}
		subs = append(subs, st)
	}
	micro := false
	if tu := r.URL.Query().Get("timeUnit"); tu != "" {
		switch strings.ToUpper(tu) {
		case "MICROSECOND":
			micro = true
		case "MILLISECOND":
		default:
			return c.JSON(http.StatusBadRequest, map[string]any{"code": 2, "msg": fmt.Sprintf("timeUnit %q: want MILLISECOND or MICROSECOND", tu)})
		}
	}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return c.String(http.StatusServiceUnavailable, "shutting down\n")
	}
	s.clientWG.Add(1)
	s.mu.Unlock()
	defer s.clientWG.Done()

	conn, err := websocket.Accept(c.Response(), r, s.wsOptions())
	if err != nil {
		s.log.Debug("websocket accept failed", "remote", r.RemoteAddr, "err", err)
		return nil // Accept has written the HTTP error
	}
	s.serveConn(conn, r.RemoteAddr, subs, format.EncodeOptions{Micro: micro, Combined: combined})
	return nil
}

// replyStyle says whether errors to bad JSON use the Coinbase shape.
func (s *Server) coinbaseStyle() bool { return s.cfg.Format == format.Coinbase }
