package log

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The tests here run a child under strace: to fail one of its system calls
// (strace -e inject), or to record when its writes reach the disk (fsync).

// needStrace returns strace's path, or skips the test saying why. CI
// installs strace (.ci/run).
func needStrace(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("strace")
	if err != nil {
		t.Skip("SKIPPED: strace is not installed; this test injects faults and checks fsyncs with it (apt-get install strace)")
	}
	if out, err := exec.Command(p, "-qq", "-o", "/dev/null", "true").CombinedOutput(); err != nil {
		t.Skipf("SKIPPED: strace cannot trace here (ptrace not permitted?): %v: %s", err, out)
	}
	return p
}

// sysEvent is one system call in an strace -f -y log.
type sysEvent struct {
	pid        int
	name       string
	args       string // as strace printed them
	ret        string // after "= "
	start, end int    // line numbers where it began and ended
	injected   bool
}

var (
	traceCall    = regexp.MustCompile(`^(?:(\d+) +)?([a-z0-9_]+)\((.*)$`)
	traceResumed = regexp.MustCompile(`^(?:(\d+) +)?<\.\.\. ([a-z0-9_]+) resumed>(.*)$`)
	traceResult  = regexp.MustCompile(`\) +=  ?(.*)$`)
)

// readTrace parses the output of strace -f -y -o FILE (lines start with
// the thread's id), or of one thread's file with -ff: each event with the
// lines where it started and ended (a call another thread interrupted is
// printed "<unfinished ...>" and resumed later).
func readTrace(t *testing.T, path string) []sysEvent {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sysEvent
	open := map[int]int{} // pid -> index in out of its unfinished call
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	finish := func(e *sysEvent, rest string, line int) {
		e.end = line
		if m := traceResult.FindStringSubmatchIndex(rest); m != nil {
			e.args += rest[:m[0]]
			e.ret = rest[m[2]:m[3]]
		}
		e.injected = strings.Contains(rest, "(INJECTED)")
	}
	for line := 1; sc.Scan(); line++ {
		s := sc.Text()
		if m := traceResumed.FindStringSubmatch(s); m != nil {
			pid, _ := strconv.Atoi(m[1])
			if i, ok := open[pid]; ok {
				finish(&out[i], m[3], line)
				delete(open, pid)
			}
			continue
		}
		m := traceCall.FindStringSubmatch(s)
		if m == nil {
			continue // signals, exits
		}
		pid, _ := strconv.Atoi(m[1])
		e := sysEvent{pid: pid, name: m[2], start: line}
		if rest, ok := strings.CutSuffix(m[3], " <unfinished ...>"); ok {
			e.args = rest
			open[pid] = len(out)
		} else {
			finish(&e, m[3], line)
		}
		out = append(out, e)
	}
	return out
}

// fdPath returns the path strace -y printed for the first fd argument.
func (e sysEvent) fdPath() string {
	i := strings.IndexByte(e.args, '<')
	j := strings.IndexByte(e.args, '>')
	if i < 0 || j < i {
		return ""
	}
	return e.args[i+1 : j]
}

var (
	quoted  = regexp.MustCompile(`"([^"]*)"`)
	tmpName = regexp.MustCompile(`\.tmp[0-9]+`)
)

// target names what the call works on, the same in every run: its fd's
// path, or for openat and renameat the paths it names, with dir written
// DIR and temporary names' random digits dropped.
func (e sysEvent) target(dir string) string {
	s := e.fdPath()
	if strings.HasPrefix(e.args, "AT_FDCWD") {
		var paths []string
		for _, m := range quoted.FindAllStringSubmatch(e.args, -1) {
			paths = append(paths, m[1])
		}
		s = strings.Join(paths, " -> ")
	}
	s = strings.ReplaceAll(s, dir, "DIR")
	return e.name + "(" + tmpName.ReplaceAllString(s, ".tmp") + ")"
}

// inDir reports whether the call touches dir or a file in it.
func (e sysEvent) inDir(dir string) bool {
	return strings.Contains(e.args, dir+"/") || strings.Contains(e.args, "<"+dir+">") || strings.Contains(e.args, "\""+dir+"\"")
}

