package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/event"
	"github.com/cloudpcap/cloudpcap/monitor/latency"
	"github.com/cloudpcap/cloudpcap/monitor/pipeline"
	"github.com/cloudpcap/cloudpcap/monitor/profile"
	"github.com/cloudpcap/cloudpcap/trader/stamp"
)

// Fixtures written before summary.json and env.json had a format.
var (
	historyRun = filepath.Join("..", "history", "testdata", "runs", "base")
	reportRun  = filepath.Join("..", "report", "testdata", "runs", "ci")
	quickRun   = filepath.Join("..", "report", "testdata", "runs", "quick")
)

func TestNames(t *testing.T) {
	start := time.Date(2026, 11, 22, 2, 32, 31, 5, time.FixedZone("CET", 3600))
	if got, want := RunDir("results", "quick", start), filepath.Join("results", "quick", "20261122T013231Z"); got != want {
		t.Errorf("RunDir = %s, want %s", got, want)
	}
	if n, ok := RepNumber(RepDir(12)); !ok || n != 12 || RepDir(12) != "rep-12" {
		t.Errorf("RepDir(12) = %s reads back as %d %v", RepDir(12), n, ok)
	}
	for _, s := range []string{"rep-", "rep-x", "repx-1", "logs"} {
		if _, ok := RepNumber(s); ok {
			t.Errorf("%s reads as a repetition folder", s)
		}
	}
	for got, want := range map[string]string{
		StampsFile("t1"): "app/t1.jsonl", TraderStatsFile("t1"): "app/t1-stats.json", KeyLogFile("t1"): "keys/t1.log",
		LogFile("feed-ex"): "logs/feed-ex.log", LinkemuStatsFile("cpl-1-ex-ex"): "linkemu/cpl-1-ex-ex.json",
	} {
		if got != filepath.FromSlash(want) {
			t.Errorf("%s, want %s", got, want)
		}
	}
	if StatusFailed(errors.New("repetition 2: boom")) != "failed: repetition 2: boom" {
		t.Error(StatusFailed(errors.New("repetition 2: boom")))
	}
}

func sampleSummary() *pipeline.Summary {
	m := latency.Metric{Count: 3, MinNS: 1, P50NS: 2, MaxNS: 3, MeanNS: 2}
	rep := pipeline.Summary{Metrics: map[string]latency.Metric{latency.FeedLatency: m}}
	return &pipeline.Summary{Metrics: map[string]latency.Metric{latency.FeedLatency: m}, Warnings: []string{"w"},
		Partial: true, Reason: "repetition 2: trader exited", Repetitions: []pipeline.Summary{rep, rep}}
}

func sampleEnv() *Env {
	t0 := time.Date(2026, 11, 22, 2, 32, 31, 0, time.UTC)
	return &Env{Scenario: "quick", Revision: "abc", GoVersion: "go1.26", Kernel: "Linux 6 x86_64", CPU: "cpu", Cores: 2,
		Mechanism: "netem (kernel)", Modes: []string{"local"}, Start: t0, End: t0.Add(time.Minute), Status: StatusOK,
		Repetitions: []RepEnv{{Repetition: 1, RunID: "0a1b2c3d", Start: t0, End: t0.Add(time.Minute),
			Emulators: []EmulatorRef{{Host: "cpl-0a1b2c3d-ex-ex", Stats: LinkemuStatsFile("cpl-0a1b2c3d-ex-ex"), Data: json.RawMessage(`{"a":1}`)}},
			Points:    []PointEnv{{Name: "local:t1", Packets: 10, Drops: 1}}}}}
}

