package lattice_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
)

// scenario is a random set of deltas and the state the view must reach.
type scenario struct {
	deltas []delta
	want   *model
}

func randomScenario(rng *rand.Rand) scenario {
	s := scenario{want: newModel()}
	for i := 0; i < 5+rng.IntN(40); i++ {
		d := randomDelta(rng)
		d.apply(s.want)
		s.deltas = append(s.deltas, d)
	}
	return s
}

// randomLog writes the scenario's deltas as a log in a random order, some
// of them more than once, with entries that are not deltas and malformed
// deltas between them, local or remote at random. It returns the entries
// and the seqs that must be rejected, with part of their message.
func (s scenario) randomLog(rng *rand.Rand) ([]log.Entry, map[log.Seq]string) {
	var payloads []string
	for _, i := range rng.Perm(len(s.deltas)) {
		payloads = append(payloads, s.deltas[i].payload)
	}
	for n := rng.IntN(len(s.deltas)/3 + 1); n > 0; n-- { // duplicates
		payloads = insert(rng, payloads, s.deltas[rng.IntN(len(s.deltas))].payload)
	}
	for n := rng.IntN(4); n > 0; n-- {
		payloads = insert(rng, payloads, notDeltas[rng.IntN(len(notDeltas))])
	}
	bad := map[string]string{}
	for n := rng.IntN(3); n > 0; n-- {
		b := badDeltas[rng.IntN(len(badDeltas))]
		bad[b.payload] = b.msg
		payloads = insert(rng, payloads, b.payload)
	}
	local := rng.Float64()
	entries := make([]log.Entry, len(payloads))
	rejects := map[log.Seq]string{}
	for i, p := range payloads {
		o := log.Remote
		if rng.Float64() < local {
			o = log.Local
		}
		entries[i] = log.Entry{Seq: log.Seq(i + 1), Origin: o, Payload: []byte(p)}
		if msg, ok := bad[p]; ok {
			rejects[log.Seq(i+1)] = msg
		}
	}
	return entries, rejects
}

func insert(rng *rand.Rand, list []string, s string) []string {
	i := rng.IntN(len(list) + 1)
	return append(list[:i], append([]string{s}, list[i:]...)...)
}

// schedule is how index applies a log to a view file.
type schedule int

const (
	live    schedule = iota // one entry per batch, in seq order
	rebuild                 // the whole log in one batch
	random                  // batches of random sizes, local entries ahead in between
)