// injections lists, per system call, the errno strace fails it with.
var injections = []struct{ name, errno string }{
	{"write", "ENOSPC"},    // tidwall/wal's segment writes, the temporary files of NODE, HEAD, FORMAT, LASTOPEN
	{"pwrite64", "ENOSPC"}, // the mark
	{"fsync", "EIO"},       // segments, temporary files, the directory (a new segment's entry)
	{"renameat", "ENOSPC"}, // NODE, HEAD, FORMAT, LASTOPEN into place
	{"openat", "ENOSPC"},   // a new segment, a temporary file, the directory for its fsync
}

// TestSyscallFaults fails, one run at a time, each write, pwrite, fsync,
// rename and open that the fault scenario (creating a log, twelve Appends
// over several segments, Close) makes in the log's directory, with ENOSPC
// or EIO. After each: the failure was reported (the Append, Open or Close
// failed), the log went on (every later Append succeeded), and reopened it
// holds every acknowledged entry and none of a failed call's.
func TestSyscallFaults(t *testing.T) {
	strace := needStrace(t)
	modes := []Durability{SyncAlways}
	if longFaults() {
		modes = append(modes, SyncNone)
	}
	traced := "write,pwrite64,fsync,renameat,openat,ftruncate,writev"
	for _, d := range modes {
		t.Run(d.String(), func(t *testing.T) {
			// A dry run lists the scenario's calls on its thread, in order:
			// strace counts calls per thread, and the scenario runs on one.
			dir := faultDir(t)
			prefix := filepath.Join(t.TempDir(), "trace")
			out, err := faultChild(dir, d, 1024, 0, strace, "-f", "-ff", "-y", "-qq", "-o", prefix, "-e", "trace="+traced).Output()
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			res := parseFault(t, out)
			if len(res.acked) != faultCalls {
				t.Fatalf("dry run: %s", strings.Join(res.lines, "\n"))
			}
			events := readTrace(t, prefix+"."+strconv.Itoa(res.tid))
			runs := 0
			for _, inj := range injections {
				n := 0
				for _, e := range events {
					if e.name != inj.name {
						continue
					}
					n++
					// CLOSED is best effort: reading or writing it may
					// fail at no cost but a scan at the next open.
					if !e.inDir(dir) || strings.Contains(e.args, "/"+closedFile+"\"") {
						continue
					}
					runs++
					t.Run(fmt.Sprintf("%s-%d", inj.name, n), func(t *testing.T) {
						injectOne(t, strace, d, inj.name, inj.errno, n, e, dir)
					})
				}
			}
			if runs < 40 {
				t.Fatalf("only %d calls to fail: the dry run's trace is not what the test expects", runs)
			}
		})
	}
}

// injectOne runs the fault scenario failing the n-th call named name on its
// thread (the dry run's want) and checks what follows.
func injectOne(t *testing.T, strace string, d Durability, name, errno string, n int, want sysEvent, wantDir string) {
	dir := faultDir(t)
	prefix := filepath.Join(t.TempDir(), "trace")
	out, err := faultChild(dir, d, 1024, 0, strace, "-f", "-ff", "-y", "-qq", "-o", prefix,
		"-e", "trace="+name+",writev", "-e", fmt.Sprintf("inject=%s:error=%s:when=%d", name, errno, n)).Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	res := parseFault(t, out)
	said := "child said:\n" + strings.Join(res.lines, "\n")
	events := readTrace(t, prefix+"."+strconv.Itoa(res.tid))
	hit := -1
	for i, e := range events {
		if e.injected {
			hit = i
			break
		}
	}
	if hit < 0 || events[hit].target(dir) != want.target(wantDir) {
		got := "nothing"
		if hit >= 0 {
			got = events[hit].target(dir)
		}
		t.Fatalf("failed %s, want %s as in the dry run (is the scenario's thread deterministic?)\n%s", got, want.target(wantDir), said)
	}
	// The failure is reported by the operation it hit: the next report
	// is not an acknowledgement — or, for the mark (which may lag), Close
	// reports it.
	next := ""
	for _, e := range events[hit+1:] {
		if e.name == "writev" && strings.Contains(e.args, "iov_base=\"") {
			next = e.args[strings.Index(e.args, "iov_base=\"")+10:]
			break
		}
	}
	closeErr := !strings.Contains(strings.Join(res.lines, "\n"), "close ok")
	if strings.HasPrefix(next, "ack") && !(name == "pwrite64" && closeErr) {
		t.Fatalf("%s(%s) failed with %s and the next report is %q\n%s", name, events[hit].args, errno, next, said)
	}
	// One failure, and the log goes on: every call after a failed one
	// succeeds.
	failedAt := faultCalls + 1
	for c := range res.failed {
		failedAt = min(failedAt, c)
	}
	if len(res.failed) > 1 || (len(res.failed) == 1 && len(res.acked) != faultCalls-1) {
		t.Fatalf("after the failure of call %d the log did not go on\n%s", failedAt, said)
	}
	checkFaultLog(t, dir, res, 0)
}

