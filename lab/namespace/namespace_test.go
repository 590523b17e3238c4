package namespace

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestErrorMessage(t *testing.T) {
	for _, c := range []struct {
		err  *Error
		want string
	}{
		{&Error{"cpl-x-net", "enter", unix.EPERM}, "namespace cpl-x-net: enter: operation not permitted (needs root or CAP_SYS_ADMIN)"},
		{&Error{"cpl-x-net", "create", unix.EACCES}, "namespace cpl-x-net: create: permission denied (needs root or CAP_SYS_ADMIN)"},
		{&Error{"cpl-x-net", "open", unix.ENOENT}, "namespace cpl-x-net: open: no such file or directory (no such namespace in /run/netns; `ip netns list` shows those that exist)"},
		{&Error{"cpl-x-net", "create", unix.EEXIST}, "namespace cpl-x-net: create: file exists (a namespace of that name exists; `cloudpcap lab clean` removes what a crashed run left)"},
		{&Error{"cpl-x-net", "restore", unix.EINVAL}, "namespace cpl-x-net: restore: invalid argument"},
	} {
		if got := c.err.Error(); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.err.Step, got, c.want)
		}
		if !errors.Is(c.err, c.err.Err) {
			t.Errorf("%s: does not unwrap to %v", c.err.Step, c.err.Err)
		}
	}
}

// TestRunEmptyName: "" means the caller's own namespace, on its goroutine.
func TestRunEmptyName(t *testing.T) {
	want := errors.New("from fn")
	called := false
	if err := Run("", func() error { called = true; return want }); err != want || !called {
		t.Fatalf("Run(\"\") = %v, called %v; want fn's error and one call", err, called)
	}
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("CI=true: network namespaces need root")
	}
	t.Skip("skipping: network namespaces need root")
}

// testPrefix names this test's namespaces and fails the test if any of
// them is left when it ends.
func testPrefix(t *testing.T) string {
	t.Helper()
	prefix := fmt.Sprintf("cpl-t%d-nsx-", os.Getpid())
	t.Cleanup(func() {
		left, err := List(prefix)
		if err != nil {
			t.Error(err)
		}
		for _, n := range left {
			t.Errorf("namespace %s left behind", n)
			if err := Delete(n); err != nil {
				t.Error(err)
			}
		}
	})
	return prefix
}

func create(t *testing.T, name string) {
	t.Helper()
	if err := Create(name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := Delete(name); err != nil {
			t.Error(err)
		}
	})
}

// threadNS names the network namespace of the calling thread.
func threadNS(t *testing.T) string {
	t.Helper()
	s, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// namedNS names the namespace bind-mounted at Path(name), in threadNS's form.
func namedNS(t *testing.T, name string) string {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(Path(name), &st); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("net:[%d]", st.Ino)
}

// checkPool locks more goroutines at once than the process has threads,
// so every idle thread in the runtime's pool is handed one, and fails if
// any of them is outside namespace want.
func checkPool(t *testing.T, want string) {
	t.Helper()
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	n := len(tasks) + 8
	var read, held sync.WaitGroup
	read.Add(n)
	held.Add(1)
	got := make([]string, n)
	errs := make([]error, n)
	var done sync.WaitGroup
	for i := range n {
		done.Add(1)
		go func() {
			defer done.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			got[i], errs[i] = os.Readlink("/proc/thread-self/ns/net")
			read.Done()
			held.Wait() // keep this thread until every goroutine has its own
		}()
	}
	read.Wait()
	held.Done()
	done.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if got[i] != want {
			t.Errorf("a pool thread is in %s, want %s", got[i], want)
		}
	}
}

func TestIntegrationRun(t *testing.T) {
	requireRoot(t)
	name := testPrefix(t) + "run"
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig := threadNS(t)
	create(t, name)
	if got := threadNS(t); got != orig {
		t.Fatalf("Create moved the caller from %s to %s", orig, got)
	}
	inside := namedNS(t, name)
	if inside == orig {
		t.Fatalf("%s is the caller's own namespace %s", name, orig)
	}
	for i := range 4 * runtime.GOMAXPROCS(0) {
		var got string
		if err := Run(name, func() error { got = threadNS(t); return nil }); err != nil {
			t.Fatal(err)
		}
		if got != inside {
			t.Fatalf("run %d: fn ran in %s, want %s", i, got, inside)
		}
	}
	if got := threadNS(t); got != orig {
		t.Fatalf("after Run the caller is in %s, want %s", got, orig)
	}
	checkPool(t, orig)
}

func TestIntegrationRunReturnsFnError(t *testing.T) {
	requireRoot(t)
	name := testPrefix(t) + "fnerr"
	create(t, name)
	want := errors.New("fn failed")
	if err := Run(name, func() error { return want }); err != want {
		t.Fatalf("Run = %v, want fn's error %v", err, want)
	}
}

func TestIntegrationRunMissing(t *testing.T) {
	requireRoot(t)
	name := testPrefix(t) + "missing"
	called := false
	err := Run(name, func() error { called = true; return nil })
	var ne *Error
	if !errors.As(err, &ne) || ne.Step != "open" || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Run in a missing namespace = %v, want an open error that is os.ErrNotExist", err)
	}
	if called {
		t.Error("fn ran although the namespace is missing")
	}
	if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "no such namespace") {
		t.Errorf("error %q does not name %s and say it is missing", err, name)
	}
}

// TestIntegrationCreateExisting: NewNamed fails after it unshared, so the
// thread it used must not come back to the pool.
func TestIntegrationCreateExisting(t *testing.T) {
	requireRoot(t)
	name := testPrefix(t) + "twice"
	orig := threadNS(t)
	create(t, name)
	err := Create(name)
	var ne *Error
	if !errors.As(err, &ne) || ne.Step != "create" || !errors.Is(err, unix.EEXIST) {
		t.Fatalf("second Create = %v, want a create error that is EEXIST", err)
	}
	checkPool(t, orig)
}

func TestIntegrationDelete(t *testing.T) {
	requireRoot(t)
	prefix := testPrefix(t)
	name := prefix + "del"
	if err := Create(name); err != nil {
		t.Fatal(err)
	}
	for i := range 2 { // the second finds nothing, which is fine
		if err := Delete(name); err != nil {
			t.Fatalf("Delete %d: %v", i, err)
		}
	}
	if left, err := List(prefix); err != nil || len(left) != 0 {
		t.Fatalf("List after Delete = %v, %v; want none", left, err)
	}
	// A file that is not mounted (a Create that failed half-way) goes too.
	if err := os.WriteFile(Path(name), nil, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := Delete(name); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(Path(name)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("unmounted file still there: %v", err)
	}
}
