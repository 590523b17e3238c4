package history

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
)

// Run is a results folder as history and the gate read it: the folder as
// results.Read returns it, with its scenario parsed and validated.
type Run struct {
	*results.Run
	Scenario *scenario.Scenario
}

// ReadRun reads the run folder dir, which must hold scenario.yaml,
// summary.json and env.json. A missing file names the file and says that
// dir is not a run folder (results.ErrNotRun); a corrupt one names the
// file and where it is broken.
func ReadRun(dir string) (*Run, error) {
	for _, name := range []string{results.ScenarioFile, results.SummaryFile, results.EnvFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			return nil, results.Missing(dir, name)
		}
	}
	rr, err := results.Read(dir)
	if err != nil {
		return nil, err
	}
	if rr.ScenarioYAML == nil { // removed since the check above
		return nil, results.Missing(dir, results.ScenarioFile)
	}
	if rr.Env == nil {
		return nil, results.Missing(dir, results.EnvFile)
	}
	f, err := scenario.Parse(filepath.Join(dir, results.ScenarioFile), rr.ScenarioYAML)
	if err != nil {
		return nil, err // scenario errors carry the file and position
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if rr.Summary.Metrics == nil {
		return nil, &results.FileError{Path: filepath.Join(dir, results.SummaryFile), Err: errors.New(`no "metrics" object: not a cloudpcap summary`)}
	}
	if rr.Env.Start.IsZero() {
		return nil, &results.FileError{Path: filepath.Join(dir, results.EnvFile), Err: errors.New(`no "start" time: not a cloudpcap run record`)}
	}
	return &Run{Run: rr, Scenario: &f.Scenario}, nil
}
