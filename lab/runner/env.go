package runner

import (
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"golang.org/x/sys/unix"
)

// newEnv describes the machine and the run for env.json.
func newEnv(sc *scenario.Scenario, mech mechanism, start time.Time) *results.Env {
	e := &results.Env{Scenario: sc.Name, GoVersion: runtime.Version(), Cores: runtime.NumCPU(), Mechanism: mech.Name(), Modes: sc.Capture.Modes, Start: start}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		e.Kernel = unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				e.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				e.Revision = s.Value
			}
		}
	}
	return e
}
