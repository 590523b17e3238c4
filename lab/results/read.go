package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Run is a results folder as read back.
type Run struct {
	Dir          string
	ScenarioYAML []byte            // scenario.yaml verbatim; nil when missing
	Summary      *pipeline.Summary // summary.json (merged over repetitions)
	Mirror       *pipeline.Summary // summary-mirror.json; nil without mirroring
	Env          *Env              // env.json; nil when missing
	// Repetitions are the folders holding each repetition's events,
	// timestamps and logs: the rep-N folders in order, or the run folder
	// itself.
	Repetitions []Repetition
}

// Repetition is the folder of one repetition.
type Repetition struct {
	N       int               // 1-based
	Dir     string            // the folder
	Summary *pipeline.Summary // rep-N/summary.json; the run's when it does not repeat or that file is missing
}

// FileError is a problem with one file of a run folder. Path carries
// ":line:column" when the problem has a position.
type FileError struct {
	Path string
	Err  error
}

func (e *FileError) Error() string { return e.Path + ": " + e.Err.Error() }
func (e *FileError) Unwrap() error { return e.Err }

// ErrNotRun marks a folder that lacks a run folder's files.
var ErrNotRun = errors.New("not a cloudpcap run folder")

// ErrNewerFormat marks a file written by a newer cloudpcap than this one.
var ErrNewerFormat = errors.New("written by a newer cloudpcap")

// Read reads the run folder dir. summary.json is required; scenario.yaml,
// env.json and summary-mirror.json may be missing (nil). A corrupt file
// names the file and where it is broken.
func Read(dir string) (*Run, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, err
	}
	if !st.IsDir() {
		return nil, &FileError{Path: dir, Err: fmt.Errorf("%w (not a directory)", ErrNotRun)}
	}
	r := &Run{Dir: dir}
	if r.Summary, err = readSummary(filepath.Join(dir, SummaryFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, Missing(dir, SummaryFile)
		}
		return nil, err
	}
	if r.Mirror, err = readSummary(filepath.Join(dir, MirrorSummaryFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if r.ScenarioYAML, err = os.ReadFile(filepath.Join(dir, ScenarioFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	env := new(Env)
	if err := readJSON(filepath.Join(dir, EnvFile), env, &env.Format); err == nil {
		r.Env = env
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if r.Repetitions, err = repetitions(dir, r.Summary); err != nil {
		return nil, err
	}
	return r, nil
}

// Missing is the error for the file name of the run folder dir that is not
// there.
func Missing(dir, name string) error {
	return &FileError{Path: filepath.Join(dir, name), Err: fmt.Errorf("%w: the file is missing (a run folder has %s, %s and %s)", ErrNotRun, ScenarioFile, SummaryFile, EnvFile)}
}

// Partial reports whether the run could not finish: a partial summary or a
// recorded status other than StatusOK.
func (r *Run) Partial() bool {
	return r.Summary.Partial || r.Env != nil && r.Env.Status != StatusOK
}

// RepSummaries returns one summary per repetition as summary.json holds
// them: its repetitions for a run that repeated (without their
// connections), else the run's own summary.
func (r *Run) RepSummaries() []pipeline.Summary {
	if len(r.Summary.Repetitions) > 0 {
		return r.Summary.Repetitions
	}
	return []pipeline.Summary{*r.Summary}
}

func readSummary(path string) (*pipeline.Summary, error) {
	f := summaryFile{Summary: new(pipeline.Summary)}
	if err := readJSON(path, &f, &f.Format); err != nil {
		return nil, err
	}
	return f.Summary, nil
}

// repetitions lists the rep-N folders of dir in order, or dir itself when
// there are none.
func repetitions(dir string, sum *pipeline.Summary) ([]Repetition, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &FileError{Path: dir, Err: err}
	}
	var reps []Repetition
	for _, e := range ents {
		if n, ok := RepNumber(e.Name()); ok && e.IsDir() {
			reps = append(reps, Repetition{N: n, Dir: filepath.Join(dir, e.Name()), Summary: sum})
		}
	}
	if len(reps) == 0 {
		return []Repetition{{N: 1, Dir: dir, Summary: sum}}, nil
	}
	sort.Slice(reps, func(i, j int) bool { return reps[i].N < reps[j].N })
	for i := range reps {
		s, err := readSummary(filepath.Join(reps[i].Dir, SummaryFile))
		if err == nil {
			reps[i].Summary = s
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return reps, nil
}

// readJSON decodes path into v, positioning syntax errors by line and
// column, and checks the file's format (*format, filled by the decoding).
func readJSON(path string, v any, format *int) error {
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
	if *format < 0 || *format > FormatVersion {
		return &FileError{Path: path, Err: fmt.Errorf("%w: format %d, this one reads formats up to %d: use a newer cloudpcap", ErrNewerFormat, *format, FormatVersion)}
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
