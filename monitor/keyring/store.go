package keyring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// MaxWarnings bounds the warnings a Store keeps; later ones are only counted.
const MaxWarnings = 100

// Stats counts what a Store has taken in.
type Stats struct {
	Randoms    int // distinct client randoms
	Entries    int // distinct (client random, label) secrets
	Duplicates int // lines repeating a known secret with the same value
	Conflicts  int // lines giving a different value for a known secret (first kept)
	Warnings   int // bad lines
}

// Store is a concurrency-safe map from client random to Secrets.
// The zero value is not usable; call NewStore.
type Store struct {
	mu       sync.RWMutex
	m        map[[32]byte]*Secrets
	stats    Stats
	warnings []error
	gen      uint64
	changed  chan struct{}
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{m: make(map[[32]byte]*Secrets), changed: make(chan struct{})}
}

// Load parses a whole key log text (a file, or a pcapng Decryption Secrets
// Block) and adds its entries. name is used in warnings. It returns how many
// new secrets were added and the bad lines of this text.
func (s *Store) Load(name string, data []byte) (added int, warnings []error) {
	var p parser
	p.name, p.line = name, 1
	return s.loadWith(&p, data, true)
}

// LoadFile reads and loads a key log file.
func (s *Store) LoadFile(path string) (added int, warnings []error, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, nil, fmt.Errorf("keyring: %w", err)
	}
	added, warnings = s.Load(path, data)
	return added, warnings, nil
}

func (s *Store) loadWith(p *parser, data []byte, final bool) (int, []error) {
	var batch []Entry
	_, errs := p.feed(data, final, func(e Entry) { batch = append(batch, e) }, nil)
	return s.add(batch, errs), errs
}

// add inserts entries and records warnings; it returns how many secrets were new.
func (s *Store) add(batch []Entry, errs []error) int {
	if len(batch) == 0 && len(errs) == 0 {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	added := 0
	for _, e := range batch {
		sec := s.m[e.ClientRandom]
		if sec == nil {
			sec = new(Secrets)
			s.m[e.ClientRandom] = sec
			s.stats.Randoms++
		}
		old := sec.v[e.Label]
		switch {
		case old == nil:
			// Copy-on-write so that Secrets values handed out by Lookup never change.
			ns := *sec
			ns.v[e.Label] = e.Secret
			s.m[e.ClientRandom] = &ns
			s.stats.Entries++
			added++
		case bytes.Equal(old, e.Secret):
			s.stats.Duplicates++
		default:
			s.stats.Conflicts++
		}
	}
	for _, err := range errs {
		s.stats.Warnings++
		if len(s.warnings) < MaxWarnings {
			s.warnings = append(s.warnings, err)
		}
	}
	if added > 0 {
		s.gen++
		close(s.changed)
		s.changed = make(chan struct{})
	}
	return added
}

// Lookup returns the secrets known for a client random.
func (s *Store) Lookup(clientRandom [32]byte) (Secrets, bool) {
	s.mu.RLock()
	sec := s.m[clientRandom]
	s.mu.RUnlock()
	if sec == nil {
		return Secrets{}, false
	}
	return *sec, true
}

// Generation increases each time secrets are added. A decoder that found no
// key can compare generations to decide whether retrying is worthwhile.
func (s *Store) Generation() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.gen
}

// Changed returns a channel that is closed the next time secrets are added.
func (s *Store) Changed() <-chan struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.changed
}

// Stats returns the store's counters.
func (s *Store) Stats() Stats {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.stats
}

// Warnings returns up to MaxWarnings bad lines seen so far (Stats.Warnings
// counts all of them).
func (s *Store) Warnings() []error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return append([]error(nil), s.warnings...)
}

// Tail loads a key log file that another process is still writing. Each Poll
// reads what was appended since the last one; a last line without its
// newline waits for the next Poll. A file that shrinks (truncated or
// replaced) is read again from the start. Tail is not safe for concurrent
// use; the Store it fills is.
type Tail struct {
	path    string
	store   *Store
	off     int64
	partial []byte
	p       parser
	buf     []byte
}

// NewTail returns a Tail that loads path into store.
func NewTail(path string, store *Store) *Tail {
	t := &Tail{path: path, store: store}
	t.p.name, t.p.line = path, 1
	return t
}

// Offset returns how many bytes of the file have been consumed, including
// a held-back partial line.
func (t *Tail) Offset() int64 { return t.off }

// Poll reads newly appended bytes and loads the complete lines among them.
// A file that does not exist yet is not an error (added is 0).
func (t *Tail) Poll() (added int, warnings []error, err error) {
	f, err := os.Open(t.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil, nil
		}
		return 0, nil, fmt.Errorf("keyring: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, nil, fmt.Errorf("keyring: %w", err)
	}
	if fi.Size() < t.off { // truncated or replaced: start over
		t.off, t.partial = 0, t.partial[:0]
		t.p.line = 1
	}
	if fi.Size() == t.off {
		return 0, nil, nil
	}
	if _, err := f.Seek(t.off, io.SeekStart); err != nil {
		return 0, nil, fmt.Errorf("keyring: %w", err)
	}
	t.buf = append(t.buf[:0], t.partial...)
	n0 := len(t.buf)
	want := fi.Size() - t.off
	t.buf = append(t.buf, make([]byte, want)...)
	n, err := io.ReadFull(f, t.buf[n0:])
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return 0, nil, fmt.Errorf("keyring: %w", err)
	}
	t.buf = t.buf[:n0+n]
	t.off += int64(n)
	var batch []Entry
	used, errs := t.p.feed(t.buf, false, func(e Entry) { batch = append(batch, e) }, nil)
	t.partial = append(t.partial[:0], t.buf[used:]...)
	return t.store.add(batch, errs), errs, nil
}

// Follow polls every interval until ctx is done, returning ctx's error.
// Poll errors other than a missing file are returned at once.
func (t *Tail) Follow(ctx context.Context, interval time.Duration) error {
	tk := time.NewTicker(interval)
	defer tk.Stop()
	for {
		if _, _, err := t.Poll(); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tk.C:
		}
	}
}
