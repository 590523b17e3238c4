package main

import (
	"strings"
	"testing"

	"github.com/cloudpcap/cloudpcap/lab/scenario"
)

func TestStrategyChecks(t *testing.T) {
	src := "name: x\nduration: 5s\nexchanges:\n  - name: ex\n    feed: {format: lab}\ntraders:\n  - name: t\n    strategy: every\n    params:\n      n: -3\n    feeds: [ex]\n  - name: u\n    strategy: martingale\n    feeds: [ex]\n"
	f, err := scenario.Parse("x.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	err = f.Validate(scenarioChecks()...)
	if err == nil {
		t.Fatal("bad strategies accepted")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "x.yaml:10:10: traders.0.params.n: ") || !strings.HasPrefix(lines[1], "x.yaml:13:15: traders.1.strategy: ") {
		t.Fatalf("errors:\n%s", err)
	}
	for _, p := range []string{"../../scenarios/quick.yaml", "../../scenarios/compare-strategies.yaml", "../../scenarios/compare-feeds.yaml"} {
		f, err := scenario.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Validate(scenarioChecks()...); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}