// What is written reads back the same, with the current format.
func TestWriteRead(t *testing.T) {
	dir := t.TempDir()
	sum, env := sampleSummary(), sampleEnv()
	if err := WriteSummary(filepath.Join(dir, SummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	if err := WriteSummary(filepath.Join(dir, MirrorSummaryFile), sum); err != nil {
		t.Fatal(err)
	}
	if err := WriteEnv(filepath.Join(dir, EnvFile), env); err != nil {
		t.Fatal(err)
	}
	if env.Format != 0 {
		t.Error("WriteEnv changed its argument")
	}
	for _, name := range []string{SummaryFile, EnvFile} {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		if !bytes.HasPrefix(b, []byte("{\n  \"format\": 1,\n")) {
			t.Errorf("%s does not start with its format:\n%.80s", name, b)
		}
	}
	r, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := *env
	want.Format = FormatVersion
	var data bytes.Buffer // the emulator's stats come back indented with the file
	json.Compact(&data, r.Env.Repetitions[0].Emulators[0].Data)
	r.Env.Repetitions[0].Emulators[0].Data = data.Bytes()
	if !reflect.DeepEqual(r.Env, &want) {
		t.Errorf("env read back as %+v\nwant %+v", r.Env, &want)
	}
	if !reflect.DeepEqual(r.Summary, sum) || !reflect.DeepEqual(r.Mirror, sum) {
		t.Errorf("summary read back as %+v\nwant %+v", r.Summary, sum)
	}
	if r.ScenarioYAML != nil || len(r.Repetitions) != 1 || r.Repetitions[0].Dir != dir || r.Repetitions[0].Summary != r.Summary {
		t.Errorf("scenario %q, repetitions %+v", r.ScenarioYAML, r.Repetitions)
	}
	if !r.Partial() || len(r.RepSummaries()) != 2 {
		t.Errorf("partial %v, %d repetition summaries", r.Partial(), len(r.RepSummaries()))
	}
}

// The link emulator's statistics file reads back as written, and as env.json
// embeds it.
func TestEmulatorStatsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	q := EmulatorQuantiles{Count: 5, P50Ns: 1, P90Ns: 2, P99Ns: 3, MaxNs: 4, MeanNs: 2}
	st := EmulatorStats{A: "a0", B: "b0", UptimeNs: 9, SpinWindowNs: 200000, LateAfterNs: 100000, Offloads: "off",
		AtoB: EmulatorDirStats{Params: "delay=2ms", Received: 10, Forwarded: 9, Bytes: 900, DroppedLoss: 1, Late: 2, ReleaseError: q, ReceiveLatency: q},
		BtoA: EmulatorDirStats{Params: "delay=2ms", Received: 3, Forwarded: 3, KernelDrops: 1, GSOFrames: 1, ClockFallback: 1}}
	path := filepath.Join(dir, LinkemuStatsFile("cpl-1-ex-ex"))
	os.MkdirAll(filepath.Dir(path), 0o755)
	if err := WriteEmulatorStats(path, &st); err != nil {
		t.Fatal(err)
	}
	env := RepEnv{Emulators: []EmulatorRef{{Host: "cpl-1-ex-ex", Stats: LinkemuStatsFile("cpl-1-ex-ex")}}}
	ReadEmulatorStats(dir, &env)
	var got EmulatorStats
	if err := json.Unmarshal(env.Emulators[0].Data, &got); err != nil || !reflect.DeepEqual(got, st) {
		t.Fatalf("read back %+v (%v)\nwant %+v", got, err, st)
	}
}

// A write that fails leaves neither a temporary file nor a changed target.
func TestWriteFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, SummaryFile)
	if err := os.Mkdir(target, 0o755); err != nil { // rename over a folder fails
		t.Fatal(err)
	}
	if err := WriteSummary(target, sampleSummary()); err == nil {
		t.Fatal("writing over a folder succeeded")
	}
	if err := writeJSON(filepath.Join(dir, EnvFile), func() {}); err == nil {
		t.Fatal("marshalling a func succeeded")
	}
	if err := WriteEnv(filepath.Join(dir, "missing", EnvFile), sampleEnv()); err == nil {
		t.Fatal("writing into a missing folder succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != SummaryFile || !ents[0].IsDir() {
		t.Fatalf("left behind: %v", ents)
	}
}

// Folders written before the format field read as format 1.
func TestReadOldFormat(t *testing.T) {
	r, err := Read(historyRun)
	if err != nil {
		t.Fatal(err)
	}
	if r.Env == nil || r.Env.Format != 0 || r.Env.Revision != strings.Repeat("1", 40) || r.ScenarioYAML == nil || r.Mirror != nil {
		t.Fatalf("env %+v, scenario %d bytes, mirror %v", r.Env, len(r.ScenarioYAML), r.Mirror)
	}
	if len(r.RepSummaries()) != 5 || len(r.Repetitions) != 1 || r.Partial() {
		t.Fatalf("%d repetition summaries, %d folders, partial %v", len(r.RepSummaries()), len(r.Repetitions), r.Partial())
	}
	r, err = Read(reportRun)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Repetitions) != 5 {
		t.Fatalf("%d repetition folders", len(r.Repetitions))
	}
	for i, rep := range r.Repetitions {
		if rep.N != i+1 || rep.Dir != filepath.Join(reportRun, RepDir(i+1)) || rep.Summary == r.Summary || rep.Summary == nil {
			t.Errorf("repetition %d: %+v", i, rep)
		}
	}
	if len(r.Env.Repetitions[0].Emulators) == 0 || len(r.Env.Repetitions[0].Emulators[0].Data) == 0 {
		t.Errorf("emulator stats not read: %+v", r.Env.Repetitions[0])
	}
}

