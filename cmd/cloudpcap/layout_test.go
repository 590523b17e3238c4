package main

import (
	"bytes"
	"encoding/json"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath   string
	Name         string
	Dir          string
	Doc          string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Deps         []string
}

func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "github.com/cloudpcap/cloudpcap/...")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(&out)
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// TestPackageDocs: every package says what it does (STYLE.md), and its name
// matches its folder.
func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if p.Doc == "" {
			t.Errorf("%s has no package doc comment", p.ImportPath)
		}
		base := p.ImportPath[strings.LastIndex(p.ImportPath, "/")+1:]
		if p.Name != "main" && p.Name != base {
			t.Errorf("%s: package name %q differs from its folder %q", p.ImportPath, p.Name, base)
		}
	}
}

// TestDependencyDirection: feed, orderapi and trader never import monitor or
// lab; monitor never imports lab (DESIGN.md, STYLE.md).
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	rules := map[string][]string{
		"feed":     {"monitor", "lab", "trader"},
		"orderapi": {"monitor", "lab", "trader"},
		"trader":   {"monitor", "lab"},
		"monitor":  {"lab", "trader"},
	}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		top := strings.SplitN(rel, "/", 2)[0]
		for _, d := range p.Deps {
			if !strings.HasPrefix(d, mod) {
				continue
			}
			dtop := strings.SplitN(strings.TrimPrefix(d, mod), "/", 2)[0]
			for _, banned := range rules[top] {
				if dtop == banned {
					t.Errorf("%s depends on %s", p.ImportPath, d)
				}
			}
		}
	}
}

// TestLabLayout: the packages that read results (report, gate, history,
// liveview) and lab/results itself link nothing that builds the lab
// network; only cmd/cloudpcap's run.go imports lab/runner; the packages
// that own the events and timestamps formats are leaves a reader can
// import without linking the monitor's stages or the trader.
func TestLabLayout(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	builders := []string{"lab/runner", "lab/netem", "lab/topology", "lab/supervisor", "lab/linkemu"}
	readers := []string{"lab/report", "lab/gate", "lab/history", "lab/liveview", "lab/results"}
	leaves := map[string][]string{"monitor/event": {"monitor/profile"}, "trader/stamp": nil}
	for _, p := range listPackages(t) {
		rel := strings.TrimPrefix(p.ImportPath, mod)
		if slices.Contains(readers, rel) {
			for _, d := range p.Deps {
				if b := strings.TrimPrefix(d, mod); slices.Contains(builders, b) {
					t.Errorf("%s depends on %s", p.ImportPath, d)
				}
			}
		}
		if allowed, ok := leaves[rel]; ok {
			for _, d := range p.Imports {
				if strings.HasPrefix(d, mod) && !slices.Contains(allowed, strings.TrimPrefix(d, mod)) {
					t.Errorf("%s imports %s: it must stay a leaf (allowed: %v)", p.ImportPath, d, allowed)
				}
			}
		}
		imports := slices.Concat(p.Imports, p.TestImports, p.XTestImports)
		if rel != "lab/runner" && rel != "cmd/cloudpcap" && slices.Contains(imports, mod+"lab/runner") {
			t.Errorf("%s imports lab/runner: only cmd/cloudpcap/run.go may", p.ImportPath)
		}
		if rel == "cmd/cloudpcap" {
			for _, f := range runnerImporters(t, p.Dir) {
				if f != "run.go" {
					t.Errorf("cmd/cloudpcap/%s imports lab/runner: only run.go may", f)
				}
			}
		}
	}
}

// runnerImporters lists the Go files of dir that import lab/runner.
func runnerImporters(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range files {
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, is := range af.Imports {
			if path, _ := strconv.Unquote(is.Path.Value); path == "github.com/cloudpcap/cloudpcap/lab/runner" {
				out = append(out, filepath.Base(f))
			}
		}
	}
	return out
}
