// Package orderapi is the mock exchange's HTTPS order entry API: signed
// POST /api/v3/order requests (see orderapi/sign) answered with an ack after a
// simulated matching delay, plus GET /stats and GET /healthz.
//
// The server speaks HTTP/1.1 only (ALPN "http/1.1", no h2) with keep-alive,
// so the monitor sees one request/response pair after another on each
// connection. Routing is Echo v4 behind a plain net/http server.
//
// Responses: an order gets 200 with an Ack (status NEW, FILLED or, for a
// simulated business rejection, REJECTED with a reason); anything refused gets
// a 4xx with the JSON error body {"code":N,"msg":"..."} (codes in codes.go).
//
// Buffers: each request body is read, with a limit, into a pooled buffer that
// the server owns and reuses after the ack is written; the ack is encoded into
// another pooled buffer. Nothing of a request is kept after its response
// except counters.
package orderapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/tlsconf"
	"github.com/cloudpcap/cloudpcap/orderapi/sign"
	"github.com/labstack/echo/v4"
)

// Routes.
const (
	PathOrder   = "/api/v3/order"
	PathStats   = "/stats"
	PathHealthz = "/healthz"
)

// ShutdownGrace is how long Run waits for requests in flight after its
// context ends before closing connections.
const ShutdownGrace = 5 * time.Second

// Server is one order API server. Make it with New; it serves on one
// listener at a time via Run, or in-process via Handler.
type Server struct {
	cfg      Config
	log      *slog.Logger
	tls      *tls.Config
	echo     *echo.Echo
	verifier *sign.Verifier
	bucket   *bucket
	maxBody  int64

	nextID atomic.Uint64
	stats  counters

	rngMu sync.Mutex
	rng   *rand.Rand

	bufs sync.Pool // *[]byte: request bodies and acks
}

// New validates cfg and builds a server. log may be nil (discard). The TLS
// certificate (self-signed unless cfg.TLS names files) is made here.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tc, err := tlsconf.ServerConfig(cfg.TLS, "http/1.1")
	if err != nil {
		return nil, fmt.Errorf("orderapi: TLS: %w", err)
	}
	s := &Server{
		cfg:      cfg,
		log:      log,
		tls:      tc,
		verifier: sign.NewVerifier(cfg.APIKey, cfg.APISecret),
		bucket:   newBucket(cfg.RateLimit, cfg.burst(), time.Now()),
		maxBody:  cfg.maxBody(),
		rng:      rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x6f72646572617069)),
	}
	s.stats.symbols = map[string]*atomic.Uint64{}
	s.bufs.New = func() any { b := make([]byte, 0, 1024); return &b }

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.errorHandler
	e.Use(s.recoverer)
	e.POST(PathOrder, s.handleOrder)
	e.GET(PathStats, s.handleStats)
	e.GET(PathHealthz, s.handleHealthz)
	s.echo = e
	return s, nil
}

// Handler returns the HTTP handler (routing, errors, recovery), for tests and
// embedding; Run serves the same handler over TLS.
func (s *Server) Handler() http.Handler { return s.echo }

// TLSConfig returns the server's TLS configuration (its certificate lets a
// test client trust it). The caller must not modify it.
func (s *Server) TLSConfig() *tls.Config { return s.tls }

// Stats returns a snapshot of the counters served at GET /stats.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// Run serves HTTPS on ln until ctx ends, then shuts down gracefully: no new
// connections, requests in flight get ShutdownGrace to finish, idle
// keep-alive connections are closed. It closes ln. It returns nil after a
// shutdown caused by ctx, or the error that stopped serving.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.echo,
		TLSConfig:         s.tls,
		TLSNextProto:      map[string]func(*http.Server, *tls.Conn, http.Handler){}, // no h2
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		ConnState:         s.connState,
	}
	srv.SetKeepAlivesEnabled(true)
	s.log.Info("listening", "addr", ln.Addr().String(), "tls", tlsVersion(s.cfg.TLS.Version),
		"cipher", s.cfg.TLS.Cipher, "ack_delay", s.cfg.AckDelay.String(), "reject_rate", s.cfg.RejectRate,
		"rate_limit", s.cfg.RateLimit, "max_body", s.maxBody, "api_key", s.cfg.APIKey)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(tls.NewListener(ln, s.tls)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("orderapi: serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		s.log.Warn("orderapi shutdown grace expired; closing connections", "err", err)
		srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return fmt.Errorf("orderapi: serving on %s: %w", ln.Addr(), serr)
	}
	s.log.Info("orderapi stopped", "accepted", s.stats.accepted.Load(), "connections", s.stats.conns.Load())
	return nil
}

func tlsVersion(v string) string {
	if v == "" {
		return "1.3"
	}
	return v
}

func (s *Server) connState(_ net.Conn, st http.ConnState) {
	switch st {
	case http.StateNew:
		s.stats.conns.Add(1)
		s.stats.open.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.stats.open.Add(-1)
	}
}

