// Command gen records the WebSocket fixture sessions of wsrec.Fixtures
// with the real libraries over loopback and writes them to
// monitor/ws/testdata/<name>.wsrec. Run it from the repository root:
//
//	go run ./monitor/ws/internal/gen
//
// Tests never regenerate fixtures; after regenerating, run
// `go test ./monitor/ws -update` to rewrite the golden files.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/cloudpcap/cloudpcap/monitor/ws/internal/wsrec"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("gen", flag.ContinueOnError)
	out := fs.String("out", filepath.Join("monitor", "ws", "testdata"), "folder for the .wsrec files")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	for _, s := range wsrec.Fixtures() {
		res, err := wsrec.Run(ctx, s)
		if err != nil {
			return err
		}
		path := filepath.Join(*out, s.Name+".wsrec")
		b := wsrec.Marshal(res.Pieces)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d pieces, %d bytes\n", path, len(res.Pieces), len(b))
	}
	return nil
}
