package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the sluice command: with SLUICE_TEST_MAIN set
// it runs the CLI, so tests can start real sluice processes (to kill them,
// or to run an indexer beside an appender) without building anything.
func TestMain(m *testing.M) {
	if os.Getenv("SLUICE_TEST_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// result is what a command printed and its exit code.
type result struct {
	out, err string
	code     int
}

// sluice runs the CLI in this process with stdin in.
func sluice(t *testing.T, dir, in string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	e := newEnv(strings.NewReader(in), &out, &errOut)
	code := run(context.Background(), append([]string{"--dir", dir}, args...), e)
	return result{out.String(), errOut.String(), code}
}

// ok runs the CLI and fails the test unless it exits 0.
func ok(t *testing.T, dir, in string, args ...string) string {
	t.Helper()
	r := sluice(t, dir, in, args...)
	if r.code != 0 {
		t.Fatalf("sluice %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.out, r.err)
	}
	return r.out
}

// sluiceCmd is the command of a sluice child process: this test binary.
func sluiceCmd(dir string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], append([]string{"--dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	return cmd
}

// process starts sluice as a child process.
func process(t *testing.T, dir string, args ...string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	return startProcess(t, sluiceCmd(dir, args...))
}

// startProcess starts cmd (made by sluiceCmd, its stdout set up as the test
// wants) and returns it with its stderr; the end of the test kills it.
func startProcess(t *testing.T, cmd *exec.Cmd) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd, bufio.NewScanner(stderr)
}

// waitExit waits (bounded) for a child to exit and returns its error, or
// an error saying it did not exit within limit (then it kills it). It does
// not fail t, so goroutines other than the test's may call it.
func waitExit(t *testing.T, cmd *exec.Cmd, stderr *bufio.Scanner, limit time.Duration) error {
	t.Helper()
	var msgs []string
	drained := make(chan struct{})
	go func() {
		for stderr.Scan() {
			msgs = append(msgs, stderr.Text())
		}
		close(drained)
	}()
	done := make(chan error, 1)
	go func() { <-drained; done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && !ee.Exited()) { // not killed by a signal
			t.Logf("child stderr: %s", strings.Join(msgs, "\n"))
		}
		return err
	case <-time.After(limit):
		cmd.Process.Kill()
		return fmt.Errorf("sluice %v did not exit within %s", cmd.Args[1:], limit)
	}
}
