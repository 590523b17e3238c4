package results

import (
	"encoding/json"
	"os"
	"path/filepath"
	"time"
)

// Env describes the machine and the run (env.json).
type Env struct {
	Format      int       `json:"format"` // FormatVersion; 0 in files from before the field
	Scenario    string    `json:"scenario"`
	Revision    string    `json:"cloudpcap_revision"` // VCS revision (or version) of the binary
	GoVersion   string    `json:"go_version"`
	Kernel      string    `json:"kernel"` // sysname, release and machine
	CPU         string    `json:"cpu"`    // model name
	Cores       int       `json:"cores"`
	Mechanism   string    `json:"link_mechanism"` // how links were impaired
	Modes       []string  `json:"capture_modes"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      string    `json:"status"` // StatusOK, StatusInterrupted or StatusFailed's
	Repetitions []RepEnv  `json:"repetitions"`
}

// RepEnv is one repetition's record.
type RepEnv struct {
	Repetition int           `json:"repetition"` // 1-based
	RunID      string        `json:"run_id"`     // names the repetition's namespaces
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Emulators  []EmulatorRef `json:"emulators,omitempty"`
	Points     []PointEnv    `json:"capture_points"`
}

// EmulatorRef points to a link emulator's statistics (release error against
// due time).
type EmulatorRef struct {
	Host  string          `json:"host"`       // the impaired host's namespace
	Stats string          `json:"stats_file"` // LinkemuStatsFile, relative to the repetition's folder
	Data  json.RawMessage `json:"stats,omitempty"`
}

// PointEnv is a capture point's packet and kernel-drop counts.
type PointEnv struct {
	Name    string `json:"name"`
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"kernel_drops"`
}

// ReadEmulatorStats copies the emulators' statistics files of the
// repetition folder dir into env (a missing or malformed file is left out).
func ReadEmulatorStats(dir string, env *RepEnv) {
	for i := range env.Emulators {
		b, err := os.ReadFile(filepath.Join(dir, env.Emulators[i].Stats))
		if err == nil && json.Valid(b) {
			env.Emulators[i].Data = b
		}
	}
}
