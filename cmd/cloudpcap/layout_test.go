package main

import (
	"bytes"
	"encoding/json"
	"go/ast"
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
	Deps         []string
	GoFiles      []string
	TestGoFiles  []string
	XTestGoFiles []string
	TestImports  []string
	XTestImports []string
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

// TestPackageDocs: every package says what it does (docs/STYLE.md), and its name
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
// lab; monitor never imports lab (docs/DESIGN.md, docs/STYLE.md); internal/ (helpers
// every part of the module shares, such as internal/units) imports none of
// the parts.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	rules := map[string][]string{
		"feed":     {"monitor", "lab", "trader"},
		"orderapi": {"monitor", "lab", "trader"},
		"trader":   {"monitor", "lab"},
		"monitor":  {"lab", "trader"},
		"internal": {"feed", "orderapi", "trader", "monitor", "lab"},
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

// TestNamespaceEntry: only lab/namespace moves a thread into another network
// namespace, so there is one policy (lock, enter, restore; a thread that
// cannot be restored dies locked). No other file imports vishvananda/netns,
// calls setns or unshare, or locks an OS thread, except those named here
// with the one thing each may do and why.
func TestNamespaceEntry(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	const netnsPkg = "github.com/vishvananda/netns"
	allowed := map[string][]string{
		// Pins the emulator's loops for SCHED_FIFO and timer slack; it
		// enters no namespace.
		"lab/linkemu/direction.go": {"runtime.LockOSThread"},
		// monitor never imports lab: the live-capture test enters its
		// namespaces itself, with the same policy.
		"monitor/capture/live_linux_test.go": {netnsPkg, "runtime.LockOSThread", "netns.*"},
	}
	for _, p := range listPackages(t) {
		if p.ImportPath == mod+"lab/namespace" {
			continue
		}
		rel := strings.TrimPrefix(p.ImportPath, mod)
		for _, f := range slices.Concat(p.GoFiles, p.TestGoFiles, p.XTestGoFiles) {
			name := rel + "/" + f
			for _, use := range namespaceUses(t, filepath.Join(p.Dir, f)) {
				if !slices.Contains(allowed[name], use) {
					t.Errorf("%s uses %s: enter namespaces through lab/namespace", name, use)
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
	leaves := map[string][]string{"monitor/event": {"monitor/profile", "internal/jsonstr"}, "trader/stamp": {"internal/jsonstr"}}
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

// namespaceUses lists what file does that moves threads between
// namespaces: the netns import, any call into it ("netns.*"),
// runtime.LockOSThread, unix.Setns and unix.Unshare.
func namespaceUses(t *testing.T, file string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var uses []string
	for _, imp := range f.Imports {
		if path, _ := strconv.Unquote(imp.Path.Value); path == "github.com/vishvananda/netns" {
			uses = append(uses, path)
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return true
		}
		switch use := x.Name + "." + sel.Sel.Name; {
		case x.Name == "netns":
			uses = append(uses, "netns.*")
		case use == "runtime.LockOSThread", use == "unix.Setns", use == "unix.Unshare":
			uses = append(uses, use)
		}
		return true
	})
	slices.Sort(uses)
	return slices.Compact(uses)
}

// TestLeafPackages: packages that many others share import nothing of this
// module, so that any package may use them without a cycle or a heavy link
// (lab/stats: the gate's and the report's statistics, and history's median).
func TestLeafPackages(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	leaves := map[string]bool{mod + "lab/stats": true, mod + "internal/jsonstr": true}
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		if !leaves[p.ImportPath] {
			continue
		}
		seen[p.ImportPath] = true
		for _, d := range p.Deps {
			if strings.HasPrefix(d, mod) {
				t.Errorf("%s is a leaf but depends on %s", p.ImportPath, d)
			}
		}
	}
	for l := range leaves {
		if !seen[l] {
			t.Errorf("leaf package %s not found", l)
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
