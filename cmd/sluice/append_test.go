package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
)

// TestAppendStdinOver64MiB: 70,000 JSON lines of 1 KB (73 MB, each far
// under the 16 MiB limit) on standard input are all appended, in order,
// in several atomic appends. (Before: "record too large: 70000 records take
// 72998890 bytes, limit 67108864 per call (Options.MaxBatchSize)".)
func TestAppendStdinOver64MiB(t *testing.T) {
	dir := t.TempDir()
	const n = 70000
	var in strings.Builder
	pad := strings.Repeat("z", 1000)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&in, `{"i":%d,"pad":"%s"}`+"\n", i, pad)
	}
	out := ok(t, dir, in.String(), "append", "--local", "--durability", "none")
	if got := strings.Count(out, "\n"); got != n {
		t.Errorf("printed %d seqs, want %d", got, n)
	}
	es := readLogEntries(t, dir)
	if len(es) != n {
		t.Fatalf("the log holds %d entries, want %d", len(es), n)
	}
	for i, e := range es {
		if want := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, pad); string(e.Payload) != want || e.Origin != log.Local {
			t.Fatalf("entry %d: %.40q (%v), want %.40q, local", i+1, e.Payload, e.Origin, want)
		}
	}
}

// TestSplitAppends: records are cut into runs, in order, none over the
// limit counted high (payload, scope and 64 bytes each), and a record alone
// over it is a run of its own (Append then refuses it, naming it).
func TestSplitAppends(t *testing.T) {
	rec := func(n int) log.Record { return log.Record{Payload: make([]byte, n)} }
	for _, c := range []struct {
		sizes []int
		max   int
		want  []int // records per run
	}{
		{[]int{36}, 100, []int{1}},
		{[]int{36, 36}, 200, []int{2}},
		{[]int{36, 36, 36}, 200, []int{2, 1}},
		{[]int{136, 1, 1000, 1}, 200, []int{1, 1, 1, 1}},
		{[]int{10, 10, 10, 10, 10}, 148, []int{2, 2, 1}},
	} {
		var recs []log.Record
		for _, s := range c.sizes {
			recs = append(recs, rec(s))
		}
		runs := splitAppends(recs, c.max)
		var got []int
		i := 0
		for _, r := range runs {
			got = append(got, len(r))
			for _, x := range r {
				if &x.Payload[0] != &recs[i].Payload[0] {
					t.Fatalf("sizes %v: run holds record out of order", c.sizes)
				}
				i++
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) || i != len(recs) {
			t.Errorf("splitAppends(%v, %d) = runs of %v, want %v", c.sizes, c.max, got, c.want)
		}
	}
}

// TestAppendWaitUnknownViewAppendsNothing: a --wait-view that names no
// view is refused before anything is appended (exit 2, naming the views
// there are), as is --wait-view without --wait. (Before: the entry was
// appended, then the wait failed, so a script retrying on failure appended
// it twice.)
func TestAppendWaitUnknownViewAppendsNothing(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "append", "--json", `{"x":1}`)
	ok(t, dir, "", "index")
	for _, args := range [][]string{
		{"--wait", "--wait-view", "nosuch"},
		{"--wait", "--wait-view", "ssb", "--wait-view", "nosuch"},
		{"--wait-view", "ssb"},
	} {
		r := sluice(t, dir, "", append(append([]string{"append", "--local"}, args...), "--json", `{"x":2}`)...)
		if r.code != 2 || !strings.Contains(r.err, "--wait-view") {
			t.Errorf("append %v: exit %d, %q; want exit 2 naming --wait-view", args, r.code, r.err)
		}
		if got := len(readLogEntries(t, dir)); got != 1 {
			t.Fatalf("append %v failed but the log went from 1 to %d entries", args, got)
		}
	}
	r := sluice(t, dir, "", "append", "--local", "--wait", "--wait-view", "nosuch", "--json", `{"x":2}`)
	if !strings.Contains(r.err, "its views: ssb") {
		t.Errorf("the refusal does not name the views there are: %q", r.err)
	}
	// A view that exists: appended, and waited for (the wait times out at
	// once, no indexer runs: exit 1, but the entry is there).
	sluice(t, dir, "", "append", "--local", "--wait", "--wait-view", "ssb", "--timeout", "0", "--json", `{"x":3}`)
	if got := len(readLogEntries(t, dir)); got != 2 {
		t.Fatalf("append --wait-view ssb: the log holds %d entries, want 2", got)
	}
}

// TestAppendWaitsForTheLock: a sluice append started while another
// process holds the log's lock for longer than 5 s (what append used to
// wait before failing with ErrLocked: 10 of 150 appends by 30 concurrent
// processes failed) appends once the lock is released. The test holds the
// lock itself, for 6 s: the duration is what is tested.
func TestAppendWaitsForTheLock(t *testing.T) {
	if testing.Short() {
		t.Skip("holds a lock for 6 s")
	}
	dir := t.TempDir()
	ok(t, dir, "", "append", "--json", `{"init":true}`)
	lock, err := fsutil.Lock(filepath.Join(dir, "log", "LOCK"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := sluiceCmd(dir, "append", "--local", "--json", `{"x":1}`)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err := <-exited:
		t.Fatalf("append exited while the lock was held: %v: %s", err, errOut.String())
	case <-time.After(6 * time.Second):
	}
	lock.Unlock()
	select {
	case err := <-exited:
		if err != nil || strings.TrimSpace(out.String()) != "2" {
			t.Fatalf("append after the lock was released: %v, printed %q: %s", err, out.String(), errOut.String())
		}
	case <-time.After(time.Minute):
		cmd.Process.Kill()
		t.Fatal("append did not finish within a minute of the lock's release")
	}
	if es := readLogEntries(t, dir); len(es) != 2 || string(es[1].Payload) != `{"x":1}` {
		t.Fatalf("the log holds %d entries", len(es))
	}
}

// TestAppendFindsSocketWhileWaiting: an append that found the log held by
// a writer with no local socket yet (a server starting) appends through
// the socket as soon as it is up, instead of waiting out the lock, which
// that writer never releases.
func TestAppendFindsSocketWhileWaiting(t *testing.T) {
	dir := t.TempDir()
	ok(t, dir, "", "append", "--json", `{"init":true}`)
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	waiting := filepath.Join(t.TempDir(), "waiting")
	cmd := sluiceCmd(dir, "append", "--local", "--json", `{"x":1}`)
	cmd.Env = append(cmd.Env, lockWaitingEnv+"="+waiting)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(waiting); err == nil {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("append exited before waiting for the lock: %v: %s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("append did not start waiting for the lock within 30 s")
		}
	}
	ln, err := replicate.ListenLocal(filepath.Join(dir, replicate.LocalSocketName))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: replicate.LocalHandler(l)}
	go srv.Serve(ln)
	defer srv.Close()
	select {
	case err := <-exited:
		if err != nil || strings.TrimSpace(out.String()) != "2" {
			t.Fatalf("append through the socket: %v, printed %q: %s", err, out.String(), errOut.String())
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatal("append did not use the socket within 30 s of it coming up")
	}
	it, err := l.Iter(2)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if !it.Next() || string(it.Entry().Payload) != `{"x":1}` || it.Entry().Origin != log.Local {
		t.Fatalf("seq 2 is not the appended entry (err %v)", it.Err())
	}
}
