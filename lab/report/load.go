package report

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// Run is one results folder as read from disk.
type Run struct {
	Dir   string
	Label string // how the page names the run (default: scenario and start time)

	ScenarioYAML string // the resolved scenario, verbatim
	Scenario     ScenarioInfo
	Summary      *pipeline.Summary // summary.json (merged over repetitions)
	Mirror       *pipeline.Summary // summary-mirror.json, nil without mirroring
	Env          *results.Env      // env.json, nil when missing
	Reps         []Rep             // one per repetition (the run folder itself when it does not repeat)

	// Problems are input defects that did not stop the report (a torn
	// events line, a missing env.json); the page lists them as warnings.
	Problems []string
}

// ScenarioInfo is the part of scenario.yaml the page shows.
type ScenarioInfo struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	Duration    string `yaml:"duration"`
	Warmup      string `yaml:"warmup"`
	Repeat      int    `yaml:"repeat"`
}

// Rep is one repetition's per-message data.
type Rep struct {
	N       int               // 1-based
	Dir     string            // folder holding its events and app timestamps
	Summary *pipeline.Summary // rep-N/summary.json when repeating, else the run's
	Events  []event.Event
	App     []stamp.Stamp // every trader's lines, traders in name order, lines in file order
}

// maxProblems bounds the torn-line messages kept per file.
const maxProblems = 3

// Load reads the results folder dir (results.Read). A missing or malformed
// summary.json is an error (it is not a run folder); torn lines in the
// JSONL files and a missing scenario.yaml or env.json are recorded in
// Problems.
func Load(dir string) (*Run, error) {
	rr, err := results.Read(dir)
	if err != nil {
		return nil, err
	}
	r := &Run{Dir: dir, ScenarioYAML: string(rr.ScenarioYAML), Summary: rr.Summary, Mirror: rr.Mirror, Env: rr.Env}
	if rr.ScenarioYAML != nil {
		if err := yaml.Unmarshal(rr.ScenarioYAML, &r.Scenario); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("%s: %v", results.ScenarioFile, firstLine(err.Error())))
		}
	} else {
		r.Problems = append(r.Problems, results.ScenarioFile+" is missing")
	}
	if r.Env == nil {
		r.Problems = append(r.Problems, results.EnvFile+" is missing: no machine or link details")
	}
	if r.Scenario.Name == "" && r.Env != nil {
		r.Scenario.Name = r.Env.Scenario
	}
	for _, rd := range rr.Repetitions {
		rep := Rep{N: rd.N, Dir: rd.Dir, Summary: rd.Summary}
		if err := r.readEvents(&rep); err != nil {
			return nil, err
		}
		if err := r.readApp(&rep); err != nil {
			return nil, err
		}
		r.Reps = append(r.Reps, rep)
	}
	r.Label = defaultLabel(r)
	return r, nil
}

// readEvents reads the events file of one repetition; a missing file
// leaves the repetition without events (capture.events: false).
func (r *Run) readEvents(rep *Rep) error {
	path := filepath.Join(rep.Dir, results.EventsFile)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.Problems = append(r.Problems, rel(r.Dir, path)+" is missing: no timeline, split or slowest samples")
			return nil
		}
		return &results.FileError{Path: path, Err: err}
	}
	defer f.Close()
	return r.parseEvents(rep, f, path)
}

// parseEvents appends the events read from rd to rep.
func (r *Run) parseEvents(rep *Rep, rd io.Reader, path string) error {
	return results.ReadEvents(rd, path, func(e *event.Event) { rep.Events = append(rep.Events, *e) },
		func(line int, err error) { r.problem(rel(r.Dir, path), line, err) })
}

// readApp reads every trader's application timestamps of one repetition.
func (r *Run) readApp(rep *Rep) error {
	for _, trader := range results.StampTraders(rep.Dir) {
		path := filepath.Join(rep.Dir, results.StampsFile(trader))
		f, err := os.Open(path)
		if err != nil {
			return &results.FileError{Path: path, Err: err}
		}
		err = r.parseApp(rep, f, path)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// parseApp appends one trader's timestamp lines read from rd to rep.
func (r *Run) parseApp(rep *Rep, rd io.Reader, path string) error {
	return results.ReadStamps(rd, path, func(s *stamp.Stamp) { rep.App = append(rep.App, *s) },
		func(line int, err error) { r.problem(rel(r.Dir, path), line, err) })
}

func (r *Run) problem(path string, line int, err error) {
	n := 0
	for _, p := range r.Problems {
		if strings.HasPrefix(p, path+":") {
			n++
		}
	}
	switch {
	case n < maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf("%s:%d: skipped a malformed line: %v", path, line, err))
	case n == maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: more malformed lines skipped", path))
	}
}

func rel(base, path string) string {
	if r, err := filepath.Rel(base, path); err == nil {
		return r
	}
	return path
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func defaultLabel(r *Run) string {
	name := r.Scenario.Name
	if name == "" {
		name = filepath.Base(filepath.Dir(filepath.Clean(r.Dir)))
	}
	if r.Env != nil && !r.Env.Start.IsZero() {
		return name + " " + r.Env.Start.UTC().Format("2006-01-02 15:04:05Z")
	}
	return name + " " + filepath.Base(filepath.Clean(r.Dir))
}