func copyRun(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "run")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestReadErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(dir string)
		want string // substring of the error, after the folder
		is   error
	}{
		{"missing summary", func(d string) { os.Remove(filepath.Join(d, SummaryFile)) }, "summary.json: not a cloudpcap run folder: the file is missing", ErrNotRun},
		{"corrupt summary", func(d string) {
			os.WriteFile(filepath.Join(d, SummaryFile), []byte("{\n  \"metrics\": {\n    \"feed_latency\": {\"count\": 12,,}\n"), 0o644)
		}, "summary.json:3:35: corrupt JSON", nil},
		{"newer summary", func(d string) {
			os.WriteFile(filepath.Join(d, SummaryFile), []byte(`{"format": 2, "metrics": {}}`), 0o644)
		}, "summary.json: written by a newer cloudpcap: format 2, this one reads formats up to 1", ErrNewerFormat},
		{"newer env", func(d string) {
			os.WriteFile(filepath.Join(d, EnvFile), []byte(`{"format": 7, "start": "2026-01-01T00:00:00Z"}`), 0o644)
		}, "env.json: written by a newer cloudpcap: format 7", ErrNewerFormat},
		{"corrupt env", func(d string) { os.WriteFile(filepath.Join(d, EnvFile), []byte(`{"start": 3}`), 0o644) }, "env.json: corrupt JSON", nil},
		{"corrupt repetition", func(d string) {
			os.WriteFile(filepath.Join(d, RepDir(3), SummaryFile), []byte(`{"metrics": 3}`), 0o644)
		}, filepath.Join(RepDir(3), SummaryFile) + ":1:", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyRun(t, reportRun)
			c.edit(dir)
			_, err := Read(dir)
			if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, c.want)) {
				t.Fatalf("error %v, want one containing %q", err, filepath.Join(dir, c.want))
			}
			var fe *FileError
			if !errors.As(err, &fe) || c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error %v: not a *FileError or not %v", err, c.is)
			}
		})
	}
	if _, err := Read(filepath.Join(reportRun, EnvFile)); !errors.Is(err, ErrNotRun) {
		t.Errorf("a file read as a folder: %v", err)
	}
}

func TestReadEventsAndStamps(t *testing.T) {
	f, err := os.Open(filepath.Join(quickRun, EventsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var evs []event.Event
	torn := strings.NewReader(`{"kind":"tick","wire_ns":1}` + "\n\n" + `{"kind":"ack","wire_`)
	if err := ReadEvents(f, EventsFile, func(e *event.Event) { evs = append(evs, *e) }, func(line int, err error) { t.Errorf("line %d: %v", line, err) }); err != nil {
		t.Fatal(err)
	}
	if len(evs) != 100 || evs[0].Kind != profile.Tick || evs[0].Conn == nil || &evs[0].Conn[0] == &evs[1].Conn[0] {
		t.Fatalf("%d events, first %+v", len(evs), evs[0])
	}
	var badLines []int
	if err := ReadEvents(torn, EventsFile, func(*event.Event) {}, func(line int, err error) { badLines = append(badLines, line) }); err != nil || !reflect.DeepEqual(badLines, []int{3}) {
		t.Errorf("torn file: bad lines %v, error %v", badLines, err)
	}

	traders := StampTraders(quickRun)
	if !reflect.DeepEqual(traders, []string{"t1"}) {
		t.Fatalf("traders %v", traders)
	}
	g, err := os.Open(filepath.Join(quickRun, StampsFile(traders[0])))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	var orders int
	if err := ReadStamps(g, StampsFile(traders[0]), func(s *stamp.Stamp) {
		if s.Kind == stamp.Order && len(s.OrderID) > 0 {
			orders++
		}
	}, func(line int, err error) { t.Errorf("line %d: %v", line, err) }); err != nil || orders == 0 {
		t.Fatalf("%d orders, error %v", orders, err)
	}
	long := strings.NewReader(strings.Repeat("x", 65<<20))
	if err := ReadStamps(long, "big.jsonl", func(*stamp.Stamp) {}, func(int, error) {}); err == nil || !strings.Contains(err.Error(), "big.jsonl:1: ") {
		t.Errorf("a line over the limit: %v", err)
	}
}
