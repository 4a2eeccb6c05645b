// Command sluice is the command-line interface to sluice: append to and
// read a log, index views from it (or straight from an SSB log.offset), and
// query them.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first Ctrl-C asks the command to stop cleanly; a second one, once
	// the signals are no longer caught, ends the process (a command may be
	// blocked reading standard input).
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], newEnv(os.Stdin, os.Stdout, os.Stderr))
	stop()
	os.Exit(code)
}
