package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"

	"github.com/cloudpcap/cloudpcap/lab/results"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
)

// Error is a problem with one input file, positioned when it has lines:
// "report: results/quick/20260101T000000Z/summary.json: unexpected EOF".
type Error struct {
	Path string
	Line int // 0 when the whole file is at fault
	Err  error
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("report: %s:%d: %v", e.Path, e.Line, e.Err)
	}
	return fmt.Sprintf("report: %s: %v", e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

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
	Dir     string            // folder holding its events.jsonl and app/
	Summary *pipeline.Summary // rep-N/summary.json when repeating, else the run's
	Events  []Event
	App     []AppStamp // every trader's lines, in file order per trader
}

// Event is one line of events.jsonl (DESIGN.md, Events). Latencies are
// pointers: absent differs from zero.
type Event struct {
	Kind        string `json:"kind"`
	Conn        string `json:"conn"`
	WireNS      int64  `json:"wire_ns"`
	FirstWireNS int64  `json:"first_wire_ns"`
	Seq         uint64 `json:"seq"`
	Symbol      string `json:"symbol"`
	FeedLatency *int64 `json:"feed_latency_ns"`
	OrderID     string `json:"order_id"`
	TickConn    string `json:"tick_conn"`
	TickSeq     uint64 `json:"tick_seq"`
	TickWireNS  int64  `json:"tick_wire_ns"`
	TickToTrade *int64 `json:"tick_to_trade_ns"`
	Match       string `json:"match"`
	OrderToAck  *int64 `json:"order_to_ack_ns"`
	Status      string `json:"status"`
}

// AppStamp is one line of a trader's --timestamps file (trader/stamps.go).
type AppStamp struct {
	Trader   string `json:"-"` // file name without .jsonl
	Kind     string `json:"kind"`
	Client   int    `json:"client"`
	Conn     string `json:"conn"`
	Symbol   string `json:"symbol"`
	Seq      uint64 `json:"seq"`
	OrderID  string `json:"order_id"`
	TickConn string `json:"tick_conn"`
	TickSeq  uint64 `json:"tick_seq"`
	RecvNS   int64  `json:"recv_ns"`
	DecideNS int64  `json:"decide_ns"`
	SendNS   int64  `json:"send_ns"`
	WroteNS  int64  `json:"wrote_ns"`
	AckNS    int64  `json:"ack_ns"`
	Status   string `json:"status"`
	ErrText  string `json:"error"`
}

// maxProblems bounds the torn-line messages kept per file.
const maxProblems = 3

// Load reads the results folder dir. A missing or malformed summary.json is
// an error (it is not a run folder); torn lines in the JSONL files and a
// missing env.json are recorded in Problems.
func Load(dir string) (*Run, error) {
	r := &Run{Dir: dir}
	sumPath := filepath.Join(dir, "summary.json")
	var err error
	if r.Summary, err = readSummary(sumPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &Error{Path: sumPath, Err: errors.New("no summary.json: not a results folder written by 'cloudpcap run'")}
		}
		return nil, err
	}
	mirPath := filepath.Join(dir, "summary-mirror.json")
	if r.Mirror, err = readSummary(mirPath); err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		r.Mirror = nil
	}
	if b, err := os.ReadFile(filepath.Join(dir, "scenario.yaml")); err == nil {
		r.ScenarioYAML = string(b)
		if err := yaml.Unmarshal(b, &r.Scenario); err != nil {
			r.Problems = append(r.Problems, fmt.Sprintf("scenario.yaml: %v", firstLine(err.Error())))
		}
	} else {
		r.Problems = append(r.Problems, "scenario.yaml is missing")
	}
	envPath := filepath.Join(dir, "env.json")
	if b, err := os.ReadFile(envPath); err == nil {
		var e results.Env
		if err := json.Unmarshal(b, &e); err != nil {
			return nil, &Error{Path: envPath, Err: err}
		}
		r.Env = &e
	} else {
		r.Problems = append(r.Problems, "env.json is missing: no machine or link details")
	}
	if r.Scenario.Name == "" && r.Env != nil {
		r.Scenario.Name = r.Env.Scenario
	}

	repDirs, err := repFolders(dir)
	if err != nil {
		return nil, err
	}
	for i, rd := range repDirs {
		rep := Rep{N: i + 1, Dir: rd, Summary: r.Summary}
		if rd != dir {
			rep.N = repNumber(rd)
			if s, err := readSummary(filepath.Join(rd, "summary.json")); err == nil {
				rep.Summary = s
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
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

func readSummary(path string) (*pipeline.Summary, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var s pipeline.Summary
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, &Error{Path: path, Err: err}
	}
	return &s, nil
}

// repFolders lists rep-N folders in order, or dir itself when there are none.
func repFolders(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, &Error{Path: dir, Err: err}
	}
	var reps []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "rep-") {
			if _, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "rep-")); err == nil {
				reps = append(reps, filepath.Join(dir, e.Name()))
			}
		}
	}
	if len(reps) == 0 {
		return []string{dir}, nil
	}
	sort.Slice(reps, func(i, j int) bool { return repNumber(reps[i]) < repNumber(reps[j]) })
	return reps, nil
}

