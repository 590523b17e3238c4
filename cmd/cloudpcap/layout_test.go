package main

import (
	"bytes"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

type goPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Doc        string
	Imports    []string
	Deps       []string
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

// TestLeafPackages: packages that many others share import nothing of this
// module, so that any package may use them without a cycle or a heavy link
// (lab/stats: the gate's and the report's statistics, and history's median).
func TestLeafPackages(t *testing.T) {
	const mod = "github.com/cloudpcap/cloudpcap/"
	leaves := map[string]bool{mod + "lab/stats": true}
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
