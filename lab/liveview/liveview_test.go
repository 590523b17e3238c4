package liveview

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cloudpcap/cloudpcap/monitor/live"
)

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{":8080": "127.0.0.1:8080", "0.0.0.0:9": "0.0.0.0:9", "[::1]:7": "[::1]:7"} {
		if got, err := ListenAddr(in); err != nil || got != want {
			t.Errorf("%s -> %s %v, want %s", in, got, err, want)
		}
	}
	if _, err := ListenAddr("8080"); err == nil {
		t.Error("a bare port must be refused")
	}
}

func TestStreamAndPage(t *testing.T) {
	s, err := Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	snap := func(i int) Snapshot {
		p := live.PointSnapshot{Name: "local:t1", WinFeed: [4]int64{10, 20000, 90000, 100000}}
		p.Counts.Ticks = int64(100 * i)
		return Snapshot{Scenario: "quick", Repetition: 1, Elapsed: time.Duration(i) * time.Second, Points: []live.PointSnapshot{p}}
	}
	s.Publish(snap(1)) // before any browser: kept as backlog

	resp, err := http.Get(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := strings.ReplaceAll(string(body), `"http://www.w3.org/2000/svg"`, "") // a namespace name, not a fetch
	if !strings.Contains(page, `new EventSource("events")`) {
		t.Fatal("page must stream from its own origin")
	}
	for _, bad := range []string{"http://", "https://", "<script src", "<link", "url(", "fetch(", "import "} {
		if strings.Contains(page, bad) {
			t.Fatalf("page contains %q: it must fetch nothing", bad)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("CSP %q", csp)
	}

	ev, err := http.Get(s.URL() + "events")
	if err != nil {
		t.Fatal(err)
	}
	defer ev.Body.Close()
	r := bufio.NewReader(ev.Body)
	read := func() Frame {
		t.Helper()
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(line, "data: ") {
				var f Frame
				if err := json.Unmarshal([]byte(line[6:]), &f); err != nil {
					t.Fatal(err)
				}
				return f
			}
		}
	}
	if f := read(); f.Scenario != "quick" || f.ElapsedS != 1 {
		t.Fatalf("backlog frame %+v", f)
	}
	s.Publish(snap(2))
	if f := read(); f.ElapsedS != 2 {
		t.Fatalf("live frame %+v", f)
	}
	s.Close()
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal("stream ended without an end event")
		}
		if strings.HasPrefix(line, "event: end") {
			break
		}
	}
}
