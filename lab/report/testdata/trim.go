//go:build ignore

// trim cuts a results folder written by 'cloudpcap run' down to a small
// test fixture: the first -events lines of each events.jsonl (plus the
// acks of the orders kept), the traders' timestamp lines that belong to
// the kept orders, summary files without per-repetition groups and
// connection lists, and nothing else (no capture, keys or logs). With
// -hostile it also plants markup and script in every string the page shows
// that came from a capture: symbols, connection names, order ids, SNI,
// a warning and the scenario description.
//
// The committed fixtures were made with (runs from 'cloudpcap run'):
//
//	go run ./lab/report/testdata/trim.go -src RUN/quick/...     -dst lab/report/testdata/runs/quick -events 100
//	go run ./lab/report/testdata/trim.go -src RUN/quick/...     -dst lab/report/testdata/runs/hostile -hostile -events 40
//	go run ./lab/report/testdata/trim.go -src RUN/compare-feeds/... -dst lab/report/testdata/runs/feeds -events 100
//	go run ./lab/report/testdata/trim.go -src RUN/mirror/...    -dst lab/report/testdata/runs/mirror -events 80
//	go run ./lab/report/testdata/trim.go -src RUN/ci/...        -dst lab/report/testdata/runs/ci -events 20
//	go run ./lab/report/testdata/trim.go -src RUN/ci/...        -dst lab/report/testdata/runs/ci-slow -events 20
//
// (ci-slow: run scenarios/ci.yaml --set repeat=4 --set exchanges.0.link.delay=2ms)
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Hostile replacements: substrings of captured values and what to put
// there. They keep the joins (same replacement everywhere).
var hostile = [][2]string{
	{"BTCUSDT", "BTC</script><img src=x onerror=alert(1)>"},
	{"ETHUSDT", `ETH"><svg onload=alert(2)>`},
	{"t1-0-", `t1-'"><img src=x onerror=alert(3)>-`},
	{":8443", `:8443</td><script>alert(4)</script>`},
}

const hostileSNI = `</title><script>alert(5)</script>`
const hostileWarning = `<img src=x onerror=alert(6)> javascript:alert(7) & "quoted"`

func main() {
	src := flag.String("src", "", "results folder to trim")
	dst := flag.String("dst", "", "fixture folder to write (replaced)")
	n := flag.Int("events", 150, "events lines to keep per repetition")
	hostileFlag := flag.Bool("hostile", false, "plant markup in captured strings")
	flag.Parse()
	if *src == "" || *dst == "" {
		flag.Usage()
		os.Exit(2)
	}
	t := &trimmer{n: *n, hostile: *hostileFlag}
	if err := t.run(*src, *dst); err != nil {
		fmt.Fprintln(os.Stderr, "trim:", err)
		os.Exit(1)
	}
}

type trimmer struct {
	n       int
	hostile bool
}

