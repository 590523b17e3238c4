package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/cloudpcap/cloudpcap/lab/netem"
	"github.com/cloudpcap/cloudpcap/lab/topology"
)

func init() {
	register(command{name: "lab", summary: "lab maintenance: 'lab clean' removes what a crashed run left, 'lab probe' shows kernel features", run: runLab})
}

var runIDPattern = regexp.MustCompile(`^[0-9a-f]{8}$`)

func runLab(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &usageError{msg: "usage: cloudpcap lab clean [--run ID] | cloudpcap lab probe"}
	}
	switch args[0] {
	case "clean":
		fs := flag.NewFlagSet("lab clean", flag.ContinueOnError)
		fs.SetOutput(stderr)
		id := fs.String("run", "", "remove only run `ID` (default: every cloudpcap run)")
		if err := parseFlags(fs, args[1:]); err != nil {
			return err
		}
		if *id != "" && !runIDPattern.MatchString(*id) {
			return &usageError{msg: fmt.Sprintf("lab clean --run %q: a run ID is 8 hex digits (the ID in cpl-<runid>-<role>)", *id)}
		}
		if err := topology.CheckPrivileges(); err != nil {
			return err
		}
		rep, err := topology.Clean(*id)
		fmt.Fprintf(stdout, "removed %d namespaces (%s), killed %d processes, removed %d temporary files\n",
			len(rep.Namespaces), strings.Join(rep.Namespaces, " "), rep.Processes, len(rep.TempFiles))
		return err
	case "probe":
		f, err := netem.Probe()
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, f.String())
		fmt.Fprintf(stdout, "link mechanism: %s\n", f.LinkMechanism())
		return nil
	}
	return &usageError{msg: fmt.Sprintf("lab %q: want clean or probe", args[0])}
}
