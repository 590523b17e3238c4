package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const reportFixtures = "../../lab/report/testdata/runs"

// copyRun copies a fixture results folder so the command can write into it.
func copyRun(t *testing.T, name string) string {
	t.Helper()
	src := filepath.Join(reportFixtures, name)
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func TestReportCommand(t *testing.T) {
	dir := copyRun(t, "quick")
	var out bytes.Buffer
	if err := run(context.Background(), []string{"report", dir}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	page := filepath.Join(dir, "report.html")
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte("<svg")) || !bytes.Contains(b, []byte("cloudpcap report: quick")) {
		t.Errorf("%s does not look like a report", page)
	}
	if !strings.HasPrefix(out.String(), page+" (") {
		t.Errorf("stdout %q does not name the page", out.String())
	}
}

func TestCompareCommand(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "cmp.html")
	model := filepath.Join(dir, "cmp.json")
	args := []string{"compare", filepath.Join(reportFixtures, "ci"), filepath.Join(reportFixtures, "feeds"), "-o", page, "--label", "before", "--label", "after", "--json", model, "-q"}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if out.Len() != 0 {
		t.Errorf("-q printed %q", out.String())
	}
	b, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Reference string `json:"reference"`
		Runs      []struct {
			Label string `json:"label"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Reference != "before" || len(m.Runs) != 2 || m.Runs[1].Label != "after" {
		t.Errorf("model: reference %q, runs %+v", m.Reference, m.Runs)
	}
	if _, err := os.Stat(page); err != nil {
		t.Error(err)
	}
}

func TestReportBadArgs(t *testing.T) {
	fx := filepath.Join(reportFixtures, "quick")
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"report without a folder", []string{"report"}, 2, "name exactly one results folder"},
		{"report with two", []string{"report", fx, fx}, 2, "use 'cloudpcap compare'"},
		{"compare with one", []string{"compare", fx}, 2, "at least two results folders"},
		{"too many labels", []string{"compare", fx, fx, "--label", "a", "--label", "b", "--label", "c"}, 2, "3 --label flags for 2"},
		{"bad flag", []string{"report", "--nope", fx}, 2, "flag provided but not defined"},
		{"not a run", []string{"report", t.TempDir()}, 1, "summary.json: not a cloudpcap run folder"},
		{"unwritable output", []string{"compare", fx, fx, "-o", filepath.Join(t.TempDir(), "missing", "x.html")}, 1, "report: "},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr bytes.Buffer
			err := run(context.Background(), c.args, io.Discard, io.Discard)
			code := exitCode(err, &stderr)
			if code != c.code || !strings.Contains(stderr.String(), c.msg) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr.String(), c.code, c.msg)
			}
		})
	}
}
