// Package namespace runs code inside named network namespaces (the ones
// `ip netns` lists under /run/netns) and creates and deletes them. It is
// the only place in the lab that moves a thread between namespaces.
//
// The policy, the same for every caller:
//
//   - Work happens on a goroutine locked to its OS thread for the purpose:
//     remember the thread's namespace, enter the target, run fn, restore.
//   - A thread that was restored is unlocked and goes back to the pool.
//   - A thread that cannot be restored, or that Create unshared into a
//     namespace it could not name, stays locked: its goroutine ends locked,
//     so the runtime discards the thread and it never runs other code.
//
// fn runs on that one locked thread; goroutines it starts run elsewhere,
// in the process's own namespace. A file descriptor opened inside fn (a
// socket, an AF_PACKET capture, a netlink handle) stays bound to the
// namespace after fn returns, so callers open what they need inside fn and
// use it from any goroutine afterwards.
//
// Entering or creating a namespace needs root (CAP_SYS_ADMIN); errors are
// *Error values that name the namespace, the step and that remedy.
package namespace

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Dir holds one bind-mounted file per named namespace (as `ip netns add`
// and vishvananda/netns make them; /var/run/netns is the same folder).
const Dir = "/run/netns"

// Path returns the file of the named namespace.
func Path(name string) string { return filepath.Join(Dir, name) }

// Error says which namespace and which step failed.
type Error struct {
	Name string // the namespace
	Step string // "open", "read the current namespace", "enter", "restore", "create", "delete"
	Err  error
}

func (e *Error) Error() string {
	msg := "namespace " + e.Name + ": " + e.Step + ": " + e.Err.Error()
	switch {
	case errors.Is(e.Err, unix.EPERM), errors.Is(e.Err, unix.EACCES):
		msg += " (needs root or CAP_SYS_ADMIN)"
	case e.Step == "open" && errors.Is(e.Err, unix.ENOENT):
		msg += " (no such namespace in " + Dir + "; `ip netns list` shows those that exist)"
	case e.Step == "create" && errors.Is(e.Err, unix.EEXIST):
		msg += " (a namespace of that name exists; `cloudpcap lab clean` removes what a crashed run left)"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Run calls fn on a locked OS thread inside the named namespace and
// returns that thread to its original namespace (see the package doc for
// the policy). It returns fn's error, joined with an *Error if the thread
// could not be restored. An empty name runs fn on the calling goroutine,
// in whatever namespace its thread is in.
func Run(name string, fn func() error) error {
	if name == "" {
		return fn()
	}
	target, err := netns.GetFromName(name)
	if err != nil {
		return &Error{Name: name, Step: "open", Err: err}
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread() // not moved yet
			errc <- &Error{Name: name, Step: "read the current namespace", Err: err}
			return
		}
		defer orig.Close()
		if err := netns.Set(target); err != nil {
			runtime.UnlockOSThread() // a failed setns leaves the thread where it was
			errc <- &Error{Name: name, Step: "enter", Err: err}
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Still locked: the thread dies with this goroutine.
			errc <- errors.Join(ferr, &Error{Name: name, Step: "restore", Err: err})
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// Create makes a new named namespace without moving the calling thread:
// a locked thread unshares into it, bind-mounts it under Dir and returns.
func Create(name string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- &Error{Name: name, Step: "read the current namespace", Err: err}
			return
		}
		defer orig.Close()
		h, err := netns.NewNamed(name)
		if err != nil {
			// NewNamed may fail after it unshared: the thread may sit in a
			// namespace nobody can name. Still locked: it dies with us.
			errc <- &Error{Name: name, Step: "create", Err: err}
			return
		}
		h.Close()
		if err := netns.Set(orig); err != nil {
			errc <- &Error{Name: name, Step: "restore", Err: err} // still locked: discarded
			return
		}
		runtime.UnlockOSThread()
		errc <- nil
	}()
	return <-errc
}

// Delete unmounts and removes the named namespace. The namespace itself
// goes when its last process and socket leave it. A name that does not
// exist is not an error; a file in Dir that is not mounted (what a Create
// that failed half-way leaves) is removed.
func Delete(name string) error {
	err := netns.DeleteNamed(name)
	if errors.Is(err, unix.EINVAL) {
		err = os.Remove(Path(name))
	}
	if err == nil || errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return &Error{Name: name, Step: "delete", Err: err}
}

// List returns the names in Dir that start with prefix, sorted. A missing
// Dir (no namespace was ever named) is an empty list.
func List(prefix string) ([]string, error) {
	ents, err := os.ReadDir(Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			out = append(out, e.Name())
		}
	}
	slices.Sort(out)
	return out, nil
}
