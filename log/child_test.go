package log

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests re-run this test binary as a child process to have a real second
// process: one that holds the log's lock, or one that appends until it is
// killed with SIGKILL.
const childEnv = "SLUICE_LOG_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		os.Exit(runChild(role, os.Getenv("SLUICE_LOG_TEST_DIR")))
	}
	os.Exit(m.Run())
}

// runChild is the child's main. Roles:
//
//	hold         open the log, print "ready", wait for stdin to close
//	fault:D:S:L  run the fault scenario (fault_test.go) with durability D,
//	             segment size S and, if L > 0, a file size limit of L bytes
//	durable:D:W  append with durability D from W goroutines, reporting each
//	             acknowledgement (strace_test.go)
//	stress:S:C:N the follower stress test's writer: C calls into S-byte
//	             segments, payload sizes from seed N (stress_test.go)
//	append:D:W:R open with durability D, run W appenders forever; in round R,
//	             appender W prints "ack W I SEQ" after its I-th Append
//	             returned SEQ
func runChild(role, dir string) int {
	fail := func(err error) int { fmt.Fprintln(os.Stderr, "child:", err); return 1 }
	parts := strings.Split(role, ":")
	switch parts[0] {
	case "hold":
		l, err := Open(dir, Options{})
		if err != nil {
			return fail(err)
		}
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
		l.Close()
		return 0
	case "fault":
		d, err := ParseDurability(parts[1])
		if err != nil {
			return fail(err)
		}
		seg, _ := strconv.Atoi(parts[2])
		fsize, _ := strconv.ParseInt(parts[3], 10, 64)
		return runFaultScenario(dir, d, seg, fsize)
	case "durable":
		d, err := ParseDurability(parts[1])
		if err != nil {
			return fail(err)
		}
		workers, _ := strconv.Atoi(parts[2])
		return runDurable(dir, d, workers)
	case "stress":
		seg, _ := strconv.Atoi(parts[1])
		calls, _ := strconv.Atoi(parts[2])
		seed, _ := strconv.ParseUint(parts[3], 10, 64)
		return runStressWriter(dir, seg, calls, seed)
	case "append":
		d, err := ParseDurability(parts[1])
		if err != nil {
			return fail(err)
		}
		workers, _ := strconv.Atoi(parts[2])
		round, _ := strconv.Atoi(parts[3])
		l, err := Open(dir, Options{Durability: d, SegmentSize: 64 << 10})
		if err != nil {
			return fail(err)
		}
		var outMu sync.Mutex
		out := bufio.NewWriter(os.Stdout)
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 1; ; i++ {
					seqs, err := l.Append(context.Background(), Record{Origin: Origin(i % 2), Payload: childPayload(round, w, i)})
					if err != nil {
						fmt.Fprintln(os.Stderr, "child append:", err)
						os.Exit(1)
					}
					outMu.Lock()
					fmt.Fprintf(out, "ack %d %d %d\n", w, i, seqs[0])
					out.Flush()
					outMu.Unlock()
				}
			}()
		}
		wg.Wait()
		return 0
	}
	return fail(fmt.Errorf("unknown role %q", role))
}

func childPayload(round, w, i int) []byte {
	return []byte(fmt.Sprintf(`{"r":%d,"w":%d,"i":%d,"pad":"%s"}`, round, w, i, strings.Repeat("p", (w*31+i)%200)))
}

// startChild starts the test binary as a child in the given role.
func startChild(t *testing.T, role, dir string) (*exec.Cmd, io.WriteCloser, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "SLUICE_LOG_TEST_DIR="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
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
	return cmd, stdin, bufio.NewScanner(stdout)
}

// expectLine waits (bounded) for the next line from a child.
func expectLine(t *testing.T, sc *bufio.Scanner) string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		if sc.Scan() {
			got <- sc.Text()
		} else {
			got <- ""
		}
	}()
	select {
	case s := <-got:
		if s == "" {
			t.Fatal("child exited without output")
		}
		return s
	case <-time.After(30 * time.Second):
		t.Fatal("child sent nothing for 30 s")
	}
	return ""
}