func repNumber(dir string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(filepath.Base(dir), "rep-"))
	return n
}

// readEvents reads events.jsonl of one repetition; a missing file leaves
// the repetition without events (capture.events: false).
func (r *Run) readEvents(rep *Rep) error {
	path := filepath.Join(rep.Dir, "events.jsonl")
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			r.Problems = append(r.Problems, rel(r.Dir, path)+" is missing: no timeline, split or slowest samples")
			return nil
		}
		return &Error{Path: path, Err: err}
	}
	defer f.Close()
	return r.parseEvents(rep, f, path)
}

// parseEvents appends the events read from rd to rep.
func (r *Run) parseEvents(rep *Rep, rd io.Reader, path string) error {
	return scanJSONL(rd, func(line int, b []byte) {
		var ev Event
		if err := json.Unmarshal(b, &ev); err != nil || ev.Kind == "" {
			r.problem(rel(r.Dir, path), line, err)
			return
		}
		rep.Events = append(rep.Events, ev)
	}, path)
}

// readApp reads app/*.jsonl (the traders' timestamps), skipping the
// *-stats.json files beside them.
func (r *Run) readApp(rep *Rep) error {
	paths, _ := filepath.Glob(filepath.Join(rep.Dir, "app", "*.jsonl"))
	sort.Strings(paths)
	for _, path := range paths {
		trader := strings.TrimSuffix(filepath.Base(path), ".jsonl")
		f, err := os.Open(path)
		if err != nil {
			return &Error{Path: path, Err: err}
		}
		err = r.parseApp(rep, f, path, trader)
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// parseApp appends one trader's timestamp lines read from rd to rep.
func (r *Run) parseApp(rep *Rep, rd io.Reader, path, trader string) error {
	return scanJSONL(rd, func(line int, b []byte) {
		var st AppStamp
		if err := json.Unmarshal(b, &st); err != nil || st.Kind == "" {
			r.problem(rel(r.Dir, path), line, err)
			return
		}
		st.Trader = trader
		rep.App = append(rep.App, st)
	}, path)
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
		msg := "no kind"
		if err != nil {
			msg = err.Error()
		}
		r.Problems = append(r.Problems, fmt.Sprintf("%s:%d: skipped a malformed line: %s", path, line, msg))
	case n == maxProblems:
		r.Problems = append(r.Problems, fmt.Sprintf("%s: more malformed lines skipped", path))
	}
}

// scanJSONL calls fn for every non-empty line. Lines may be long (payloads).
func scanJSONL(rd io.Reader, fn func(line int, b []byte), path string) error {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		fn(line, b)
	}
	if err := sc.Err(); err != nil {
		return &Error{Path: path, Line: line + 1, Err: err}
	}
	return nil
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
