package feed

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cloudpcap/cloudpcap/feed/format"
)

// maxReplayLine bounds one line of a replay file.
const maxReplayLine = 1 << 20

// loadReplay reads a lab-format JSONL tick file. Errors name the file and
// line. It returns the ticks in file order and the symbols in order of first
// appearance.
func loadReplay(path string, f format.Format) ([]format.Tick, []string, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--replay: %w", err)
	}
	defer file.Close()
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64<<10), maxReplayLine)
	var ticks []format.Tick
	var symbols []string
	seen := map[string]bool{}
	last := map[string]int64{}
	var t format.Tick
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 || b[0] == '#' {
			continue
		}
		if err := format.ParseLab(b, &t); err != nil {
			if errors.Is(err, format.ErrNotTick) {
				return nil, nil, fmt.Errorf("--replay %s:%d: not a lab tick line", path, line)
			}
			return nil, nil, fmt.Errorf("--replay %s:%d: %w", path, line, err)
		}
		sym := strings.ToUpper(t.Symbol)
		if prev, ok := last[sym]; ok && t.ExchNS < prev {
			return nil, nil, fmt.Errorf("--replay %s:%d: %s: ts_ns %d goes back in time (previous %d)", path, line, sym, t.ExchNS, prev)
		}
		last[sym] = t.ExchNS
		if !seen[sym] {
			if err := checkSymbol(f, sym); err != nil {
				return nil, nil, fmt.Errorf("--replay %s:%d: symbol not usable with --format %s: %w", path, line, f, err)
			}
			seen[sym] = true
			symbols = append(symbols, sym)
		}
		t.Symbol = sym
		ticks = append(ticks, t)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("--replay %s:%d: %w", path, line+1, err)
	}
	if len(ticks) == 0 {
		return nil, nil, fmt.Errorf("--replay %s: no ticks", path)
	}
	// Generators of different symbols write a recording concurrently, so
	// lines of different symbols may be slightly out of time order.
	sort.SliceStable(ticks, func(i, j int) bool { return ticks[i].ExchNS < ticks[j].ExchNS })
	return ticks, symbols, nil
}

// runReplay waits for the first subscription, then publishes the loaded
// ticks at their original spacing divided by the speed factor, each due at
// start + (ts - ts0)/speed (no drift). start is logged ("replay started",
// start_ns) and kept in replayStart: no tick is written before start + its
// offset, and a tick's exchange time (taken at its write) says how late it
// went out.
func (s *Server) runReplay() {
	select {
	case <-s.firstSub:
	case <-s.ctx.Done():
		return
	}
	start := time.Now()
	s.replayStart.Store(start.UnixNano())
	s.log.Info("replay started", "ticks", len(s.replay), "speed", s.cfg.Speed, "start_ns", start.UnixNano())
	bySymbol := map[string]*symbolFeed{}
	for _, sf := range s.symbols {
		bySymbol[sf.symbol] = sf
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	t0 := s.replay[0].ExchNS
	var t format.Tick
	for i := range s.replay {
		due := time.Duration(float64(s.replay[i].ExchNS-t0) / s.cfg.Speed)
		if !s.waitUntil(timer, start, due) {
			return
		}
		t = s.replay[i]
		for _, st := range bySymbol[t.Symbol].streams {
			st.publish(&t)
		}
	}
	s.log.Info("replay finished", "ticks", len(s.replay), "took", time.Since(start).String())
}

// recorder writes generated ticks as lab-format lines. Generators of all
// symbols share it.
type recorder struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	buf  []byte
	err  error
	path string
}

func newRecorder(path string) (*recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--record: %w", err)
	}
	return &recorder{f: f, w: bufio.NewWriterSize(f, 64<<10), path: path}, nil
}

// write appends one line; the first error is logged and kept for close.
func (r *recorder) write(t *format.Tick, log *slog.Logger) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return
	}
	rt := *t
	rt.Stream = strings.ToLower(t.Symbol) + "@tick"
	rt.Kind = format.KindQuote
	r.buf = format.AppendLab(r.buf[:0], &rt)
	r.buf = append(r.buf, '\n')
	if _, err := r.w.Write(r.buf); err != nil {
		r.err = fmt.Errorf("--record %s: %w", r.path, err)
		log.Error("recording stopped", "err", r.err)
	}
}

func (r *recorder) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil && r.err == nil {
		r.err = fmt.Errorf("--record %s: %w", r.path, err)
	}
	if err := r.f.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("--record %s: %w", r.path, err)
	}
	return r.err
}
