// Package results owns a run's results folder: the names of its files, the
// types of the files the lab writes (env.json here; summaries are
// monitor/pipeline's, events monitor/event's, application timestamps
// trader/stamp's), atomic writes, and Read, which returns a folder as a
// typed Run. The runner writes through it; history, gate, report and
// analyze read and write through it. docs/FORMATS.md describes every file.
//
//	<root>/<scenario>/<UTC start, 20060102T150405Z>/
//	  scenario.yaml        the resolved scenario (defaults filled, --set applied)
//	  summary.json         the local capture's summary, merged over repetitions
//	  summary-mirror.json  the mirror capture's, when mirroring
//	  env.json             machine, link mechanism, run IDs, status
//	  report.html          written after the run
//	  rep-N/               per repetition, when the scenario repeats; each holds
//	                       its summary.json and the files below
//	  capture.pcapng       every frame with the key log embedded (0600)
//	  events.jsonl         per-message events (events-mirror.jsonl when mirroring)
//	  app/<trader>.jsonl   the traders' application timestamps
//	  app/<trader>-stats.json  the traders' own counters
//	  keys/<trader>.log    the traders' TLS key logs (0700 folder)
//	  linkemu/<ns>.json    the userspace link emulator's statistics
//	  logs/<component>.log every component's output
//	<root>/history.db      the history index of the runs under root
//
// summary.json and env.json carry "format": FormatVersion. A file without
// it is from before the field existed and reads as format 1; a file with a
// newer format is refused with ErrNewerFormat rather than misread.
//
// Nothing is shared between calls: every returned value is the caller's.
package results

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File and folder names inside a run folder.
const (
	ScenarioFile      = "scenario.yaml"
	SummaryFile       = "summary.json"
	MirrorSummaryFile = "summary-mirror.json"
	EnvFile           = "env.json"
	ReportFile        = "report.html"
	CaptureFile       = "capture.pcapng"
	EventsFile        = "events.jsonl"
	MirrorEventsFile  = "events-mirror.jsonl"
	AppDir            = "app"
	KeysDir           = "keys"
	LinkemuDir        = "linkemu"
	LogsDir           = "logs"
)

// DefaultRoot is where runs land unless told otherwise; HistoryFile is the
// history index kept at a root.
const (
	DefaultRoot = "results"
	HistoryFile = "history.db"
)

// TimeLayout names a run folder by its UTC start time.
const TimeLayout = "20060102T150405Z"

// RunDir is the folder of a run of scenario started at start, under root.
func RunDir(root, scenario string, start time.Time) string {
	return filepath.Join(root, scenario, start.UTC().Format(TimeLayout))
}

const repPrefix = "rep-"

// RepDir names the folder of repetition n (1-based).
func RepDir(n int) string { return repPrefix + strconv.Itoa(n) }

// RepNumber is the repetition a folder name stands for, if it is one.
func RepNumber(name string) (int, bool) {
	s, ok := strings.CutPrefix(name, repPrefix)
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// StampsFile is a trader's application timestamps file, relative to its
// repetition's folder.
func StampsFile(trader string) string { return filepath.Join(AppDir, trader+stampsExt) }

const stampsExt = ".jsonl"

// TraderStatsFile is a trader's --stats file, relative to its repetition's
// folder.
func TraderStatsFile(trader string) string { return filepath.Join(AppDir, trader+"-stats.json") }

// KeyLogFile is a trader's TLS key log, relative to its repetition's folder.
func KeyLogFile(trader string) string { return filepath.Join(KeysDir, trader+".log") }

// LogFile is a component's output ("feed-ex", "trader-t1"), relative to its
// repetition's folder.
func LogFile(component string) string { return filepath.Join(LogsDir, component+".log") }

// LinkemuStatsFile is the link emulator's statistics for the host whose
// namespace is named ns, relative to its repetition's folder.
func LinkemuStatsFile(ns string) string { return filepath.Join(LinkemuDir, ns+".json") }

// Status values of env.json.
const (
	StatusOK          = "ok"
	StatusInterrupted = "interrupted"
)

// StatusFailed is the status of a run that failed with err.
func StatusFailed(err error) string { return fmt.Sprintf("failed: %v", err) }
