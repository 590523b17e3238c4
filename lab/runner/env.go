package runner

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"golang.org/x/sys/unix"
)

// Env describes the machine and the run (env.json).
type Env struct {
	Scenario    string    `json:"scenario"`
	Version     string    `json:"cloudpcap_revision"`
	GoVersion   string    `json:"go_version"`
	Kernel      string    `json:"kernel"`
	CPU         string    `json:"cpu"`
	Cores       int       `json:"cores"`
	Mechanism   string    `json:"link_mechanism"`
	Modes       []string  `json:"capture_modes"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      string    `json:"status"`
	Repetitions []RepEnv  `json:"repetitions"`
}

// RepEnv is one repetition's record.
type RepEnv struct {
	Repetition int           `json:"repetition"`
	RunID      string        `json:"run_id"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Emulators  []EmulatorRef `json:"emulators,omitempty"`
	Points     []PointEnv    `json:"capture_points"`
}

// EmulatorRef points to a link emulator's stats (release error vs due time).
type EmulatorRef struct {
	Host  string          `json:"host"`
	Stats string          `json:"stats_file"`
	Data  json.RawMessage `json:"stats,omitempty"`
}

// PointEnv is a capture point's packet and kernel-drop counts.
type PointEnv struct {
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"kernel_drops"`
}

func newEnv(sc *scenario.Scenario, mech mechanism, start time.Time) *Env {
	e := &Env{Scenario: sc.Name, GoVersion: runtime.Version(), Cores: runtime.NumCPU(), Mechanism: mech.Name(), Modes: sc.Capture.Modes, Start: start}
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
				e.Version = s.Value
			}
		}
	}
	return e
}

// WriteJSON writes v as indented JSON to path through a temporary file,
// so a reader never sees half a file.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readStats loads the emulators' stats files into the record.
func readStats(dir string, env *RepEnv) {
	for i := range env.Emulators {
		b, err := os.ReadFile(filepath.Join(dir, env.Emulators[i].Stats))
		if err == nil && json.Valid(b) {
			env.Emulators[i].Data = b
		}
	}
}
