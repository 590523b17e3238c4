// Command cloudpcap is the one binary of the cloudpcap latency lab: the mock
// exchange (feed, orderapi), the trading clients (trader), the passive monitor
// (analyze) and the lab that wires them together (run, report, gate, lab).
//
// main is thin: it parses nothing itself, calls run and turns the returned
// error into an exit code. Each subcommand lives in its own file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// command is one subcommand: it parses its own flags from args and writes
// human output to stdout and diagnostics to stderr.
type command struct {
	name    string
	summary string
	hidden  bool // internal (run by the lab itself): not listed by help
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is filled by the init functions of the subcommand files.
var commands = map[string]command{}

func register(c command) { commands[c.name] = c }

// exitError carries a specific exit code (the gate uses 1 and 2).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// usageError marks a bad command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

func exitCode(err error, stderr io.Writer) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil && ee.err.Error() != "" {
			fmt.Fprintln(stderr, "cloudpcap:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "cloudpcap:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		return &usageError{msg: fmt.Sprintf("unknown command %q (run 'cloudpcap help')", args[0])}
	}
	err := c.run(ctx, args[1:], stdout, stderr)
	if errors.Is(err, flag.ErrHelp) { // -h: the usage was printed
		return nil
	}
	return err
}

// parseFlags parses a subcommand's flags; positional arguments stay in
// fs.Args(). -h returns flag.ErrHelp (run treats it as success), a bad flag
// a usageError naming the command (exit 2).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{msg: fs.Name() + ": " + err.Error()}
	}
	return nil
}

// parseArgs parses flags that may come before, between or after the
// positional arguments (`analyze cap.pcap --keylog k`) and returns the
// positional ones; errors as parseFlags.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "cloudpcap: wire-level latency lab for trading systems")
	fmt.Fprintln(w, "\nusage: cloudpcap COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n, c := range commands {
		if !c.hidden {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nrun 'cloudpcap COMMAND -h' for a command's flags")
}

// listFlag is a repeatable string flag (--feed URL --feed URL, --param k=v).
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }
