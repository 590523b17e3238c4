// Package liveview serves a page that follows a running scenario: message
// and order rates, rolling percentiles of feed latency, tick-to-trade and
// order-to-ack, and latency over time, updated every second over
// Server-Sent Events. The page is self-contained (no network fetches).
//
// It binds to loopback unless the address names a host explicitly: ":8080"
// becomes 127.0.0.1:8080.
package liveview

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/live"
)

//go:embed page.html
var page []byte

// Snapshot is the state of a running scenario, once a second: the runner
// publishes it here and draws its progress line from it.
type Snapshot struct {
	Scenario   string
	Repetition int
	Elapsed    time.Duration
	Left       time.Duration
	Points     []live.PointSnapshot
}

// Frame is what the page receives each second.
type Frame struct {
	Scenario   string  `json:"scenario"`
	Repetition int     `json:"repetition"`
	ElapsedS   float64 `json:"elapsed_s"`
	LeftS      float64 `json:"left_s"`
	Points     any     `json:"points"`
}

// Server is a running live view.
type Server struct {
	srv    *http.Server
	ln     net.Listener
	mu     sync.Mutex
	frames [][]byte // history, so a late browser sees the whole run
	subs   map[chan []byte]struct{}
	closed bool
}

// ListenAddr applies the loopback default to addr.
func ListenAddr(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("--live %q: want HOST:PORT or :PORT (%v)", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port), nil
}

// Start listens on addr and serves the page.
func Start(addr string) (*Server, error) {
	a, err := ListenAddr(addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", a)
	if err != nil {
		return nil, fmt.Errorf("--live: %w", err)
	}
	s := &Server{ln: ln, subs: map[chan []byte]struct{}{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
		w.Write(page)
	})
	mux.HandleFunc("GET /events", s.events)
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go s.srv.Serve(ln)
	return s, nil
}

// URL is where the page is served.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() + "/" }

// Publish sends a snapshot to every open page.
func (s *Server) Publish(snap Snapshot) {
	b, err := json.Marshal(Frame{Scenario: snap.Scenario, Repetition: snap.Repetition, ElapsedS: snap.Elapsed.Seconds(), LeftS: snap.Left.Seconds(), Points: snap.Points})
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	if len(s.frames) < 24*3600 {
		s.frames = append(s.frames, b)
	}
	for c := range s.subs {
		select {
		case c <- b:
		default: // a slow browser misses a frame rather than stalling the run
		}
	}
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	c := make(chan []byte, 64)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	backlog := append([][]byte(nil), s.frames...)
	s.subs[c] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.subs, c)
		s.mu.Unlock()
	}()
	for _, b := range backlog {
		fmt.Fprintf(w, "data: %s\n\n", b)
	}
	fl.Flush()
	for {
		select {
		case <-r.Context().Done():
			return
		case b, ok := <-c:
			if !ok {
				fmt.Fprint(w, "event: end\ndata: {}\n\n")
				fl.Flush()
				return
			}
			fmt.Fprintf(w, "data: %s\n\n", b)
			fl.Flush()
		}
	}
}

// Close ends the streams (pages show the run as finished) and stops serving.
func (s *Server) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		for c := range s.subs {
			close(c)
		}
		s.subs = map[chan []byte]struct{}{}
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	if err != nil {
		// A browser that stopped reading keeps its stream's handler
		// blocked in a write: close the connections outright.
		return s.srv.Close()
	}
	return nil
}
