package log

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// The fault tests run a child process that appends a fixed scenario while
// the system fails one of its writes, syncs, renames or opens (a file size
// limit, or strace's syscall injection), then check the log it leaves.

// faultCalls is how many Append calls the scenario makes.
const faultCalls = 12

// faultPayload is record i of call c of the scenario.
func faultPayload(c, i int) []byte {
	return []byte(fmt.Sprintf(`{"c":%d,"i":%d,"pad":"%s"}`, c, i, strings.Repeat("f", (c*37+i*11)%150)))
}

// faultRecs is the records of call c: one to four.
func faultRecs(c int) []Record {
	recs := make([]Record, 1+c%4)
	for i := range recs {
		recs[i] = Record{Origin: Origin(c % 2), Payload: faultPayload(c, i)}
	}
	return recs
}

// A fault child runs its scenario on the main thread, from the start:
// strace numbers the calls it fails per thread, and the runtime's own
// calls at start-up (reading cgroup files) are on the main thread too.
func init() {
	if strings.HasPrefix(os.Getenv(childEnv), "fault:") {
		runtime.LockOSThread()
	}
}

// report writes a line to stdout with writev, not write: strace's write
// injection then never hits the child's reports, only its log's I/O.
func report(format string, args ...any) {
	b := []byte(fmt.Sprintf(format, args...) + "\n")
	for len(b) > 0 {
		n, err := unix.Writev(1, [][]byte{b})
		if err != nil && err != syscall.EINTR {
			os.Exit(3)
		}
		b = b[max(n, 0):]
	}
}

// runFaultScenario is the child's side: open (creating) the log in dir,
// make faultCalls Appends, reporting each as "ack C FIRST" or "fail C ERR",
// and close. It runs on the main thread (see init), so that strace's
// per-thread counters of injected syscalls count the same calls every run.
func runFaultScenario(dir string, d Durability, segSize int, fsize int64) int {
	report("tid %d", syscall.Gettid())
	if fsize > 0 {
		signal.Ignore(syscall.SIGXFSZ) // writes past the limit fail with EFBIG instead
		lim := syscall.Rlimit{Cur: uint64(fsize), Max: unix.RLIM_INFINITY}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			report("setup %v", err)
			return 1
		}
	}
	l, err := Open(dir, Options{Durability: d, SegmentSize: segSize})
	if err != nil {
		report("open-failed %v", oneLine(err))
		return 0
	}
	for c := 1; c <= faultCalls; c++ {
		seqs, err := l.Append(context.Background(), faultRecs(c)...)
		if err != nil {
			report("fail %d %v", c, oneLine(err))
			continue
		}
		report("ack %d %d", c, seqs[0])
	}
	report("close %v", oneLine(l.Close()))
	return 0
}

func oneLine(err error) string {
	if err == nil {
		return "ok"
	}
	return strings.ReplaceAll(err.Error(), "\n", " ")
}

// faultResult is what a fault child reported.
type faultResult struct {
	tid    int
	opened bool
	acked  map[int]Seq // call -> seq of its first record
	failed map[int]string
	lines  []string
}

func parseFault(t *testing.T, out []byte) faultResult {
	t.Helper()
	res := faultResult{opened: true, acked: map[int]Seq{}, failed: map[int]string{}}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		res.lines = append(res.lines, line)
		f := strings.SplitN(line, " ", 3)
		switch f[0] {
		case "tid":
			res.tid, _ = strconv.Atoi(f[1])
		case "open-failed":
			res.opened = false
		case "ack":
			c, _ := strconv.Atoi(f[1])
			s, _ := strconv.ParseUint(f[2], 10, 64)
			res.acked[c] = Seq(s)
		case "fail":
			c, _ := strconv.Atoi(f[1])
			res.failed[c] = f[2]
		}
	}
	return res
}

