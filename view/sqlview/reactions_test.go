package sqlview_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

const reactionsPath = "../../testdata/views/reactions.sql"

func reactionsView(t testing.TB) view.View {
	t.Helper()
	v, err := sqlview.Load(reactionsPath)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// rtask is a reaction task of the simulation.
type rtask struct {
	node    log.NodeID
	id      string
	scope   string
	payload string
	sent    bool
	cancel  bool
}

// reactionServer is a server: a log, the reactions view and an indexer
// whose Transact runs the view's check for each task.
type reactionServer struct {
	l  *log.Log
	f  *view.File
	ix *index.Indexer
}

func newReactionServer(t *testing.T, dir string) *reactionServer {
	t.Helper()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f, err := view.OpenFile(filepath.Join(dir, "reactions.db"), []view.View{reactionsView(t)}, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return &reactionServer{l: l, f: f, ix: ix}
}

// handle applies a batch of one device's tasks as the server does: each
// task passes the checks and gets a result entry and a succeeded answer,
// or gets a failed answer.
func (s *reactionServer) handle(t *testing.T, batch []*rtask) {
	t.Helper()
	ctx := context.Background()
	_, err := s.ix.Transact(ctx, func(tx *index.Tx) error {
		for _, k := range batch {
			ct := view.CheckTask{ID: k.id, Kind: "reaction.add", Queue: "reactions", Node: k.node, Scope: k.scope, Payload: []byte(k.payload)}
			reason, err := tx.Check(ctx, ct)
			if err != nil {
				return err
			}
			ref := fmt.Sprintf(`{"node":%q,"id":%q,"queue":"reactions","kind":"reaction.add"}`, k.node, k.id)
			outcome := "failed"
			if reason == "" {
				outcome = "succeeded"
				res := fmt.Sprintf(`{"sluice":"task.result","task":%s,"payload":%s}`, ref, k.payload)
				if err := tx.Stage(log.Record{Origin: log.Local, Scope: k.scope, Payload: []byte(res)}); err != nil {
					return err
				}
			}
			ans := fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":%q,"queue":"reactions","kind":"reaction.add","outcome":%q,"reason":%q}`,
				k.node, k.id, outcome, reason)
			if err := tx.Stage(log.Record{Origin: log.Local, Scope: k.scope, Payload: []byte(ans)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// simulate runs a device A, another device B of the same user and a
// server: A adds reactions offline, sends its queue in order in batches of
// up to 5, cancels tasks not sent, and pulls the server's entries at random
// moments; B's tasks reach the server directly. Both devices number their
// tasks from 1, so ids collide across devices. It returns A's log entries
// and the server.
func simulate(t *testing.T, dir string, rng *rand.Rand, steps int) ([]log.Entry, *reactionServer) {
	t.Helper()
	ctx := context.Background()
	srv := newReactionServer(t, filepath.Join(dir, "server"))
	a, err := log.Open(filepath.Join(dir, "a"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	nodeB := log.NodeID{0xbb}
	var queue []*rtask // A's tasks, in order
	nA, nB := 0, 0
	var pulled log.Seq
	reaction := func() string {
		return fmt.Sprintf(`{"message":"m%d","emoji":%q}`, rng.IntN(3), []string{"👍", "❤"}[rng.IntN(2)])
	}
	appendA := func(r log.Record) {
		if _, err := a.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	sendA := func() {
		var batch []*rtask
		for _, k := range queue {
			if !k.sent && !k.cancel && len(batch) < 5 {
				batch = append(batch, k)
			}
		}
		if len(batch) == 0 {
			return
		}
		srv.handle(t, batch)
		for _, k := range batch {
			k.sent = true
		}
	}
	pull := func() {
		it, err := srv.l.Iter(pulled + 1)
		if err != nil {
			t.Fatal(err)
		}
		defer it.Close()
		for it.Next() {
			e := it.Entry()
			appendA(log.Record{Origin: log.Remote, Payload: e.Payload, Author: e.ID, Scope: e.Scope})
			pulled = e.Seq
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < steps; i++ {
		switch r := rng.IntN(100); {
		case r < 35:
			nA++
			k := &rtask{node: a.Node(), id: fmt.Sprintf("t%d", nA), scope: "user:1", payload: reaction()}
			queue = append(queue, k)
			appendA(log.Record{Origin: log.Local, Scope: k.scope, Payload: []byte(fmt.Sprintf(
				`{"sluice":"task","id":%q,"queue":"reactions","kind":"reaction.add","payload":%s}`, k.id, k.payload))})
		case r < 50:
			sendA()
		case r < 60:
			var open []*rtask
			for _, k := range queue {
				if !k.sent && !k.cancel {
					open = append(open, k)
				}
			}
			if len(open) > 0 {
				k := open[rng.IntN(len(open))]
				k.cancel = true
				cancel := fmt.Sprintf(`{"sluice":"task.cancel","id":%q`, k.id)
				if rng.IntN(2) == 0 { // the kind is optional
					cancel += `,"queue":"reactions","kind":"reaction.add"`
				}
				appendA(log.Record{Origin: log.Local, Scope: k.scope, Payload: []byte(cancel + "}")})
			}
		case r < 75:
			nB++
			srv.handle(t, []*rtask{{node: nodeB, id: fmt.Sprintf("t%d", nB), scope: "user:1", payload: reaction()}})
		default:
			pull()
		}
	}
	for more := true; more; {
		more = false
		for _, k := range queue {
			more = more || (!k.sent && !k.cancel)
		}
		sendA()
	}
	pull()
	it, err := a.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var es []log.Entry
	for it.Next() {
		es = append(es, it.Entry())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return es, srv
}

// indexReactions applies entries to a new reactions view file: in seq
// order in batches of random sizes and, if ahead, with local entries
// picked at random applied ahead of the backlog (in no particular order
// among themselves), as the indexer may. It returns the file's path.
func indexReactions(t *testing.T, path string, entries []log.Entry, rng *rand.Rand, ahead bool) string {
	t.Helper()
	ctx := context.Background()
	f, err := view.OpenFile(path, []view.View{reactionsView(t)}, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	applied := map[log.Seq]bool{}
	for pos := 0; pos < len(entries); {
		if ahead && rng.IntN(3) == 0 {
			var es []log.Entry
			for _, e := range entries[pos:] {
				if e.Origin == log.Local && !applied[e.Seq] && rng.IntN(3) == 0 {
					es = append(es, e)
					applied[e.Seq] = true
				}
			}
			rng.Shuffle(len(es), func(i, j int) { es[i], es[j] = es[j], es[i] })
			for len(es) > 0 {
				n := 1 + rng.IntN(len(es))
				if err := f.Apply(ctx, &view.Batch{Entries: sortedBySeq(es[:n]), Ahead: true}); err != nil {
					t.Fatal(err)
				}
				es = es[n:]
			}
		}
		end := min(pos+1+rng.IntN(8), len(entries))
		if err := f.Apply(ctx, &view.Batch{Entries: entries[pos:end], From: entries[pos].Seq, To: entries[end-1].Seq}); err != nil {
			t.Fatal(err)
		}
		pos = end
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func sortedBySeq(es []log.Entry) []log.Entry {
	out := append([]log.Entry(nil), es...)
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Seq < out[j-1].Seq; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// rows returns "message user emoji authority" lines of a reactions table.
func reactionRows(t *testing.T, path, where string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rs, err := db.Query(`SELECT message, user, emoji, authority FROM reactions ` + where + ` ORDER BY message, user, emoji`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var b strings.Builder
	for rs.Next() {
		var m, u, e string
		var a int
		if err := rs.Scan(&m, &u, &e, &a); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s %s %d\n", m, u, e, a)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestReactionsProperty: for random interleavings of a device's reactions
// (local task entries), cancels, the server's answers (succeeded, or
// failed by the view's check) and pulled server entries, the device's view
// is the same whatever order the indexer applies local entries in, its
// authoritative rows equal the server's once every task is answered, and no
// optimistic row is left.
func TestReactionsProperty(t *testing.T) {
	seeds := 25
	if testing.Short() {
		seeds = 8
	}
	failedSeen, cancelSeen := false, false
	for seed := 0; seed < seeds; seed++ {
		dir := t.TempDir()
		rng := rand.New(rand.NewPCG(uint64(seed), 13))
		entries, srv := simulate(t, dir, rng, 80)
		for _, e := range entries {
			failedSeen = failedSeen || strings.Contains(string(e.Payload), `"outcome":"failed"`)
			cancelSeen = cancelSeen || strings.Contains(string(e.Payload), `"task.cancel"`)
		}
		inOrder := indexReactions(t, filepath.Join(dir, "order.db"), entries, rng, false)
		want, err := viewtest.Dump(inOrder)
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < 3; k++ {
			got, err := viewtest.Dump(indexReactions(t, filepath.Join(dir, fmt.Sprintf("ahead%d.db", k)), entries, rng, true))
			if err != nil {
				t.Fatal(err)
			}
			if got != want {
				t.Fatalf("seed %d: local entries ahead (+) give other tables than seq order (-):\n%s", seed, viewtest.Diff(want, got))
			}
		}
		if err := srv.f.Commit(); err != nil {
			t.Fatal(err)
		}
		if dev, server := reactionRows(t, inOrder, "WHERE authority = 1"), reactionRows(t, srv.f.Path(), ""); dev != server {
			t.Fatalf("seed %d: the device's authoritative rows (-) differ from the server's (+):\n%s", seed, viewtest.Diff(dev, server))
		}
		if opt := reactionRows(t, inOrder, "WHERE authority = 0"); opt != "" {
			t.Fatalf("seed %d: optimistic rows left once every task is answered or cancelled:\n%s", seed, opt)
		}
	}
	if !failedSeen || !cancelSeen {
		t.Fatalf("the simulations made no failed answer (%v) or no cancel (%v): they test too little", failedSeen, cancelSeen)
	}
}

// TestReactionsOptimistic walks one device through the cases by hand: a
// reaction shows at once as optimistic, the server's result makes it
// authoritative, a rejected one and a cancelled one disappear, a cancel
// applied before its task leaves nothing, and an optimistic row never
// hides an authoritative one.
func TestReactionsOptimistic(t *testing.T) {
	ctx := context.Background()
	f, err := view.OpenFile(filepath.Join(t.TempDir(), "r.db"), []view.View{reactionsView(t)}, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	me := log.NodeID{0xaa}
	server := log.NodeID{0x55}
	seq := log.Seq(0)
	entry := func(origin log.Origin, payload string) log.Entry {
		seq++
		e := log.Entry{Seq: seq, Origin: origin, Payload: []byte(payload), Scope: "user:1", ID: log.ID{Node: me, Seq: seq}}
		if origin == log.Remote {
			e.ID = log.ID{Node: server, Seq: seq}
		}
		return e
	}
	task := func(id, msg string) log.Entry {
		return entry(log.Local, fmt.Sprintf(`{"sluice":"task","id":%q,"queue":"r","kind":"reaction.add","payload":{"message":%q,"emoji":"👍"}}`, id, msg))
	}
	result := func(id, msg string) log.Entry {
		return entry(log.Remote, fmt.Sprintf(`{"sluice":"task.result","task":{"node":%q,"id":%q,"kind":"reaction.add"},"payload":{"message":%q,"emoji":"👍"}}`, me, id, msg))
	}
	answer := func(id, outcome string) log.Entry {
		return entry(log.Remote, fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":%q,"kind":"reaction.add","outcome":%q}`, me, id, outcome))
	}
	cancel := func(id string) log.Entry {
		return entry(log.Local, fmt.Sprintf(`{"sluice":"task.cancel","id":%q}`, id))
	}
	apply := func(ahead bool, es ...log.Entry) {
		t.Helper()
		b := &view.Batch{Entries: es, Ahead: ahead}
		if !ahead {
			b.From, b.To = es[0].Seq, es[len(es)-1].Seq
		}
		if err := f.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	expect := func(want string) {
		t.Helper()
		if err := f.Commit(); err != nil {
			t.Fatal(err)
		}
		if got := reactionRows(t, f.Path(), ""); got != want {
			t.Fatalf("reactions:\n%swant:\n%s", got, want)
		}
	}
	apply(false, task("t1", "m1"))
	expect("m1 user:1 👍 0\n")
	apply(false, result("t1", "m1"), answer("t1", "succeeded"))
	expect("m1 user:1 👍 1\n")
	apply(false, task("t2", "m1")) // the same reaction again: it cannot hide the authoritative row
	expect("m1 user:1 👍 1\n")
	apply(false, answer("t2", "failed"))
	expect("m1 user:1 👍 1\n")
	apply(false, task("t3", "m2"), task("t4", "m2"))
	expect("m1 user:1 👍 1\nm2 user:1 👍 0\n")
	apply(false, cancel("t4")) // t4 had replaced t3's row: t3's comes back
	expect("m1 user:1 👍 1\nm2 user:1 👍 0\n")
	apply(false, cancel("t3"))
	expect("m1 user:1 👍 1\n")
	// A cancel applied ahead of its task, which the backlog brings later.
	t5 := task("t5", "m3")
	c5 := cancel("t5")
	apply(true, c5)
	apply(false, t5)
	expect("m1 user:1 👍 1\n")
	apply(false, c5) // the backlog reaches it: skipped, applied ahead
	expect("m1 user:1 👍 1\n")
	// Another device's task with the same id fails: not ours.
	apply(false, task("t6", "m4"))
	apply(false, entry(log.Remote, fmt.Sprintf(`{"sluice":"task.answer","node":%q,"id":"t6","kind":"reaction.add","outcome":"failed"}`, log.NodeID{0xbb})))
	expect("m1 user:1 👍 1\nm4 user:1 👍 0\n")
}