// TestKillAtSyscall kills the fault scenario's child with SIGKILL (strace
// delivers it as the call starts) at each write, pwrite, fsync, rename and
// open in the log's directory while it creates the log — and, with
// SLUICE_LONG_FAULTS, through every Append too. Reopened, the log holds
// every acknowledged call, the call in flight whole or not at all, and
// takes appends: a crash in the middle of creating a log does not brick it.
func TestKillAtSyscall(t *testing.T) {
	strace := needStrace(t)
	dir := faultDir(t)
	prefix := filepath.Join(t.TempDir(), "trace")
	out, err := faultChild(dir, SyncAlways, 1024, 0, strace, "-f", "-ff", "-y", "-qq", "-o", prefix,
		"-e", "trace=write,pwrite64,fsync,renameat,openat,writev").Output()
	if err != nil {
		t.Fatalf("dry run: %v", err)
	}
	res := parseFault(t, out)
	events := readTrace(t, prefix+"."+strconv.Itoa(res.tid))
	counts := map[string]int{}
	runs := 0
	for _, e := range events {
		counts[e.name]++
		if e.name == "writev" && strings.Contains(e.args, `"ack 1 `) && !longFaults() {
			break // the short version: creating the log
		}
		if e.name == "writev" || !e.inDir(dir) {
			continue
		}
		runs++
		n := counts[e.name]
		t.Run(fmt.Sprintf("%s-%d", e.name, n), func(t *testing.T) {
			kdir := faultDir(t)
			out, _ := faultChild(kdir, SyncAlways, 1024, 0, strace, "-f", "-qq", "-o", "/dev/null",
				"-e", "trace="+e.name, "-e", fmt.Sprintf("inject=%s:signal=KILL:when=%d", e.name, n)).Output()
			res := parseFault(t, out)
			if strings.Contains(string(out), "close ") {
				t.Fatalf("the child was not killed at %s\n%s", e.target(dir), out)
			}
			checkFaultLog(t, kdir, res, len(res.acked)+1)
		})
	}
	if runs < 20 {
		t.Fatalf("only %d calls to kill at", runs)
	}
}

// durableCalls is how many Appends each worker of the durable child makes.
const durableCalls = 25

// runDurable is the durable child: it appends with durability d from
// workers goroutines, reporting "ack SEQ" (the last seq of each Append) as
// soon as Append returns, then closes the log.
func runDurable(dir string, d Durability, workers int) int {
	l, err := Open(dir, Options{Durability: d, SegmentSize: 1024})
	if err != nil {
		report("open-failed %v", oneLine(err))
		return 1
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := 1; c <= durableCalls; c++ {
				seqs, err := l.Append(context.Background(), faultRecs(w*100+c)...)
				if err != nil {
					report("fail %v", oneLine(err))
					return
				}
				report("ack %d", seqs[len(seqs)-1])
			}
		}()
	}
	wg.Wait()
	report("close %v", oneLine(l.Close()))
	return 0
}