// newFile creates a view file holding the lattice view in dir (a new
// temporary directory if ""), closed when the test ends.
func newFile(t testing.TB, dir string) (*view.File, string) {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, "lattice.db")
	f, err := view.OpenFile(path, []view.View{lattice.View{}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, path
}

// indexLog applies entries to a new view file holding the lattice view, by
// the schedule, and returns the file's path. The file is closed.
func indexLog(t *testing.T, entries []log.Entry, sch schedule, rng *rand.Rand) string {
	t.Helper()
	f, path := newFile(t, "")
	applyAll(t, f, entries, sch, rng)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// applyAll applies entries to f by the schedule and checks that the view
// reached the last one.
func applyAll(t *testing.T, f *view.File, entries []log.Entry, sch schedule, rng *rand.Rand) {
	t.Helper()
	ctx := context.Background()
	applied := map[log.Seq]bool{}
	for pos := 0; pos < len(entries); {
		if sch == random && rng.IntN(3) == 0 {
			var ahead []log.Entry
			for _, e := range entries[pos:] {
				if e.Origin == log.Local && !applied[e.Seq] && rng.IntN(3) == 0 {
					ahead = append(ahead, e)
					applied[e.Seq] = true
				}
			}
			if len(ahead) > 0 {
				if err := f.Apply(ctx, &view.Batch{Entries: ahead, Ahead: true}); err != nil {
					t.Fatal(err)
				}
				continue
			}
		}
		n := map[schedule]int{live: 1, rebuild: len(entries)}[sch]
		if sch == random {
			n = 1 + rng.IntN(12)
		}
		end := min(pos+n, len(entries))
		b := &view.Batch{Entries: entries[pos:end], From: entries[pos].Seq, To: entries[end-1].Seq}
		if err := f.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		pos = end
	}
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	for _, st := range f.Status() {
		if st.Since != entries[len(entries)-1].Seq || st.Ahead != 0 {
			t.Fatalf("view %s: since %d with %d ahead, want %d with 0", st.Name, st.Since, st.Ahead, entries[len(entries)-1].Seq)
		}
	}
}

func dump(t *testing.T, path string) string {
	t.Helper()
	d, err := ssbtest.Dump(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// openDB opens the view file at path read-only, the way readers do: with
// package query, under its plain table names.
func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	q, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	return q.SQL()
}

// queryRows returns the rows of a query as "col|col|..." lines.
func queryRows(t *testing.T, db *sql.DB, q string, args ...any) rows {
	t.Helper()
	rs, err := db.Query(q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out rows
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		var parts []string
		for _, v := range vals {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			parts = append(parts, fmt.Sprint(v))
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkModel compares the view file at path with the model: every row of
// lattice_state, lattice_shared and lattice_for_user, Get for every user
// (and for the shared keys alone, and a user with no private keys), and
// the rejected entries.
func checkModel(t *testing.T, path string, want *model, rejects map[log.Seq]string) {
	t.Helper()
	db := openDB(t, path)
	if got, want := queryRows(t, db, `SELECT * FROM lattice_state`).String(), want.state().String(); got != want {
		t.Fatalf("lattice_state:\n%s\nwant:\n%s", got, want)
	}
	var wantShared, wantUser rows
	for _, ns := range namespaces {
		for _, user := range append(want.owners(ns), "", "nobody") {
			d := want.forUser(ns, user)
			for k, fs := range d {
				for f, v := range fs {
					switch user {
					case "":
						wantShared = append(wantShared, fmt.Sprintf("%s|%s|%s|%s", ns, k, f, v))
					case "nobody":
					default:
						wantUser = append(wantUser, fmt.Sprintf("%s|%s|%s|%s|%s", ns, user, k, f, v))
					}
				}
			}
			got, err := lattice.Get(context.Background(), db, ns, user)
			if err != nil {
				t.Fatal(err)
			}
			gotJSON, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			if w := dictJSON(d); string(gotJSON) != w {
				t.Fatalf("Get(%q, %q) = %s\nwant %s", ns, user, gotJSON, w)
			}
		}
	}
	if got := queryRows(t, db, `SELECT * FROM lattice_shared`).String(); got != wantShared.String() {
		t.Fatalf("lattice_shared:\n%s\nwant:\n%s", got, wantShared)
	}
	if got := queryRows(t, db, `SELECT * FROM lattice_for_user`).String(); got != wantUser.String() {
		t.Fatalf("lattice_for_user:\n%s\nwant:\n%s", got, wantUser)
	}
	got := map[log.Seq]string{}
	rs, err := db.Query(`SELECT seq, error FROM sluice_rejects WHERE view = 'lattice'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var seq log.Seq
		var msg string
		if err := rs.Scan(&seq, &msg); err != nil {
			t.Fatal(err)
		}
		got[seq] = msg
	}
	if len(got) != len(rejects) {
		t.Fatalf("rejected %v, want the seqs of %v", got, rejects)
	}
	for seq, msg := range rejects {
		if !strings.Contains(got[seq], msg) {
			t.Fatalf("seq %d rejected with %q, want a message containing %q", seq, got[seq], msg)
		}
	}
}

// TestOrderIndependence is the lattice's promise: random deltas, written to
// logs in random orders, some twice, between entries that are not deltas
// and malformed ones, and indexed one entry per batch, in one batch, or in
// random batches with local entries applied ahead of the backlog, give
// identical tables (full dumps, the SQL VIEWs included), equal to the
// merge rules computed naively in the test.
func TestOrderIndependence(t *testing.T) {
	trials := 20 // about 15 s with -race here, most of it fsyncs of new view files
	if testing.Short() {
		trials = 5
	}
	for trial := 0; trial < trials; trial++ {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 15))
			s := randomScenario(rng)
			entries, rejects := s.randomLog(rng)
			first := indexLog(t, entries, live, nil)
			checkModel(t, first, s.want, rejects)
			want := dump(t, first)
			for i := 0; i < 4; i++ {
				sch := []schedule{rebuild, random}[i%2]
				es := entries
				if i >= 2 {
					es, rejects = s.randomLog(rng)
				}
				path := indexLog(t, es, sch, rng)
				if got := dump(t, path); got != want {
					t.Fatalf("order %d (schedule %d) differs:\n%s", i, sch, ssbtest.Diff(want, got))
				}
				checkModel(t, path, s.want, rejects)
			}
		})
	}
}

// TestRebuildEqualsLive: a view file kept up to date one entry at a time
// and the same file after Rebuild, indexing the log in big batches, hold
// the same tables.
func TestRebuildEqualsLive(t *testing.T) {
	for trial := 0; trial < 5; trial++ {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 16))
			s := randomScenario(rng)
			entries, _ := s.randomLog(rng)
			f, path := newFile(t, "")
			applyAll(t, f, entries, live, nil)
			liveDump := dump(t, path)
			if err := f.Rebuild(lattice.Name, "test"); err != nil {
				t.Fatal(err)
			}
			if n := len(queryRows(t, openDB(t, path), `SELECT * FROM lattice_fields`)); n != 0 {
				t.Fatalf("%d rows left after Rebuild", n)
			}
			ctx := context.Background()
			for pos := 0; pos < len(entries); pos += 25 {
				end := min(pos+25, len(entries))
				if err := f.Apply(ctx, &view.Batch{Entries: entries[pos:end], From: entries[pos].Seq, To: entries[end-1].Seq}); err != nil {
					t.Fatal(err)
				}
			}
			if got := dump(t, path); got != liveDump {
				t.Fatalf("rebuilt in batches of 25 differs from live:\n%s", ssbtest.Diff(liveDump, got))
			}
		})
	}
}
