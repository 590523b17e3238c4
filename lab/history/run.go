package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Files of a run folder (lab/runner writes them).
const (
	ScenarioFile = "scenario.yaml"
	SummaryFile  = "summary.json"
	EnvFile      = "env.json"
)

// Env is the part of a run's env.json (lab/runner.Env) that history and the
// gate read. It is declared here because lab/runner indexes its runs through
// this package and so cannot be imported by it.
type Env struct {
	Scenario    string    `json:"scenario"`
	Revision    string    `json:"cloudpcap_revision"`
	Mechanism   string    `json:"link_mechanism"`
	Start       time.Time `json:"start"`
	End         time.Time `json:"end"`
	Status      string    `json:"status"`
	Repetitions []struct {
		Repetition int    `json:"repetition"`
		RunID      string `json:"run_id"`
	} `json:"repetitions"`
}

// Run is a results folder as read back: the resolved and validated
// scenario, the summary and the environment record.
type Run struct {
	Dir      string
	Scenario *scenario.Scenario
	Summary  *pipeline.Summary
	Env      Env
}

// FileError is a problem with one file of a run folder.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ErrNotRun marks a folder that lacks a run folder's files.
var ErrNotRun = errors.New("not a cloudpcap run folder")

// ReadRun reads the run folder dir. A missing file names the file and says
// that dir is not a run folder; a corrupt one names the file and where it
// is broken.
func ReadRun(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &FileError{Path: dir, Err: fmt.Errorf("%w (not a directory)", ErrNotRun)}
	}
	r := &Run{Dir: dir}
	for _, name := range []string{ScenarioFile, SummaryFile, EnvFile} {
		if _, err := os.Stat(filepath.Join(dir, name)); errors.Is(err, fs.ErrNotExist) {
			return nil, &FileError{Path: filepath.Join(dir, name), Err: fmt.Errorf("%w: the file is missing (a run folder has %s, %s and %s)", ErrNotRun, ScenarioFile, SummaryFile, EnvFile)}
		}
	}
	f, err := scenario.Load(filepath.Join(dir, ScenarioFile))
	if err != nil {
		return nil, err // scenario errors carry the file and position
	}
	if err := f.Validate(); err != nil {
		return nil, err
	}
	r.Scenario = &f.Scenario
	r.Summary = new(pipeline.Summary)
	if err := readJSON(filepath.Join(dir, SummaryFile), r.Summary); err != nil {
		return nil, err
	}
	if r.Summary.Metrics == nil {
		return nil, &FileError{Path: filepath.Join(dir, SummaryFile), Err: errors.New(`no "metrics" object: not a cloudpcap summary`)}
	}
	if err := readJSON(filepath.Join(dir, EnvFile), &r.Env); err != nil {
		return nil, err
	}
	if r.Env.Start.IsZero() {
		return nil, &FileError{Path: filepath.Join(dir, EnvFile), Err: errors.New(`no "start" time: not a cloudpcap run record`)}
	}
	return r, nil
}

// Partial reports whether the run could not finish: a partial summary or a
// status other than "ok".
func (r *Run) Partial() bool {
	return r.Summary.Partial || r.Env.Status != "ok"
}

// Reps returns one summary per repetition: the repetitions of a run that
// repeated, else the run's own summary.
func (r *Run) Reps() []pipeline.Summary {
	if len(r.Summary.Repetitions) > 0 {
		return r.Summary.Repetitions
	}
	return []pipeline.Summary{*r.Summary}
}

// readJSON decodes path into v, positioning syntax errors by line and
// column.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			line, col := lineCol(data, se.Offset)
			return &FileError{Path: fmt.Sprintf("%s:%d:%d", path, line, col), Err: fmt.Errorf("corrupt JSON: %v", se)}
		case errors.As(err, &te):
			line, col := lineCol(data, te.Offset)
			return &FileError{Path: fmt.Sprintf("%s:%d:%d", path, line, col), Err: fmt.Errorf("corrupt JSON: %v", te)}
		}
		return &FileError{Path: path, Err: fmt.Errorf("corrupt JSON: %w", err)}
	}
	return nil
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
