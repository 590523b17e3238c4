package supervisor

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCrashReportsLastLines(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Name: "crasher", Binary: "/bin/sh", Args: []string{"-c", "for i in 1 2 3; do echo line $i; done; echo 'fatal: boom' >&2; exit 3"}, LogPath: filepath.Join(dir, "c.log"), RunID: "test"})
	if err != nil {
		t.Fatal(err)
	}
	err = p.Wait(context.Background())
	var ee *ExitError
	if !errors.As(err, &ee) || !strings.Contains(ee.Error(), "fatal: boom") || !strings.Contains(ee.Error(), "exit status 3") || !strings.Contains(ee.Error(), "line 3") {
		t.Fatalf("got %v", err)
	}
}

func TestStopGracefulAndEnv(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "s.log")
	p, err := Start(Spec{Name: "sleeper", Binary: "/bin/sh", Args: []string{"-c", "echo run=$CLOUDPCAP_RUN_ID; exec sleep 30"}, LogPath: log, RunID: "abc123"})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for Tail(log, 1) == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond) // polling the log with a deadline
	}
	if err := p.Stop(2 * time.Second); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := Tail(log, 1); got != "run=abc123" {
		t.Fatalf("log %q", got)
	}
}

func TestWaitReadyFailsWhenProcessExits(t *testing.T) {
	dir := t.TempDir()
	p, err := Start(Spec{Name: "quitter", Binary: "/bin/sh", Args: []string{"-c", "echo cannot bind >&2; exit 1"}, LogPath: filepath.Join(dir, "q.log")})
	if err != nil {
		t.Fatal(err)
	}
	err = p.WaitReady(context.Background(), "127.0.0.1:1", 5*time.Second)
	if err == nil || !strings.Contains(err.Error(), "cannot bind") {
		t.Fatalf("got %v", err)
	}
}

func TestTail(t *testing.T) {
	f := filepath.Join(t.TempDir(), "x.log")
	os.WriteFile(f, []byte("a\nb\nc\nd\n"), 0o644)
	if got := Tail(f, 2); got != "c\nd" {
		t.Fatalf("%q", got)
	}
	if Tail(filepath.Join(t.TempDir(), "missing"), 2) != "" {
		t.Fatal("missing file")
	}
}
