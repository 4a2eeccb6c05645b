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

// notef prints a status message to stderr.
func (e *env) notef(format string, args ...any) {
	fmt.Fprintf(e.errOut, "sluice: "+format+"\n", args...)
}
