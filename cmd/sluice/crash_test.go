package main

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
)

// A child watched through its stats: sluice index with --stats-file on a
// pipe, sampled every millisecond, so that a test sees which phase the SSB
// view file is in as it happens and can aim a kill at it.

// watchedChild is a running sluice process and what it reports.
type watchedChild struct {
	cmd *exec.Cmd
	// samples are the --stats-file lines as they come; closed when the
	// child has exited (its end of the pipe closed).
	samples chan statsSample
	// exited receives the child's exit error once, after its stderr is
	// drained; stderr holds it.
	exited chan error
	stderr *bytes.Buffer
}

// startWatched starts sluice with args, and --stats-file writing to a pipe
// this process reads.
func startWatched(t *testing.T, dir string, args ...string) *watchedChild {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "--stats-file", "/dev/fd/3", "--stats-every", "1ms")
	cmd := exec.Command(os.Args[0], append([]string{"--dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_TEST_MAIN=1")
	cmd.ExtraFiles = []*os.File{w} // fd 3 in the child
	c := &watchedChild{cmd: cmd, samples: make(chan statsSample, 1024), exited: make(chan error, 1), stderr: new(bytes.Buffer)}
	cmd.Stderr = c.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill() })
	go func() {
		defer r.Close()
		defer close(c.samples)
		sc := bufio.NewScanner(r)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var s statsSample
			if json.Unmarshal(sc.Bytes(), &s) == nil {
				c.samples <- s
			}
		}
	}()
	go func() { c.exited <- cmd.Wait() }()
	return c
}

// until reads the child's samples until stop returns true for one (it
// reports true) or the child has exited (false); it fails t if neither
// happens within 2 minutes.
func (c *watchedChild) until(t *testing.T, stop func(statsSample) bool) bool {
	t.Helper()
	timeout := time.After(2 * time.Minute)
	for {
		select {
		case s, ok := <-c.samples:
			if !ok {
				return false
			}
			if stop(s) {
				return true
			}
		case <-timeout:
			c.cmd.Process.Kill()
			t.Fatalf("sluice %v: no end and no sample of what the test waits for within 2 minutes", c.cmd.Args[1:])
		}
	}
}

// wait waits (bounded) for the child to exit, and for its last samples,
// and returns its exit error.
func (c *watchedChild) wait(t *testing.T) error {
	t.Helper()
	c.until(t, func(statsSample) bool { return false }) // the pipe closes when the child exits
	select {
	case err := <-c.exited:
		return err
	case <-time.After(2 * time.Minute):
		c.cmd.Process.Kill()
		t.Fatalf("sluice %v did not exit within 2 minutes", c.cmd.Args[1:])
		return nil
	}
}

// ssbPhase names what a sample says the SSB view file is doing: "backlog",
// "index N" (building the N-th of its indexes, from 0), "done" (caught up)
// or "" (no SSB file in the sample, or idle).
func ssbPhase(s statsSample) string {
	for _, f := range s.Files {
		if filepath.Base(f.Path) != "ssb.db" {
			continue
		}
		switch f.Phase {
		case "backlog":
			return "backlog"
		case "indexes":
			return fmt.Sprintf("index %d", f.Index)
		case "caught-up":
			return "done"
		}
	}
	return ""
}

// ssbIndexNames are the SSB view set's indexes, in the order it builds
// them (view/ssb Indexes): the first step also folds the deferred contacts
// and abouts, the last removes copies of messages.
var ssbIndexNames = []string{"contacts_contact", "messages_author_sequence", "messages_type", "links_to_key", "messages_key"}

// ssbDiskState is what an SSB view file holds after a kill.
type ssbDiskState struct {
	phase   string // the phase whose work was lost: "backlog", "index N", "done"
	pending int    // rows in contacts_abouts_pending
	copies  int    // messages rows whose key an earlier row has
}

