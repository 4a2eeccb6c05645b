package index_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

// The crash tests re-run this test binary as a child process that makes
// Transacts until it is killed with SIGKILL.
const childEnv = "SLUICE_INDEX_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(childEnv); role != "" {
		if err := runChild(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// batchRecords is how many records each of the child's Transacts stages.
const batchRecords = 4

// runChild is the child's main; role is "transact:DIR:DURABILITY:STOP:N".
// It runs an indexer over DIR's log and views and makes Transacts of
// batchRecords records each — a timer start (checked) and notes, their
// device "bN.I" — printing "batch N" after each. With STOP "staged" it
// stops inside the N-th Transact once its records are staged; with
// "appended" once the N-th is appended and the views are not committed:
// it prints "at STOP" and waits to be killed.
func runChild(role string) error {
	parts := strings.Split(role, ":")
	if len(parts) != 5 || parts[0] != "transact" {
		return fmt.Errorf("unknown role %q", role)
	}
	dir, stop := parts[1], parts[3]
	d, err := log.ParseDurability(parts[2])
	if err != nil {
		return err
	}
	target, _ := strconv.Atoi(parts[4])
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: d})
	if err != nil {
		return err
	}
	v, err := sqlview.Load("testdata/timers.sql")
	if err != nil {
		return err
	}
	var files []*view.File
	for _, fv := range []struct {
		name string
		v    view.View
	}{{"timers.db", v}, {"app.db", &failing{KV: viewtest.KV{ViewName: "kv", ViewVersion: 1}}}} {
		f, err := view.OpenFile(filepath.Join(dir, fv.name), []view.View{fv.v}, view.Options{Logf: func(string, ...any) {}})
		if err != nil {
			return err
		}
		files = append(files, f)
	}
	ix, err := index.New(l, files, index.Options{})
	if err != nil {
		return err
	}
	ctx := context.Background()
	go ix.Run(ctx)
	n := 0
	wait := func() { fmt.Println("at " + stop); select {} }
	index.SetAppendedHook(func() {
		if stop == "appended" && n == target {
			wait()
		}
	})
	for n = 1; ; n++ {
		_, err := ix.Transact(ctx, func(tx *index.Tx) error {
			owner := fmt.Sprintf("user:%d", n%3)
			if _, err := start(ctx, tx, owner, fmt.Sprintf("b%d.0", n)); err != nil {
				return err
			}
			for i := 1; i < batchRecords; i++ {
				op := "note"
				if i == batchRecords-1 && n%2 == 0 {
					op = "stop"
				}
				if err := tx.Stage(timerRecord(op, owner, fmt.Sprintf("b%d.%d", n, i), false)); err != nil {
					return err
				}
			}
			if stop == "staged" && n == target {
				wait()
			}
			return nil
		})
		if err != nil {
			return err
		}
		fmt.Printf("batch %d\n", n)
	}
}

// startChild starts the child and returns it and its output lines.
func startChild(t *testing.T, dir string, d log.Durability, stop string, n int) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=transact:%s:%s:%s:%d", childEnv, dir, d, stop, n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("child's stderr:\n%s", stderr.String())
		}
	})
	return cmd, bufio.NewScanner(out)
}

// waitLine reads the child's output until a line equal to want, within a
// minute.
func waitLine(t *testing.T, sc *bufio.Scanner, want string) {
	t.Helper()
	found := make(chan bool, 1)
	go func() {
		for sc.Scan() {
			if sc.Text() == want {
				found <- true
				return
			}
		}
		found <- false
	}()
	select {
	case ok := <-found:
		if !ok {
			t.Fatalf("the child ended before printing %q", want)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the child did not print %q within a minute", want)
	}
}

var batchDevice = regexp.MustCompile(`^b(\d+)\.(\d+)$`)

// batchesInLog decodes the log's entries and checks that every batch the
// child appended is whole: its records 0..batchRecords-1 at consecutive
// seqs. It returns the highest batch in the log.
func batchesInLog(t *testing.T, l *log.Log) int {
	t.Helper()
	it, err := l.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	last, want := 0, 0 // the batch being read, and its next record
	var seq log.Seq
	for it.Next() {
		e := it.Entry()
		var op timerOp
		if err := json.Unmarshal(e.Payload, &op); err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
		m := batchDevice.FindStringSubmatch(op.Device)
		if m == nil {
			t.Fatalf("seq %d: device %q is not one of the child's", e.Seq, op.Device)
		}
		b, i := atoi(m[1]), atoi(m[2])
		switch {
		case i == 0 && want == 0 && b == last+1:
			last = b
		case b == last && i == want && e.Seq == seq+1:
		default:
			t.Fatalf("seq %d holds record %d of batch %d; want record %d of batch %d (or the next batch's first)", e.Seq, i, b, want, last)
		}
		seq = e.Seq
		want = (i + 1) % batchRecords
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if want != 0 {
		t.Fatalf("batch %d ends after %d of its %d records", last, want, batchRecords)
	}
	return last
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

// tearAt cuts the log's last segment where the record of device dev
// starts its payload: a write torn in the middle of that record's batch.
func tearAt(t *testing.T, dir, dev string) {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(dir, "log", "[0-9]*"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no segments in %s: %v", dir, err)
	}
	seg := segs[len(segs)-1]
	data, err := os.ReadFile(seg)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(data, []byte(`"device":"`+dev+`"`))
	if i < 0 {
		t.Fatalf("%s holds no record of %s", seg, dev)
	}
	if err := os.Truncate(seg, int64(i)); err != nil {
		t.Fatal(err)
	}
}

// TestTransactKill kills a process in the middle of a Transact — its
// records staged in the views, or appended to the log with the views not
// committed, or at a moment that depends on the machine — and, for a log
// written without fsync, tears the log in the middle of a batch as a
// power loss would: after a restart the log holds each batch whole or not
// at all, checks saw everything before them, and the views equal a rebuild
// from the log.
func TestTransactKill(t *testing.T) {
	const target = 5
	cases := []struct {
		name    string
		d       log.Durability
		stop    string
		tear    string // device of the record to tear the log at
		batches int    // whole batches left in the log
	}{
		{"staged", log.SyncAlways, "staged", "", target - 1},
		{"appended", log.SyncAlways, "appended", "", target},
		{"anytime", log.SyncAlways, "anytime", "", -1},
		{"torn uncommitted batch", log.SyncNone, "appended", fmt.Sprintf("b%d.2", target), target - 1},
		{"torn committed batch", log.SyncNone, "appended", fmt.Sprintf("b%d.2", target-1), target - 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			cmd, sc := startChild(t, dir, c.d, c.stop, target)
			if c.stop == "anytime" {
				waitLine(t, sc, fmt.Sprintf("batch %d", target))
			} else {
				waitLine(t, sc, "at "+c.stop)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			cmd.Wait()
			if c.tear != "" {
				tearAt(t, dir, c.tear)
			}
			env := openTransactEnv(t, dir, log.SyncAlways)
			if c.tear != "" && len(env.l.Repairs()) == 0 {
				t.Fatal("the torn log opened with no repair")
			}
			got := batchesInLog(t, env.l)
			if c.batches >= 0 && got != c.batches {
				t.Fatalf("the log holds %d whole batches, want %d", got, c.batches)
			}
			if c.batches < 0 && got < target {
				t.Fatalf("the log holds %d batches, want at least %d", got, target)
			}
			replay(t, env.l)
			env.checkRebuild(t)
		})
	}
}
