// Package supervisor runs the lab's components (our own binary with a
// subcommand) inside network namespaces: output to a log file in the
// results folder, readiness by dialing the component's port from inside its
// namespace, crash detection with the component's last log lines, and a
// graceful stop (SIGTERM, then SIGKILL).
//
// A child is started from an OS thread locked inside the namespace, so it
// is born there; every child carries CLOUDPCAP_RUN_ID in its environment and
// its namespace carries the run ID in its name, which is how
// `cloudpcap lab clean` finds what a crashed run left.
package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
)

// Spec describes one component.
type Spec struct {
	Name    string   // "feed-near", "trader-t1"
	NS      string   // namespace to run in ("" = the caller's)
	Binary  string   // executable
	Args    []string // arguments after the binary
	Env     []string // extra environment (KEY=VALUE)
	LogPath string   // stdout and stderr go here (created, appended)
	RunID   string
}

// Proc is a running component.
type Proc struct {
	spec   Spec
	cmd    *exec.Cmd
	log    *os.File
	done   chan struct{}
	mu     sync.Mutex
	err    error // exit status
	stopAt time.Time
}

// ExitError says a component ended on its own, with its last log lines.
type ExitError struct {
	Name string
	Err  error
	Tail string
	Log  string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s exited: %v", e.Name, e.Err)
	if e.Tail != "" {
		msg += "\n--- last lines of " + e.Log + " ---\n" + e.Tail
	}
	return msg
}

func (e *ExitError) Unwrap() error { return e.Err }

// Start launches the component.
func Start(spec Spec) (*Proc, error) {
	lf, err := os.OpenFile(spec.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("supervisor: %s: %w", spec.Name, err)
	}
	cmd := exec.Command(spec.Binary, spec.Args...)
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.Env = append(os.Environ(), "CLOUDPCAP_RUN_ID="+spec.RunID)
	cmd.Env = append(cmd.Env, spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := namespace.Run(spec.NS, cmd.Start); err != nil {
		lf.Close()
		return nil, fmt.Errorf("supervisor: starting %s in %s: %w", spec.Name, spec.NS, err)
	}
	p := &Proc{spec: spec, cmd: cmd, log: lf, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

// Name returns the component's name.
func (p *Proc) Name() string { return p.spec.Name }

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err returns the exit error as an *ExitError (nil while running, and nil
// for a clean exit).
func (p *Proc) Err() error {
	select {
	case <-p.done:
	default:
		return nil
	}
	p.mu.Lock()
	err := p.err
	p.mu.Unlock()
	if err == nil {
		return nil
	}
	return &ExitError{Name: p.spec.Name, Err: err, Tail: Tail(p.spec.LogPath, 15), Log: p.spec.LogPath}
}

// WaitReady dials addr from inside the component's namespace until it
// accepts, the process exits (an *ExitError), or timeout passes.
func (p *Proc) WaitReady(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var c net.Conn
		dial := func() error {
			var err error
			c, err = net.DialTimeout("tcp", addr, 200*time.Millisecond)
			return err
		}
		err := namespace.Run(p.spec.NS, dial)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-p.done:
			if e := p.Err(); e != nil {
				return e
			}
			return &ExitError{Name: p.spec.Name, Err: errors.New("exited before it was ready"), Tail: Tail(p.spec.LogPath, 15), Log: p.spec.LogPath}
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond): // polling a port with a deadline
		}
		if time.Now().After(deadline) {
			return &ExitError{Name: p.spec.Name, Err: fmt.Errorf("not listening on %s after %s", addr, timeout), Tail: Tail(p.spec.LogPath, 15), Log: p.spec.LogPath}
		}
	}
}

// Stop sends SIGTERM to the component's process group, waits up to grace,
// then SIGKILLs it. It returns the exit error unless the process ended from
// the signal it was sent or exited cleanly.
func (p *Proc) Stop(grace time.Duration) error {
	select {
	case <-p.done:
		return p.Err()
	default:
	}
	p.mu.Lock()
	p.stopAt = time.Now()
	p.mu.Unlock()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		return &ExitError{Name: p.spec.Name, Err: fmt.Errorf("did not stop within %s of SIGTERM (killed)", grace), Tail: Tail(p.spec.LogPath, 15), Log: p.spec.LogPath}
	}
	err := p.Err()
	var ee *ExitError
	if errors.As(err, &ee) {
		var xe *exec.ExitError
		if errors.As(ee.Err, &xe) {
			if ws, ok := xe.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGTERM {
				return nil
			}
		}
	}
	return err
}

// Wait waits for the process to exit on its own (or ctx), returning its
// exit error.
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.Err()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(sig syscall.Signal) error { return syscall.Kill(p.cmd.Process.Pid, sig) }

// Tail returns the last n lines of a log file (at most 64 KiB read).
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	const max = 64 << 10
	off := st.Size() - max
	if off < 0 {
		off = 0
	}
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, os.ErrClosed) {
		if len(buf) == 0 {
			return ""
		}
	}
	buf = bytes.TrimRight(buf, "\n")
	lines := strings.Split(string(buf), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
