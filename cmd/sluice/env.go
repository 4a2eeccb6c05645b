package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// env is what commands read and write: the standard streams and global
// flags. Tests run commands with buffers.
type env struct {
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	// errTTY reports whether errOut is a terminal: progress bars go there
	// only then.
	errTTY bool
	dir    string

	cpuProfile  string
	stopProfile func()
}

func newEnv(in io.Reader, out, errOut io.Writer) *env {
	e := &env{in: in, out: out, errOut: errOut}
	if f, ok := errOut.(*os.File); ok {
		e.errTTY = term.IsTerminal(int(f.Fd()))
	}
	return e
}

// noteReadingTerminal tells a user who typed a command that reads JSON
// lines without piping anything in what it waits for.
func (e *env) noteReadingTerminal() {
	if f, ok := e.in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		e.notef("reading JSON values from standard input, one per line; end with Ctrl-D")
	}
}

// notef prints a status message to stderr.
func (e *env) notef(format string, args ...any) {
	fmt.Fprintf(e.errOut, "sluice: "+format+"\n", args...)
}