// handleOrder is POST /api/v3/order: size limit, signature, rate limit, body,
// then the simulated matching engine.
func (s *Server) handleOrder(c echo.Context) error {
	recv := time.Now()
	r := c.Request()

	bp := s.bufs.Get().(*[]byte)
	defer s.putBuf(bp)
	body, err := s.readBody(r, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		return err
	}
	if err := s.verifier.VerifyRequest(r.Header, r.Method, r.RequestURI, body, recv); err != nil {
		s.stats.auth.Add(1)
		return authError(err)
	}
	if ok, wait := s.bucket.take(recv); !ok {
		s.stats.rateLimited.Add(1)
		secs := int64((wait + time.Second - 1) / time.Second)
		c.Response().Header().Set("Retry-After", strconv.FormatInt(max(1, secs), 10))
		return &apiError{http.StatusTooManyRequests, CodeTooManyRequests,
			fmt.Sprintf("over %g orders/s; retry in %v", s.cfg.RateLimit, wait.Round(time.Microsecond))}
	}
	o, err := ParseOrder(body)
	if err != nil {
		s.stats.badRequest.Add(1)
		var fe *FieldError
		errors.As(err, &fe)
		return &apiError{http.StatusBadRequest, fe.Code, fe.Error()}
	}

	s.rngMu.Lock()
	reject := s.cfg.RejectRate > 0 && s.rng.Float64() < s.cfg.RejectRate
	d := s.cfg.AckDelay.Sample(s.rng)
	s.rngMu.Unlock()

	id := s.nextID.Add(1)
	s.stats.symbol(o.Symbol)
	status, reason := StatusNew, ""
	switch {
	case reject:
		status, reason = StatusRejected, "simulated rejection (reject rate "+strconv.FormatFloat(s.cfg.RejectRate, 'g', -1, 64)+")"
		s.stats.business.Add(1)
	case o.Type == "MARKET":
		status = StatusFilled
		s.stats.accepted.Add(1)
		s.stats.filled.Add(1)
	default:
		s.stats.accepted.Add(1)
	}
	if d > 0 {
		waitUntil(r.Context(), recv.Add(d))
	}

	ap := s.bufs.Get().(*[]byte)
	defer s.putBuf(ap)
	w := c.Response()
	w.Header()["Content-Type"] = jsonContentType
	ack := appendAck((*ap)[:0], id, &o, status, reason, recv.UnixNano(), time.Now().UnixNano())
	*ap = ack[:0]
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(ack))}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(ack)
	return err
}

var jsonContentType = []string{"application/json"}

// maxPooledBuf: buffers grown past this by a large body are dropped rather
// than kept in the pool.
const maxPooledBuf = 64 << 10

func (s *Server) putBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		s.bufs.Put(b)
	}
}

// readBody reads the request body into buf, refusing more than maxBody bytes
// without buffering them.
func (s *Server) readBody(r *http.Request, buf []byte) ([]byte, error) {
	tooLarge := func() error {
		s.stats.tooLarge.Add(1)
		return &apiError{http.StatusRequestEntityTooLarge, CodeTooLarge,
			fmt.Sprintf("body over the %d byte limit", s.maxBody)}
	}
	if r.ContentLength > s.maxBody {
		return buf, tooLarge()
	}
	lr := io.LimitedReader{R: r.Body, N: s.maxBody + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if int64(len(buf)) > s.maxBody {
			return buf[:0], tooLarge()
		}
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			s.stats.badRequest.Add(1)
			return buf[:0], &apiError{http.StatusBadRequest, CodeMalformedJSON, "reading body: " + err.Error()}
		}
	}
}

func authError(err error) error {
	var se *sign.Error
	if !errors.As(err, &se) {
		return &apiError{http.StatusUnauthorized, CodeBadSignature, "unauthorized"}
	}
	code := CodeBadSignature
	switch {
	case errors.Is(err, sign.ErrMissingHeader):
		code = CodeMissingParam
	case errors.Is(err, sign.ErrBadKey):
		code = CodeBadAPIKey
	case errors.Is(err, sign.ErrBadTimestamp), errors.Is(err, sign.ErrStaleTimestamp):
		code = CodeBadTimestamp
	}
	return &apiError{http.StatusUnauthorized, code, se.Error()}
}

func (s *Server) handleStats(c echo.Context) error {
	return c.JSON(http.StatusOK, s.Stats())
}

func (s *Server) handleHealthz(c echo.Context) error {
	return c.JSONBlob(http.StatusOK, []byte(`{"status":"ok"}`))
}

// errorBody is the JSON of every non-200 response.
type errorBody struct {
	Code int    `json:"code"`
	Msg  string `json:"msg"`
}

// errorHandler turns handler and router errors into {"code","msg"} JSON.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		ae = &apiError{http.StatusNotFound, CodeUnsupported, "no route " + c.Request().Method + " " + c.Request().URL.Path}
	case errors.As(err, &he) && he.Code == http.StatusMethodNotAllowed:
		ae = &apiError{http.StatusMethodNotAllowed, CodeUnsupported, "method " + c.Request().Method + " not allowed on " + c.Request().URL.Path}
	case errors.As(err, &he):
		ae = &apiError{he.Code, CodeInternal, fmt.Sprint(he.Message)}
	default:
		s.log.Error("orderapi handler error", "path", c.Request().URL.Path, "err", err)
		ae = &apiError{http.StatusInternalServerError, CodeInternal, "internal error"}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(ae.status)
		return
	}
	b, _ := json.Marshal(errorBody{Code: ae.code, Msg: ae.msg})
	_ = c.JSONBlob(ae.status, b)
}

// recoverer turns a handler panic into a 500 and a log line, so one bad
// request never stops the server.
func (s *Server) recoverer(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("orderapi handler panic", "path", c.Request().URL.Path, "panic", fmt.Sprint(p))
				err = &apiError{http.StatusInternalServerError, CodeInternal, "internal error"}
			}
		}()
		return next(c)
	}
}
