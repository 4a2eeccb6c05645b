package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command failed
	exitUsage = 2 // bad flags or arguments
)

// usageError marks errors in how the command was called.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// defaultDir is where sluice keeps its log and views when neither --dir nor
// SLUICE_DIR says otherwise.
const defaultDir = ".sluice"

func newRootCmd(e *env) *cobra.Command {
	root := &cobra.Command{
		Use:   "sluice",
		Short: "A log-structured database: one append-only log, SQLite views indexed from it",
		Long: `sluice keeps one append-only log as the only writable source of truth and
indexes SQLite views from it. Views are plain SQLite files (in DIR/views) that
the sqlite3 shell can read, and can be thrown away and rebuilt from the log.

It can also index an existing Secure Scuttlebutt log (~/.ssb/flume/log.offset)
directly, or import one into a sluice log.

The log lives in DIR/log and the views in DIR/views, where DIR is --dir, or
$SLUICE_DIR, or ./` + defaultDir + `.`,
		Example: `  sluice index --ssb ~/.ssb/flume/log.offset
  sluice query 'SELECT type, count(*) FROM messages GROUP BY type'
  echo '{"type":"post","text":"hi"}' | sluice append --local`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	dir := os.Getenv("SLUICE_DIR")
	if dir == "" {
		dir = defaultDir
	}
	root.PersistentFlags().StringVar(&e.dir, "dir", dir, "directory holding the log (DIR/log) and the views (DIR/views); $SLUICE_DIR if set")
	root.PersistentFlags().StringVar(&e.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(c *cobra.Command, args []string) error {
		if e.cpuProfile == "" {
			return nil
		}
		f, err := os.Create(e.cpuProfile)
		if err != nil {
			return err
		}
		e.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
		return pprof.StartCPUProfile(f)
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.AddCommand(
		newAppendCmd(e),
		newImportCmd(e),
		newCatCmd(e),
		newTailCmd(e),
		newStatusCmd(e),
		newIndexCmd(e),
		newVersionCmd(e),
	)
	for _, c := range extraCommands {
		root.AddCommand(c(e))
	}
	return root
}

// extraCommands are added by other files of this package (one per command).
var extraCommands []func(*env) *cobra.Command

// run runs the CLI with args and returns the exit code.
func run(ctx context.Context, args []string, e *env) int {
	root := newRootCmd(e)
	root.SetArgs(args)
	root.SetIn(e.in)
	root.SetOut(e.out)
	root.SetErr(e.errOut)
	err := root.ExecuteContext(ctx)
	if e.stopProfile != nil {
		e.stopProfile()
	}
	if err == nil {
		return exitOK
	}
	var ue usageError
	if strings.HasPrefix(err.Error(), "unknown command ") { // cobra's, with its suggestions
		err = usageError{fmt.Errorf("%s\nRun 'sluice --help' for the commands.", strings.TrimSpace(err.Error()))}
	}
	fmt.Fprintf(e.errOut, "sluice: %v\n", err)
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitError
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("%s takes %s (got %d arguments)\nRun '%s --help' for usage.", c.CommandPath(), what, len(args), c.CommandPath())
		}
		return nil
	}
}

func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments (got %q)\nRun '%s --help' for usage.", c.CommandPath(), args, c.CommandPath())
	}
	return nil
}

func (e *env) logDir() string   { return filepath.Join(e.dir, "log") }
func (e *env) viewsDir() string { return filepath.Join(e.dir, "views") }
