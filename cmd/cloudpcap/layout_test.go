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
// lab; monitor never imports lab (DESIGN.md, STYLE.md); internal/ (helpers
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
