package index_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

// timerOp is the payload of the timers test view (testdata/timers.sql),
// readable by viewtest.KV too (k, v).
type timerOp struct {
	K       string `json:"k"`
	V       string `json:"v"`
	Op      string `json:"op"`
	Owner   string `json:"owner"`
	Device  string `json:"device"`
	Checked bool   `json:"checked,omitempty"` // staged by a Transact after its check
}

func timerRecord(op, owner, device string, checked bool) log.Record {
	b, _ := json.Marshal(timerOp{K: "timer/" + owner, V: op, Op: op, Owner: owner, Device: device, Checked: checked})
	return log.Record{Origin: log.Local, Payload: b}
}

// transactEnv is a log with two view files — the timers SQL view and a Go
// KV view, whose table of applied seqs fails loudly on an entry applied
// twice — and an indexer over them.
type transactEnv struct {
	dir     string
	l       *log.Log
	files   []*view.File
	ix      *index.Indexer
	running bool
}

func newTransactEnv(t *testing.T, durability log.Durability) *transactEnv {
	t.Helper()
	return openTransactEnv(t, t.TempDir(), durability)
}

// openTransactEnv opens the env in dir, made before or not.
func openTransactEnv(t *testing.T, dir string, durability log.Durability) *transactEnv {
	t.Helper()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: durability})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	env := &transactEnv{dir: dir, l: l, files: openTransactFiles(t, dir)}
	if env.ix, err = index.New(l, env.files, index.Options{}); err != nil {
		t.Fatal(err)
	}
	return env
}

func timersView(t testing.TB) view.View {
	t.Helper()
	v, err := sqlview.Load("testdata/timers.sql")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func openTransactFiles(t *testing.T, dir string) []*view.File {
	t.Helper()
	return []*view.File{
		openView(t, filepath.Join(dir, "timers.db"), timersView(t)),
		openView(t, filepath.Join(dir, "app.db"), &failing{KV: viewtest.KV{ViewName: "kv", ViewVersion: 1}}),
	}
}

// run runs the indexer, following the log, until the test ends.
func (env *transactEnv) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	env.running = true
	go func() { done <- env.ix.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Run: %v", err)
		}
	})
}

// start is a server handling a timer.start task: it checks, then stages
// the start, or a record of the rejection. It reports whether the task was
// accepted.
func start(ctx context.Context, tx *index.Tx, owner, device string) (bool, error) {
	reason, err := tx.Check(ctx, view.CheckTask{ID: device + "-" + owner, Kind: "timer.start", Queue: "timers", Scope: owner, Payload: []byte(`{}`)})
	if err != nil {
		return false, err
	}
	if reason != "" {
		return false, tx.Stage(timerRecord("rejected", owner, device, true))
	}
	return true, tx.Stage(timerRecord("start", owner, device, true))
}

// replay walks the log in seq order, tracking which owners have a timer
// running, and checks every entry a Transact staged after its check: a
// start only when none ran, a rejection only when one did. It returns the
// number of checked starts and rejections.
func replay(t *testing.T, l *log.Log) (starts, rejects int) {
	t.Helper()
	it, err := l.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	running := map[string]bool{}
	for it.Next() {
		e := it.Entry()
		var op timerOp
		if err := json.Unmarshal(e.Payload, &op); err != nil {
			t.Fatalf("seq %d: %v", e.Seq, err)
		}
		switch {
		case op.Checked && op.Op == "start" && running[op.Owner]:
			t.Errorf("seq %d: a checked start for %s while a timer was running", e.Seq, op.Owner)
		case op.Checked && op.Op == "rejected" && !running[op.Owner]:
			t.Errorf("seq %d: a start for %s rejected while no timer was running", e.Seq, op.Owner)
		}
		if op.Checked && op.Op == "start" {
			starts++
		}
		if op.Op == "rejected" {
			rejects++
		}
		if op.Op == "start" || op.Op == "stop" {
			running[op.Owner] = op.Op == "start"
		}
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return starts, rejects
}

// checkRebuild brings the env's views to the log's end and compares every
// file with the same views built from scratch from the log.
func (env *transactEnv) checkRebuild(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if env.running {
		last, _ := env.l.Last()
		if err := env.ix.WaitFor(ctx, last); err != nil {
			t.Fatal(err)
		}
	} else if err := env.ix.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}
	fresh := openTransactFiles(t, filepath.Join(env.dir, "rebuilt"))
	ix, err := index.New(env.l, fresh, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	for i, f := range env.files {
		a, err := viewtest.Dump(f.Path())
		if err != nil {
			t.Fatal(err)
		}
		b, err := viewtest.Dump(fresh[i].Path())
		if err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Fatalf("%s: the live views (-) differ from a rebuild from the log (+):\n%s", filepath.Base(f.Path()), viewtest.Diff(a, b))
		}
	}
}

