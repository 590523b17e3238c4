package topology

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/namespace"
)

// ListNamespaces returns the lab's namespaces, all runs ("" runID) or one.
func ListNamespaces(runID string) ([]string, error) {
	if runID == "" {
		return namespace.List(Prefix)
	}
	return namespace.List(Prefix + runID + "-")
}

// PIDsIn returns the processes whose network namespace is ns.
func PIDsIn(ns string) ([]int, error) {
	var target syscall.Stat_t
	if err := syscall.Stat(namespace.Path(ns), &target); err != nil {
		return nil, err
	}
	procs, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	self := os.Getpid()
	var pids []int
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == self {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat("/proc/"+p.Name()+"/ns/net", &st); err != nil {
			continue
		}
		if st.Ino == target.Ino && st.Dev == target.Dev {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// killAll sends SIGTERM to pids, waits up to grace for them to exit, then
// SIGKILLs the rest.
func killAll(pids []int, grace time.Duration) {
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(grace)
	for time.Now().Before(deadline) {
		alive := 0
		for _, pid := range pids {
			if syscall.Kill(pid, 0) == nil && !isZombie(pid) {
				alive++
			}
		}
		if alive == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond) // polling a process table, not synchronising with it
	}
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] == 'Z'
	}
	return false
}

// removeNS kills the processes inside ns and deletes it.
func removeNS(ns string) error {
	if pids, err := PIDsIn(ns); err == nil && len(pids) > 0 {
		killAll(pids, 2*time.Second)
	}
	return namespace.Delete(ns)
}

// CleanReport says what Clean removed.
type CleanReport struct {
	Namespaces []string
	Processes  int
	TempFiles  []string
}

// Clean removes everything a run (runID) or every run ("") left behind:
// processes inside lab namespaces, the namespaces (and with them every veth,
// vxlan and qdisc), and temporary files named /tmp/cpl-<runid>*.
func Clean(runID string) (CleanReport, error) {
	var rep CleanReport
	nss, err := ListNamespaces(runID)
	if err != nil {
		return rep, err
	}
	var errs []error
	for _, ns := range nss {
		pids, _ := PIDsIn(ns)
		rep.Processes += len(pids)
		if err := removeNS(ns); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.Namespaces = append(rep.Namespaces, ns)
	}
	pattern := filepath.Join(os.TempDir(), Prefix+runID+"*")
	if runID == "" {
		pattern = filepath.Join(os.TempDir(), Prefix+"*")
	}
	files, _ := filepath.Glob(pattern)
	for _, f := range files {
		if err := os.RemoveAll(f); err != nil {
			errs = append(errs, err)
			continue
		}
		rep.TempFiles = append(rep.TempFiles, f)
	}
	return rep, errors.Join(errs...)
}
