// Package runner runs a scenario end to end: it builds the lab network,
// starts the exchanges (feed and order API), the monitor and the traders in
// their namespaces, measures for the scenario's duration (warmup excluded),
// stops everything in order, and writes the results folder (package
// lab/results names its files and owns their formats).
//
// Everything it creates carries the run ID and is removed on success,
// failure and Ctrl-C (ctx); a failed run keeps what it measured, marked
// partial.
package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/cloudpcap/cloudpcap/lab/liveview"
	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/lab/scenario"
	"github.com/cloudpcap/cloudpcap/lab/topology"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Ports the exchanges listen on inside their namespaces.
const (
	FeedPort  = 8443
	OrderPort = 9443
)

// Options control a run.
type Options struct {
	Binary   string   // the cloudpcap binary components run as (default: this executable)
	Results  string   // results root (default results.DefaultRoot)
	Sets     []string // --set overrides
	Out      io.Writer
	Progress bool             // redraw a progress line (a terminal); else plain log lines
	Checks   []scenario.Check // extra scenario validation (strategies, patterns)
	Version  string           // cloudpcap's version, recorded in env.json
	// OnSnapshot, when set, receives live monitor snapshots once a second.
	OnSnapshot func(liveview.Snapshot)
}

// Result is what a run produced.
type Result struct {
	Dir     string
	Summary *pipeline.Summary // local capture (or mirror when only mirroring)
	Mirror  *pipeline.Summary
	Env     *results.Env
}

// Run runs the scenario file at path.
func Run(ctx context.Context, path string, o Options) (*Result, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	f, err := load(path, o)
	if err != nil {
		return nil, err
	}
	sc := &f.Scenario
	if err := topology.CheckPrivileges(); err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	mech, err := chooseMechanism(sc)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", path, err)
	}
	start := time.Now().UTC()
	dir, err := newRunDir(f, o, start)
	if err != nil {
		return nil, err
	}
	env := newEnv(sc, mech, start)
	if o.Version != "" && env.Revision == "" {
		env.Revision = o.Version
	}
	res := &Result{Dir: dir, Env: env}
	fmt.Fprintf(o.Out, "run %s: %d repetition(s) of %s, link mechanism %s, results in %s\n", sc.Name, sc.Repeat, sc.Duration.D, mech.Name(), dir)
	locals, mirrors, runErr := repeat(ctx, sc, o, mech, dir, env)
	env.End = time.Now().UTC()
	env.Status = status(runErr)
	if err := res.write(locals, mirrors, runErr); err != nil {
		return res, err
	}
	return res, runErr
}

func (o Options) withDefaults() (Options, error) {
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.Results == "" {
		o.Results = results.DefaultRoot
	}
	if o.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return o, err
		}
		o.Binary = exe
	}
	return o, nil
}

// load reads the scenario, applies the --set overrides and validates it.
func load(path string, o Options) (*scenario.File, error) {
	f, err := scenario.Load(path)
	if err != nil {
		return nil, err
	}
	for _, s := range o.Sets {
		if err := f.Set(s); err != nil {
			return nil, err
		}
	}
	if err := f.Validate(o.Checks...); err != nil {
		return nil, err
	}
	return f, nil
}

// newRunDir makes the run's results folder and writes the resolved
// scenario into it.
func newRunDir(f *scenario.File, o Options, start time.Time) (string, error) {
	dir := results.RunDir(o.Results, f.Scenario.Name, start)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	resolved, err := f.Resolved()
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, results.ScenarioFile), resolved, 0o644)
}

// repeat runs the repetitions, each in its own rep-N folder when there are
// several, until one fails; it returns every repetition's summaries.
func repeat(ctx context.Context, sc *scenario.Scenario, o Options, mech mechanism, dir string, env *results.Env) (locals, mirrors []*pipeline.Summary, err error) {
	for n := 1; n <= sc.Repeat; n++ {
		repDir := dir
		if sc.Repeat > 1 {
			repDir = filepath.Join(dir, results.RepDir(n))
		}
		rep, err := runRepetition(ctx, sc, o, mech, repDir, n)
		if sc.Repeat > 1 {
			if rep.local != nil {
				_ = results.WriteSummary(filepath.Join(repDir, results.SummaryFile), rep.local)
			}
			if rep.mirror != nil {
				_ = results.WriteSummary(filepath.Join(repDir, results.MirrorSummaryFile), rep.mirror)
			}
		}
		env.Repetitions = append(env.Repetitions, rep.env)
		if rep.local != nil {
			locals = append(locals, rep.local)
		}
		if rep.mirror != nil {
			mirrors = append(mirrors, rep.mirror)
		}
		if err != nil {
			return locals, mirrors, fmt.Errorf("repetition %d: %w", n, err)
		}
	}
	return locals, mirrors, nil
}

// status is env.json's status of a run that ended with err.
func status(err error) string {
	switch {
	case err == nil:
		return results.StatusOK
	case errors.Is(err, context.Canceled):
		return results.StatusInterrupted
	}
	return results.StatusFailed(err)
}

// write merges the repetitions and writes the run's summaries and env.json.
func (res *Result) write(locals, mirrors []*pipeline.Summary, runErr error) error {
	var err error
	if res.Summary, err = combine(locals, runErr); err != nil {
		return err
	}
	if len(mirrors) > 0 {
		if res.Mirror, err = combine(mirrors, runErr); err != nil {
			return err
		}
	}
	if res.Summary != nil {
		if err := results.WriteSummary(filepath.Join(res.Dir, results.SummaryFile), res.Summary); err != nil {
			return err
		}
	}
	if res.Mirror != nil {
		if err := results.WriteSummary(filepath.Join(res.Dir, results.MirrorSummaryFile), res.Mirror); err != nil {
			return err
		}
	}
	return results.WriteEnv(filepath.Join(res.Dir, results.EnvFile), res.Env)
}

// combine merges repetitions; with more than one, each is kept in
// "repetitions" too.
func combine(parts []*pipeline.Summary, runErr error) (*pipeline.Summary, error) {
	if len(parts) == 0 {
		return nil, nil
	}
	var s *pipeline.Summary
	if len(parts) == 1 {
		s = parts[0]
	} else {
		var err error
		if s, err = pipeline.Merge(parts...); err != nil {
			return nil, err
		}
		for _, p := range parts {
			q := *p
			q.Connections = nil // kept in each rep-N folder's summary
			s.Repetitions = append(s.Repetitions, q)
		}
		s.Connections = nil
	}
	if runErr != nil {
		s.Partial = true
		if s.Reason == "" {
			s.Reason = runErr.Error()
		}
	}
	return s, nil
}

func hasMode(sc *scenario.Scenario, m string) bool {
	for _, x := range sc.Capture.Modes {
		if x == m {
			return true
		}
	}
	return false
}
