package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"github.com/cloudpcap/cloudpcap/lab/linkemu"
	"github.com/cloudpcap/cloudpcap/lab/results"
)

// lab-linkemu is internal: the lab starts it inside a namespace when the
// kernel has no netem. It is not part of the CLI contract.
func init() {
	register(command{name: "lab-linkemu", summary: "userspace link emulator the lab runs where the kernel has no netem", run: runLinkemu, hidden: true})
}

func runLinkemu(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := flag.NewFlagSet("lab-linkemu", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nsName := fs.String("netns", "", "network namespace (name under /var/run/netns) holding both interfaces; empty: the current one")
	ifA := fs.String("a", "", "interface A (required)")
	ifB := fs.String("b", "", "interface B (required)")
	a2b := fs.String("a2b", "", "impairment of frames from A to B: k=v list (delay, jitter, dist, loss, rate, queue, reorder, seed)")
	b2a := fs.String("b2a", "", "impairment of frames from B to A (same syntax)")
	seed := fs.Uint64("seed", 0, "seed of the random draws of a direction whose k=v list has no seed=")
	statsFile := fs.String("stats", "", "write the stats as JSON to this file on exit and on SIGUSR1")
	spin := fs.Duration("spin", linkemu.DefaultSpinWindow, "busy-wait window before each due time")
	late := fs.Duration("late", linkemu.DefaultLateAfter, "release error above which a frame counts as late")
	rt := fs.Int("rt-priority", 0, "run the emulator threads SCHED_FIFO at this priority and the process's other threads at 1 (1-99; 0: normal scheduling)")
	keep := fs.Bool("keep-offloads", false, "leave GSO/GRO/TSO of A and B as they are")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: cloudpcap lab-linkemu --a IFACE --b IFACE [--netns NAME] [--a2b K=V,...] [--b2a K=V,...] [--seed N] [--stats FILE]")
		fmt.Fprintln(stderr, "\nforwards frames between two interfaces with an emulated link until SIGTERM or SIGINT\n\nflags:")
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{msg: fmt.Sprintf("lab-linkemu: unexpected argument %q", fs.Arg(0))}
	}
	if *ifA == "" || *ifB == "" {
		return &usageError{msg: "lab-linkemu: --a and --b are required"}
	}
	var link linkemu.Link
	for _, d := range []struct {
		flag, text string
		p          *linkemu.Params
	}{{"--a2b", *a2b, &link.AtoB}, {"--b2a", *b2a, &link.BtoA}} {
		p, err := linkemu.ParseParams(d.text)
		if err != nil {
			return &usageError{msg: fmt.Sprintf("lab-linkemu: %s: %v", d.flag, err)}
		}
		if p.Seed == 0 {
			p.Seed = *seed
		}
		*d.p = p
	}
	cfg := linkemu.Config{Netns: *nsName, A: *ifA, B: *ifB, Link: link, SpinWindow: *spin, LateAfter: *late,
		RealtimePriority: *rt, KeepOffloads: *keep}
	if *spin <= 0 || *late <= 0 {
		return &usageError{msg: "lab-linkemu: --spin and --late must be positive"}
	}
	if *rt < 0 || *rt > 99 {
		return &usageError{msg: fmt.Sprintf("lab-linkemu: --rt-priority %d outside 0..99", *rt)}
	}

	// The emulator's four threads each hold a P while they wait for a due
	// time; give them their own.
	if want := runtime.NumCPU() + 4; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	if *rt > 0 {
		// The runtime threads that resume a preempted emulator thread
		// must not wait behind normal processes either.
		if err := linkemu.SetProcessRealtime(1); err != nil {
			return err
		}
	}
	emu, err := linkemu.Start(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "lab-linkemu: forwarding %s <-> %s (a2b %q, b2a %q)\n", *ifA, *ifB, link.AtoB.String(), link.BtoA.String())

	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	for {
		select {
		case <-usr1:
			if err := writeStats(*statsFile, emu.Stats()); err != nil {
				fmt.Fprintln(stderr, "lab-linkemu:", err)
			}
			continue
		case <-ctx.Done():
		case <-emu.Done():
		}
		break
	}
	stopErr := emu.Stop()
	if err := writeStats(*statsFile, emu.Stats()); err != nil {
		return errors.Join(stopErr, err)
	}
	return stopErr
}

// writeStats writes st to path (nothing when path is empty), atomically.
func writeStats(path string, st results.EmulatorStats) error {
	if path == "" {
		return nil
	}
	if err := results.WriteEmulatorStats(path, &st); err != nil {
		return fmt.Errorf("stats: %w", err)
	}
	return nil
}