// readSSBState reads the SSB view file in dir, through database/sql, and
// says which phase was interrupted: the backlog while since is short of
// the log's last seq; else "index N" with N of its indexes committed.
func readSSBState(t *testing.T, dir string, last int) ssbDiskState {
	t.Helper()
	path := filepath.Join(dir, "views", "ssb.db")
	if !fileExists(path) {
		return ssbDiskState{phase: "backlog"}
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var since int
	if err := db.QueryRow(`SELECT since FROM sluice_views WHERE name = 'ssb'`).Scan(&since); err != nil || since < last {
		return ssbDiskState{phase: "backlog"} // no view yet, or short of the end
	}
	var st ssbDiskState
	var built int
	q := `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('` + strings.Join(ssbIndexNames, "', '") + `')`
	if err := db.QueryRow(q).Scan(&built); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT (SELECT count(*) FROM contacts_abouts_pending), (SELECT count(*) - count(DISTINCT key) FROM messages)`).Scan(&st.pending, &st.copies); err != nil {
		t.Fatal(err)
	}
	st.phase = "done"
	if built < len(ssbIndexNames) {
		st.phase = fmt.Sprintf("index %d", built)
	}
	return st
}

// check fails t unless the state is what the interrupted phase leaves when
// its transaction is rolled back: contacts and abouts still deferred before
// the first index is committed, copies of messages kept until the last.
func (st ssbDiskState) check(t *testing.T) {
	t.Helper()
	var bad bool
	switch st.phase {
	case "backlog":
	case "index 0":
		bad = st.pending == 0 || st.copies == 0
	case "done":
		bad = st.pending != 0 || st.copies != 0
	default: // index 1 to 4
		bad = st.pending != 0 || st.copies == 0
	}
	if bad {
		t.Fatalf("after a kill during %s: %d rows still pending, %d copies of messages", st.phase, st.pending, st.copies)
	}
}

// phaseTimes returns, from the samples of an uninterrupted run, how long
// each SSB phase lasted: from its first sample to the first of another.
func phaseTimes(samples []statsSample) map[string]time.Duration {
	out := map[string]time.Duration{}
	cur, start := "", int64(0)
	for _, s := range samples {
		p := ssbPhase(s)
		if p == cur || p == "" {
			continue
		}
		if cur != "" {
			out[cur] = time.Duration(s.TMillis-start) * time.Millisecond
		}
		cur, start = p, s.TMillis
	}
	return out
}

// TestIndexCrash kills sluice index with SIGKILL in every phase the SSB
// view goes through — the backlog, and after it each index build: the
// first folding the contacts and abouts a catch-up defers, the last
// removing copies of messages — and restarts it. It follows the SSB file's
// phase in the child's stats and kills at a random point of the phase it
// aims at; after each kill the file on disk tells which phase was
// interrupted, and that phase's work must be wholly rolled back. Every
// phase must be hit; the final views equal an uninterrupted build, table
// by table and row by row.
func TestIndexCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("kills processes")
	}
	const (
		n            = 60000
		backlogKills = 10
	)
	payloads := ssbtest.Generate(ssbtest.Options{Seed: 4, Messages: n, Authors: 20, Copies: 0.01, Indented: 0.05})
	indexArgs := append([]string{"index"}, sqlViews...)

	// The uninterrupted build, timed phase by phase.
	ref := t.TempDir()
	writeLog(t, ref, payloads, nil)
	c := startWatched(t, ref, indexArgs...)
	var samples []statsSample
	c.until(t, func(s statsSample) bool { samples = append(samples, s); return false })
	if err := c.wait(t); err != nil {
		t.Fatalf("uninterrupted build: %v\n%s", err, c.stderr)
	}
	want := dumpViews(t, ref)
	times := phaseTimes(samples)
	targets := []string{"backlog"}
	for i := range ssbIndexNames {
		targets = append(targets, fmt.Sprintf("index %d", i))
	}
	// (A phase the samples missed, on a busy machine, gets a span of 0:
	// the kill comes as soon as a sample shows it.)
	t.Logf("uninterrupted build, time per phase: %v", times)

	dir := t.TempDir()
	writeLog(t, dir, payloads, nil)
	views := filepath.Join(dir, "views")
	rng := rand.New(rand.NewPCG(4, 4))
	hits := map[string]int{}
	kills, misses := 0, 0
	// How long after a phase shows a kill may come: a random point within
	// 3/4 of the phase's uninterrupted time (the backlog: within 250 ms, so
	// that it takes several kills), halved after each miss.
	span := map[string]time.Duration{"backlog": min(times["backlog"], 250*time.Millisecond)}
	for _, p := range targets[1:] {
		span[p] = times[p] * 3 / 4
	}
	order := func(phase string) int { // "done" after every target
		if i := slices.Index(targets, phase); i >= 0 {
			return i
		}
		return len(targets)
	}
	// Backlog kills first (several, with random batch and transaction
	// sizes: each run resumes from a later since),
	// then each index step in order: a kill during step N leaves N steps
	// committed, and the next run starts at step N again. A kill that comes
	// too late (the phase aimed at was over) is a hit for a later phase;
	// the view files are then put back as they were before that run, from
	// a copy, to aim again.
	for round := 0; round < 60; round++ {
		st := readSSBState(t, dir, n)
		target := ""
		for _, p := range targets {
			if hits[p] == 0 || (p == "backlog" && hits[p] < backlogKills && st.phase == "backlog") {
				target = p
				break
			}
		}
		if target == "" {
			break
		}
		snap := filepath.Join(t.TempDir(), "views")
		if fileExists(views) {
			if err := os.CopyFS(snap, os.DirFS(views)); err != nil {
				t.Fatal(err)
			}
		}
		batch := 20 + rng.IntN(500)
		args := append([]string{"index", "--batch", strconv.Itoa(batch), "--tx-entries", strconv.Itoa(batch * (1 + rng.IntN(4)))}, sqlViews...)
		c := startWatched(t, dir, args...)
		killed := c.until(t, func(s statsSample) bool { return ssbPhase(s) == target })
		if killed {
			time.Sleep(time.Duration(rng.Int64N(int64(span[target]) + 1))) // the crash point
			c.cmd.Process.Signal(syscall.SIGKILL)
		}
		err := c.wait(t)
		if killed {
			var ee *exec.ExitError
			if err != nil && !errors.As(err, &ee) {
				t.Fatal(err)
			}
			kills++
		} else if err != nil {
			t.Fatalf("sluice %v: %v\n%s", args, err, c.stderr)
		}
		st = readSSBState(t, dir, n)
		st.check(t)
		if killed {
			hits[st.phase]++
		}
		if order(st.phase) > order(target) {
			misses++
			span[target] /= 2
			if err := os.RemoveAll(views); err != nil {
				t.Fatal(err)
			}
			if fileExists(snap) {
				if err := os.CopyFS(views, os.DirFS(snap)); err != nil {
					t.Fatal(err)
				}
			}
		}
		os.RemoveAll(snap)
	}
	for _, p := range targets {
		if hits[p] == 0 {
			t.Fatalf("no kill landed during %s (hits per phase: %v)", p, hits)
		}
	}
	t.Logf("%d kills (%d after the phase aimed at); kills per interrupted phase: %v", kills, misses, hits)
	ok(t, dir, "", indexArgs...)
	compareDumps(t, dumpViews(t, dir), want)
}