// checkFaultLog opens the log a fault child left: it must open (also when
// the child could not even create it), hold every acknowledged call's
// records at the seqs the child was given, and nothing of a failed call;
// then it must take a new Append. inFlight, if not 0, is a call the child
// was killed in: it may be there, whole, after the acknowledged ones, or
// not at all.
func checkFaultLog(t *testing.T, dir string, res faultResult, inFlight int) {
	t.Helper()
	said := "child said:\n" + strings.Join(res.lines, "\n")
	l, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen: %v\n%s", err, said)
	}
	defer l.Close()
	want := map[Seq][2]int{} // seq -> call, record
	var top Seq
	for c, first := range res.acked {
		for i := range faultRecs(c) {
			s := first + Seq(i)
			if _, dup := want[s]; dup {
				t.Fatalf("seq %d acknowledged twice\n%s", s, said)
			}
			want[s] = [2]int{c, i}
			top = max(top, s)
		}
	}
	it, _ := l.Iter(1)
	defer it.Close()
	n, extra := 0, 0
	for it.Next() {
		e := it.Entry()
		var p struct{ C, I int }
		if err := json.Unmarshal(e.Payload, &p); err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
		if !bytes.Equal(e.Payload, faultPayload(p.C, p.I)) {
			t.Fatalf("seq %d: payload %q is not call %d record %d's", e.Seq, e.Payload, p.C, p.I)
		}
		if p.C == inFlight && inFlight != 0 && e.Seq == top+Seq(p.I)+1 {
			extra++
			continue
		}
		if w, ok := want[e.Seq]; !ok || w != [2]int{p.C, p.I} {
			_, failed := res.failed[p.C]
			t.Fatalf("seq %d holds call %d record %d (failed call: %v), want call/record %v (acknowledged: %v)\n%s",
				e.Seq, p.C, p.I, failed, w, ok, said)
		}
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(want) {
		t.Fatalf("the log holds %d acknowledged entries, %d were acknowledged\n%s", n, len(want), said)
	}
	if extra != 0 && extra != len(faultRecs(inFlight)) {
		t.Fatalf("%d of the %d records of call %d, in flight when the child was killed, are in the log\n%s",
			extra, len(faultRecs(inFlight)), inFlight, said)
	}
	last, _ := l.Last()
	if seqs, err := l.Append(context.Background(), Record{Payload: []byte(`{"after":1}`)}); err != nil || seqs[0] != last+1 {
		t.Fatalf("Append after reopening = %v, %v", seqs, err)
	}
}

// faultChild returns the command that runs the fault scenario in a child.
func faultChild(dir string, d Durability, segSize int, fsize int64, wrap ...string) *exec.Cmd {
	args := append(wrap, os.Args[0], "-test.run=^$")
	cmd := exec.Command(args[0], args[1:]...)
	// The race detector sleeps a second at exit by default: not here.
	cmd.Env = append(os.Environ(), childEnv+"="+fmt.Sprintf("fault:%s:%d:%d", d, segSize, fsize), "SLUICE_LOG_TEST_DIR="+dir,
		"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
	cmd.Stderr = os.Stderr
	return cmd
}

// faultDir returns a new directory for a fault child's log: on a tmpfs
// when there is one (/dev/shm), where fsync costs nothing — these tests
// run hundreds of children and check what the log does when calls fail,
// not what the disk keeps.
func faultDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "sluice-fault-"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// longFaults reports whether the long fault runs were asked for (make
// fault): every byte offset, every syscall in every mode.
func longFaults() bool { return os.Getenv("SLUICE_LONG_FAULTS") != "" }

// TestFileSizeLimit fails the scenario's writes at every byte offset (a
// file size limit: the write that crosses it is partial, the next one
// fails, as on a full disk), in each durability mode: Append returns an
// error and keeps nothing of its call, the log goes on, and reopened it
// holds exactly the acknowledged entries.
func TestFileSizeLimit(t *testing.T) {
	step := 101
	switch {
	case longFaults():
		step = 1
	case testing.Short():
		step = 211
	}
	for _, d := range []Durability{SyncAlways, SyncGroup, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			fails := 0
			for limit := int64(200); limit < 1900; limit += int64(step) {
				dir := faultDir(t)
				out, err := faultChild(dir, d, 1024, limit).Output()
				if err != nil {
					t.Fatalf("limit %d: child: %v", limit, err)
				}
				res := parseFault(t, out)
				fails += len(res.failed)
				checkFaultLog(t, dir, res, 0)
			}
			if fails == 0 {
				t.Fatal("no Append failed: the limits did not reach the log")
			}
		})
	}
}
