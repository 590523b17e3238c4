package ws_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/monitor/ws/internal/wsrec"
)

var update = flag.Bool("update", false, "rewrite the golden files of failing cases")

func renderEvents(events []event) string {
	var b strings.Builder
	for _, e := range events {
		if e.HTTP {
			fmt.Fprintf(&b, "%s http %s seq=%d span=%d..%d off=%d wire=%d\n", e.Dir, e.Start, e.Seq,
				e.Span.FirstNS-wsrec.TSBase, e.Span.LastNS-wsrec.TSBase, e.Offset, e.WireBytes)
			for _, h := range e.Header {
				fmt.Fprintf(&b, "    %s\n", h)
			}
			continue
		}
		fmt.Fprintf(&b, "%s ws %s %s frames=%d compressed=%v span=%d..%d off=%d wire=%d", e.Dir, e.Op,
			payloadSummary(e.Payload), e.Frames, e.Compressed, e.Span.FirstNS-wsrec.TSBase, e.Span.LastNS-wsrec.TSBase, e.Offset, e.WireBytes)
		if e.CloseCode != 0 {
			fmt.Fprintf(&b, " close=%d %q", e.CloseCode, e.CloseReason)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func fixtures(t testing.TB) map[string][]wsrec.Piece {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.wsrec"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no fixtures in testdata (go run ./monitor/ws/internal/gen): %v", err)
	}
	out := map[string][]wsrec.Piece{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ps, err := wsrec.Unmarshal(b)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		out[strings.TrimSuffix(filepath.Base(p), ".wsrec")] = ps
	}
	return out
}

// TestGolden decodes the committed recordings and compares with the
// golden files; -update rewrites those that differ.
func TestGolden(t *testing.T) {
	for name, pieces := range fixtures(t) {
		t.Run(name, func(t *testing.T) {
			events, c := decode(t, pieces, nil)
			if err := c.Err(); err != nil {
				t.Fatal(err)
			}
			got := renderEvents(events)
			if split, _ := decode(t, pieces, oneByte); renderEvents(split) != got {
				t.Fatal("decoding one byte at a time differs")
			}
			path := filepath.Join("testdata", name+".golden")
			want, err := os.ReadFile(path)
			if err == nil && bytes.Equal(want, []byte(got)) {
				return
			}
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("rewrote %s", path)
				return
			}
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			t.Errorf("decoded %s differs from %s:\n%s", name, path, got)
		})
	}
}
