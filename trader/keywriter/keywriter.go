// Package keywriter writes the trader's TLS secrets to an NSS key log file
// (the SSLKEYLOGFILE format read by Wireshark and by the monitor), so the
// passive monitor can decrypt the trader's feed and order connections.
//
// A Writer is a tls.Config.KeyLogWriter shared by every connection of every
// client in the process. crypto/tls calls Write with one whole line per
// secret during the handshake, before the handshake completes; Write passes
// the line straight to the file (no buffering) under a mutex, so lines of
// concurrent handshakes never interleave and a reader tailing the file sees
// each secret before the first application record it protects. The file is
// opened O_APPEND (other processes may append too: each line is one write),
// created with mode 0600, and narrowed to 0600 when it already exists with a
// wider mode: it holds secrets.
//
// Buffers: Write keeps no reference to its argument. Nothing here ever
// prints a secret; errors name the file only.
package keywriter

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
)

// Mode is the permission of the key log file.
const Mode os.FileMode = 0o600

// Writer appends key log lines to a file. Safe for concurrent use.
type Writer struct {
	mu    sync.Mutex
	f     *os.File
	path  string
	lines atomic.Uint64
	err   error // first write error
}

// Open opens (creating or appending) the key log at path.
func Open(path string) (*Writer, error) {
	if path == "" {
		return nil, errors.New("keywriter: empty path")
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, Mode)
	if err != nil {
		return nil, fmt.Errorf("keywriter: opening %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("keywriter: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		// A FIFO or device is the user's choice (e.g. a pipe to a tailer);
		// its mode is not ours to change.
		return &Writer{f: f, path: path}, nil
	}
	if st.Mode().Perm()&^Mode != 0 {
		if err := f.Chmod(Mode); err != nil {
			f.Close()
			return nil, fmt.Errorf("keywriter: %s has mode %v and cannot be narrowed to %v: %w", path, st.Mode().Perm(), Mode, err)
		}
	}
	return &Writer{f: f, path: path}, nil
}

// Write appends p (one or more whole lines, as crypto/tls writes them).
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return 0, os.ErrClosed
	}
	n, err := w.f.Write(p)
	if err != nil {
		if w.err == nil {
			w.err = fmt.Errorf("keywriter: writing %s: %w", w.path, err)
		}
		return n, w.err
	}
	for _, c := range p {
		if c == '\n' {
			w.lines.Add(1)
		}
	}
	return n, nil
}

// Lines is how many lines were written.
func (w *Writer) Lines() uint64 { return w.lines.Load() }

// Path is the file's path.
func (w *Writer) Path() string { return w.path }

// Err is the first write error, if any.
func (w *Writer) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Close closes the file; later writes fail with os.ErrClosed.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	if err != nil {
		return fmt.Errorf("keywriter: closing %s: %w", w.path, err)
	}
	return nil
}