// TestFsyncDurable proves what each durability mode promises from an
// strace of a child appending: at the moment each Append is acknowledged
// (the child's report, a writev to stdout), it computes what a power loss
// would leave — only the bytes written to a segment before that segment's
// last fsync, and a new segment only once its directory was fsynced after
// it was created — and reads the entries in it. In sync and group every
// acknowledged entry is durable when it is acknowledged; in none some are
// not (so the test tells the modes apart: making the fsync a no-op fails
// it).
func TestFsyncDurable(t *testing.T) {
	strace := needStrace(t)
	for _, c := range []struct {
		d       Durability
		workers int
	}{{SyncAlways, 1}, {SyncGroup, 3}, {SyncNone, 1}} {
		t.Run(c.d.String(), func(t *testing.T) {
			dir := faultDir(t)
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(strace, "-f", "-y", "-qq", "-s", "64", "-o", trace,
				"-e", "trace=write,writev,pwrite64,fsync,fdatasync,openat", os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+fmt.Sprintf("durable:%s:%d", c.d, c.workers), "SLUICE_LOG_TEST_DIR="+dir,
				"GORACE=atexit_sleep_ms=0 "+os.Getenv("GORACE"))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil || !strings.Contains(string(out), "close ok") {
				t.Fatalf("child: %v\n%s", err, out)
			}
			events := readTrace(t, trace)
			acks, lost := 0, 0
			for _, e := range events {
				i := strings.Index(e.args, `iov_base="ack `)
				if e.name != "writev" || i < 0 {
					continue
				}
				var seq Seq
				fmt.Sscanf(e.args[i+len(`iov_base="ack `):], "%d", &seq)
				durable := durableAt(t, events, dir, e.start)
				acks++
				if seq > durable {
					lost++
					if c.d != SyncNone {
						b, _ := os.ReadFile(trace)
						lines := strings.Split(string(b), "\n")
						t.Fatalf("seq %d acknowledged at trace line %d, but only seqs up to %d would survive a power loss then; the trace:\n%s",
							seq, e.start, durable, strings.Join(lines[max(0, e.start-40):e.start], "\n"))
					}
				}
			}
			if acks != c.workers*durableCalls {
				t.Fatalf("found %d acknowledgements in the trace, want %d", acks, c.workers*durableCalls)
			}
			if c.d == SyncNone && lost == 0 {
				t.Fatal("with durability none every acknowledged entry was durable at once: the test cannot tell the modes apart")
			}
			t.Logf("%d acknowledgements, %d of them not yet durable when made", acks, lost)
		})
	}
}

// durableAt returns the last seq that a power loss at trace line at would
// keep: segments in seq order, as long as each was created, had its
// directory fsynced since, and holds (among the bytes written before its
// last fsync) whole records up to its end.
func durableAt(t *testing.T, events []sysEvent, dir string, at int) Seq {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	var last Seq
	for _, s := range segs {
		created := -1
		for _, e := range events {
			if e.name == "openat" && e.end < at && strings.Contains(e.args, "\""+s.path+"\"") && strings.Contains(e.args, "O_CREAT") {
				created = e.end
				break
			}
		}
		entered := false
		for _, e := range events {
			if e.name == "fsync" && e.fdPath() == dir && e.start > created && e.end < at && e.ret == "0" {
				entered = true
			}
		}
		if created < 0 || !entered {
			return last
		}
		// The bytes written before the latest fsync that ended before at.
		synced := -1
		for _, e := range events {
			if (e.name == "fsync" || e.name == "fdatasync") && e.fdPath() == s.path && e.end < at && e.ret == "0" {
				synced = max(synced, e.start)
			}
		}
		n := 0
		for _, e := range events {
			if e.name == "write" && e.fdPath() == s.path && e.end < synced {
				k, _ := strconv.Atoi(e.ret)
				n += max(k, 0)
			}
		}
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		data = data[:min(n, len(data))]
		off := 0
		for off < len(data) {
			size, k := uvarint(data[off:])
			if k <= 0 || off+k+int(size) > len(data) || size < headerSize {
				return last // the segment's durable bytes end inside a record
			}
			last = recordSeq(data[off+k:])
			off += k + int(size)
		}
		if fi, err := os.Stat(s.path); err != nil || int64(n) < fi.Size() {
			return last // a later segment cannot follow a partly durable one
		}
	}
	return last
}