// TestTransactTwoDevices: two devices start a timer for the same user at
// the same moment, for many users; for each, exactly one wins.
func TestTransactTwoDevices(t *testing.T) {
	env := newTransactEnv(t, log.SyncNone)
	env.run(t)
	ctx := context.Background()
	const users = 30
	wins := make([]int, users)
	var mu sync.Mutex
	for u := 0; u < users; u++ {
		owner := fmt.Sprintf("user:%d", u)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		errs := make(chan error, 2)
		for _, dev := range []string{"A", "B"} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				_, err := env.ix.Transact(ctx, func(tx *index.Tx) error {
					ok, err := start(ctx, tx, owner, dev)
					if ok {
						mu.Lock()
						wins[u]++
						mu.Unlock()
					}
					return err
				})
				errs <- err
			}()
		}
		close(gate)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if wins[u] != 1 {
			t.Fatalf("%s: %d devices started a timer, want 1", owner, wins[u])
		}
	}
	if starts, rejects := replay(t, env.l); starts != users || rejects != users {
		t.Fatalf("the log holds %d checked starts and %d rejections, want %d each", starts, rejects, users)
	}
	env.checkRebuild(t)
}

// TestTransactBatch: within one Transact, a check sees what the batch
// staged before it.
func TestTransactBatch(t *testing.T) {
	env := newTransactEnv(t, log.SyncAlways)
	ctx := context.Background()
	var got []bool
	first, err := env.ix.Transact(ctx, func(tx *index.Tx) error {
		if tx.Next() != 1 {
			return fmt.Errorf("Next = %d in an empty log, want 1", tx.Next())
		}
		for _, dev := range []string{"A", "A", "B"} {
			ok, err := start(ctx, tx, "user:1", dev)
			if err != nil {
				return err
			}
			got = append(got, ok)
		}
		if err := tx.Stage(timerRecord("stop", "user:1", "A", false)); err != nil {
			return err
		}
		ok, err := start(ctx, tx, "user:1", "B")
		got = append(got, ok)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []bool{true, false, false, true}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("accepted %v, want %v", got, want)
	}
	if last, _ := env.l.Last(); first != 1 || last != 5 {
		t.Fatalf("Transact = %d, the log ends at %d; want the batch at 1..5", first, last)
	}
	for _, f := range env.files {
		if !f.Applied("timers", 5) && !f.Applied("kv", 5) {
			t.Fatalf("%s has not applied the batch after Transact", f.Path())
		}
	}
	replay(t, env.l)
	env.checkRebuild(t)
}

// TestTransactSeesAppendsBefore: an entry appended just before a Transact,
// which no indexer has applied yet, is seen by the checks — with no
// indexer running, and with one following the log.
func TestTransactSeesAppendsBefore(t *testing.T) {
	for _, running := range []bool{false, true} {
		t.Run(fmt.Sprintf("running=%v", running), func(t *testing.T) {
			env := newTransactEnv(t, log.SyncNone)
			if running {
				env.run(t)
			}
			ctx := context.Background()
			for i := 0; i < 50; i++ {
				owner := fmt.Sprintf("user:%d", i)
				appended := make(chan error)
				go func() {
					_, err := env.l.Append(ctx, timerRecord("start", owner, "other", false))
					appended <- err
				}()
				if err := <-appended; err != nil {
					t.Fatal(err)
				}
				var ok bool
				if _, err := env.ix.Transact(ctx, func(tx *index.Tx) (err error) {
					ok, err = start(ctx, tx, owner, "A")
					return err
				}); err != nil {
					t.Fatal(err)
				}
				if ok {
					t.Fatalf("%s: the check missed the start appended just before", owner)
				}
			}
			env.checkRebuild(t)
		})
	}
}

// errBoomApply stands for a *view.ApplyError in TestTransactRollback.
var errBoomApply = errors.New("a view fails to apply a staged entry")

// TestTransactRollback: when fn fails, a Stage fails or the append fails,
// nothing is in the log and the views forget what was staged; the indexer
// goes on.
func TestTransactRollback(t *testing.T) {
	env := newTransactEnv(t, log.SyncAlways)
	env.run(t)
	ctx := context.Background()
	if _, err := env.l.Append(ctx, timerRecord("stop", "user:0", "A", false)); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	cases := []struct {
		name string
		fn   func(tx *index.Tx) error
		want error
	}{
		{"fn fails", func(tx *index.Tx) error {
			start(ctx, tx, "user:1", "A")
			return boom
		}, boom},
		{"append refuses", func(tx *index.Tx) error {
			start(ctx, tx, "user:1", "A")
			// Valid for the views, refused by the log: our own node as
			// the author of a replicated entry.
			return tx.Stage(log.Record{Payload: []byte(`{"k":"x","v":"y"}`), Author: log.ID{Node: env.l.Node(), Seq: 1}})
		}, log.ErrInvalid},
		{"empty payload", func(tx *index.Tx) error {
			start(ctx, tx, "user:1", "A")
			return tx.Stage(log.Record{})
		}, log.ErrInvalid},
		{"view fails", func(tx *index.Tx) error {
			start(ctx, tx, "user:1", "A")
			// The KV view fails to apply it (StopOnError): the file is
			// recovered, not left failed.
			if err := tx.Stage(log.Record{Payload: viewtest.Payload("boom", "x")}); err == nil {
				return errors.New("staging boom did not fail")
			}
			return nil // the Transact fails all the same
		}, errBoomApply},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, _ := env.l.Last()
			first, err := env.ix.Transact(ctx, c.fn)
			var ae *view.ApplyError
			if c.want == errBoomApply && !errors.As(err, &ae) || c.want != errBoomApply && !errors.Is(err, c.want) {
				t.Fatalf("Transact = %d, %v; want %v", first, err, c.want)
			}
			if last, _ := env.l.Last(); last != before || first != 0 {
				t.Fatalf("a failed Transact returned %d and left the log at %d, want it at %d", first, last, before)
			}
			var ok bool
			if _, err := env.ix.Transact(ctx, func(tx *index.Tx) (err error) {
				ok, err = start(ctx, tx, "user:1", "B")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			if !ok {
				t.Fatal("a start rolled back is still seen by the check")
			}
			// Stop it again for the next case.
			if _, err := env.ix.Transact(ctx, func(tx *index.Tx) error {
				return tx.Stage(timerRecord("stop", "user:1", "B", false))
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
	// The indexer still follows the log.
	seqs, err := env.l.Append(ctx, timerRecord("stop", "user:9", "A", false))
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := env.ix.WaitFor(wctx, seqs[0]); err != nil {
		t.Fatal(err)
	}
	replay(t, env.l)
	env.checkRebuild(t)
}

// TestTransactConcurrent mixes Transacts with plain appends (which pass no
// check) while the indexer follows the log; replaying the log shows every
// check saw every entry before it, and the views equal a rebuild.
func TestTransactConcurrent(t *testing.T) {
	env := newTransactEnv(t, log.SyncGroup)
	env.run(t)
	ctx := context.Background()
	const owners, rounds = 4, 60
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 3; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			dev := fmt.Sprintf("tx%d", g)
			for i := 0; i < rounds; i++ {
				_, err := env.ix.Transact(ctx, func(tx *index.Tx) error {
					for k := 0; k < 1+rng.IntN(5); k++ {
						owner := fmt.Sprintf("user:%d", rng.IntN(owners))
						if rng.IntN(3) == 0 {
							if err := tx.Stage(timerRecord("stop", owner, dev, false)); err != nil {
								return err
							}
							continue
						}
						if _, err := start(ctx, tx, owner, dev); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 2))
			for i := 0; i < rounds; i++ {
				op := []string{"start", "stop"}[rng.IntN(2)]
				if _, err := env.l.Append(ctx, timerRecord(op, fmt.Sprintf("user:%d", rng.IntN(owners)), "plain", false)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	starts, rejects := replay(t, env.l)
	t.Logf("%d checked starts, %d rejections", starts, rejects)
	if starts == 0 || rejects == 0 {
		t.Fatalf("%d checked starts, %d rejections: the test did not exercise both", starts, rejects)
	}
	env.checkRebuild(t)
}

// TestTransactNeedsWriter: an indexer over a log.Reader cannot Transact.
func TestTransactNeedsWriter(t *testing.T) {
	env := newTransactEnv(t, log.SyncAlways)
	r, err := log.OpenReader(env.l.Dir())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	ix, err := index.New(r, env.files, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ix.Transact(context.Background(), func(*index.Tx) error { return nil }); !errors.Is(err, index.ErrNotAppendable) {
		t.Fatalf("Transact over a Reader = %v, want ErrNotAppendable", err)
	}
}

// TestTransactHasChecks: Tx.HasChecks says whether a view of the
// Indexer's files checks tasks: the timers SQL view does (-- sluice:check),
// a KV view alone does not.
func TestTransactHasChecks(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	kv := openView(t, filepath.Join(dir, "kv.db"), &viewtest.KV{ViewName: "kv", ViewVersion: 1})
	timers := openView(t, filepath.Join(dir, "timers.db"), timersView(t))
	for _, c := range []struct {
		files []*view.File
		want  bool
	}{{[]*view.File{kv}, false}, {[]*view.File{kv, timers}, true}} {
		ix, err := index.New(l, c.files, index.Options{})
		if err != nil {
			t.Fatal(err)
		}
		var got bool
		if _, err := ix.Transact(ctx, func(tx *index.Tx) error { got = tx.HasChecks(); return nil }); err != nil {
			t.Fatal(err)
		}
		if got != c.want {
			t.Fatalf("HasChecks with %d files = %v, want %v", len(c.files), got, c.want)
		}
	}
}