func (t *trimmer) run(src, dst string) error {
	if err := os.RemoveAll(dst); err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	yml, err := os.ReadFile(filepath.Join(src, "scenario.yaml"))
	if err != nil {
		return err
	}
	if t.hostile {
		var out []string
		for _, l := range strings.Split(string(yml), "\n") {
			if strings.HasPrefix(l, "description:") {
				b, _ := json.Marshal("hostile fixture </pre><script>alert(8)</script>")
				l = "description: " + string(b)
			}
			out = append(out, l)
		}
		yml = []byte(strings.Join(out, "\n"))
	}
	if err := os.WriteFile(filepath.Join(dst, "scenario.yaml"), yml, 0o644); err != nil {
		return err
	}
	if err := t.json(filepath.Join(src, "env.json"), filepath.Join(dst, "env.json"), nil); err != nil {
		return err
	}
	for _, name := range []string{"summary.json", "summary-mirror.json"} {
		err := t.json(filepath.Join(src, name), filepath.Join(dst, name), func(v map[string]any) {
			if reps, ok := v["repetitions"].([]any); ok {
				for _, r := range reps {
					if m, ok := r.(map[string]any); ok {
						delete(m, "groups")
						delete(m, "connections")
					}
				}
			}
			if t.hostile && name == "summary.json" {
				w, _ := v["warnings"].([]any)
				v["warnings"] = append(w, hostileWarning)
			}
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	reps, _ := filepath.Glob(filepath.Join(src, "rep-*"))
	sort.Strings(reps)
	if len(reps) == 0 {
		return t.rep(src, dst)
	}
	for _, r := range reps {
		d := filepath.Join(dst, filepath.Base(r))
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		err := t.json(filepath.Join(r, "summary.json"), filepath.Join(d, "summary.json"), func(v map[string]any) {
			for k := range v {
				if k != "connections" {
					delete(v, k)
				}
			}
			v["metrics"] = map[string]any{}
		})
		if err != nil && !os.IsNotExist(err) {
			return err
		}
		if err := t.rep(r, d); err != nil {
			return err
		}
	}
	return nil
}

// rep trims one repetition's events.jsonl and app/*.jsonl.
func (t *trimmer) rep(src, dst string) error {
	lines, err := readLines(filepath.Join(src, "events.jsonl"))
	if err != nil {
		return err
	}
	orders := map[string]bool{}
	var keep [][]byte
	for i, l := range lines {
		var ev map[string]any
		if json.Unmarshal(l, &ev) != nil {
			continue
		}
		delete(ev, "payload")
		id, _ := ev["order_id"].(string)
		switch {
		case i < t.n:
			if ev["kind"] == "order" {
				orders[id] = true
			}
		case ev["kind"] == "ack" && orders[id]:
		default:
			continue
		}
		keep = append(keep, t.encode(ev))
	}
	if err := writeLines(filepath.Join(dst, "events.jsonl"), keep); err != nil {
		return err
	}
	apps, _ := filepath.Glob(filepath.Join(src, "app", "*.jsonl"))
	for _, a := range apps {
		lines, err := readLines(a)
		if err != nil {
			return err
		}
		var out [][]byte
		var pendingTick []byte
		for _, l := range lines {
			var st map[string]any
			if json.Unmarshal(l, &st) != nil {
				continue
			}
			if st["kind"] == "tick" {
				pendingTick = t.encode(st)
				continue
			}
			if id, _ := st["order_id"].(string); orders[id] {
				if pendingTick != nil {
					out = append(out, pendingTick)
					pendingTick = nil
				}
				out = append(out, t.encode(st))
			}
		}
		if err := os.MkdirAll(filepath.Join(dst, "app"), 0o755); err != nil {
			return err
		}
		if err := writeLines(filepath.Join(dst, "app", filepath.Base(a)), out); err != nil {
			return err
		}
	}
	return nil
}

func (t *trimmer) json(src, dst string, edit func(map[string]any)) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	if edit != nil {
		edit(v)
	}
	out := t.rewrite(v)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return err
	}
	return os.WriteFile(dst, buf.Bytes(), 0o644)
}

func (t *trimmer) encode(v map[string]any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(t.rewrite(v))
	return bytes.TrimSpace(buf.Bytes())
}

// rewrite applies the hostile replacements to every string and key, and
// gives every TLS record a hostile SNI.
func (t *trimmer) rewrite(v any) any {
	if !t.hostile {
		return v
	}
	switch x := v.(type) {
	case string:
		for _, r := range hostile {
			x = strings.ReplaceAll(x, r[0], r[1])
		}
		return x
	case []any:
		for i := range x {
			x[i] = t.rewrite(x[i])
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[t.rewrite(k).(string)] = t.rewrite(e)
		}
		if _, ok := out["suite"]; ok {
			out["sni"] = hostileSNI
		}
		return out
	}
	return v
}

func readLines(path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	var out [][]byte
	for sc.Scan() {
		out = append(out, append([]byte(nil), sc.Bytes()...))
	}
	return out, sc.Err()
}

func writeLines(path string, lines [][]byte) error {
	var buf bytes.Buffer
	for _, l := range lines {
		buf.Write(l)
		buf.WriteByte('\n')
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}
