package replicate

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/tasks"
)

// TestTaskProperty runs random interleavings of a device's task entries
// (reactions), cancels, sends to a real task server (whose handler fails
// retryably at random, and whose check rejects a second identical
// reaction), tasks of other devices on the server, and pulls of the
// server's log into the device's. Once every task is answered or
// cancelled: the device's authoritative reactions equal the server's and
// the ones the server accepted (decoded from its log by the test), no
// optimistic row is left, and the device's views come out identical when
// its log is indexed in seq order or with its local entries first.
func TestTaskProperty(t *testing.T) {
	seeds := 12
	if testing.Short() {
		seeds = 3
	}
	for seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { taskProperty(t, uint64(seed)) })
	}
}

func openViewFiles(t *testing.T, dir string, views ...view.View) []*view.File {
	t.Helper()
	var files []*view.File
	for _, v := range views {
		f, err := view.OpenFile(filepath.Join(dir, v.Name()+".db"), []view.View{v}, view.Options{Logf: func(string, ...any) {}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	return files
}

func reactionsView(t *testing.T) view.View {
	t.Helper()
	v, err := sqlview.Load("../testdata/views/reactions.sql")
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func taskProperty(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 99))
	ctx := context.Background()
	server, device := openLog(t), openLog(t)
	sdir := t.TempDir()
	six, err := index.New(server, openViewFiles(t, sdir, reactionsView(t), tasks.Handled{}), index.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hrng := rand.New(rand.NewPCG(seed, 7))
	h := HandlerFunc(func(ctx context.Context, tk Task) (TaskResult, error) {
		if hrng.IntN(4) == 0 {
			return TaskResult{}, errors.New("busy")
		}
		return Accept.HandleTask(ctx, tk)
	})
	ts, err := NewTaskServer(server, TaskServerOptions{Indexer: six, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	defer ts.Close()
	url, _ := serveLog(t, server, ServerOptions{})
	client := newClient(t, device, ClientOptions{})

	post := func(node string, queue string, tk []WireTask) bool {
		b, _ := json.Marshal(TaskRequest{Node: node, Queue: queue, Tasks: tk})
		rec := httptest.NewRecorder()
		ts.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/tasks", strings.NewReader(string(b))))
		return rec.Code == 200
	}
	type pending struct {
		id, queue string
		seq       log.Seq
		payload   string
	}
	queues := map[string][]pending{}
	devNode := device.Node().String()
	next := 0
	addTask := func() {
		q := fmt.Sprintf("q%d", rng.IntN(2))
		id := fmt.Sprintf("t%d", next)
		next++
		p := fmt.Sprintf(`{"message":"m%d","emoji":"e%d"}`, rng.IntN(8), rng.IntN(3))
		e := tasks.Entry{Kind: tasks.KindTask, ID: id, Queue: q, Type: "reaction.add", Payload: json.RawMessage(p)}
		seqs, err := device.Append(ctx, log.Record{Origin: log.Local, Scope: "user:1", Payload: e.Marshal()})
		if err != nil {
			t.Fatal(err)
		}
		queues[q] = append(queues[q], pending{id, q, seqs[0], p})
	}
	send := func(q string) {
		pl := queues[q]
		n := min(len(pl), 1+rng.IntN(5))
		if n == 0 {
			return
		}
		var tk []WireTask
		for _, p := range pl[:n] {
			tk = append(tk, WireTask{ID: p.id, Kind: "reaction.add", Seq: p.seq, Scope: "user:1", Payload: json.RawMessage(p.payload)})
		}
		if post(devNode, q, tk) {
			queues[q] = pl[n:]
		}
	}
	cancel := func() {
		for _, q := range []string{"q0", "q1"} {
			if pl := queues[q]; len(pl) > 0 {
				i := rng.IntN(len(pl))
				p := pl[i]
				e := tasks.Entry{Kind: tasks.KindCancel, ID: p.id, Queue: q, Type: "reaction.add"}
				if _, err := device.Append(ctx, log.Record{Origin: log.Local, Scope: "user:1", Payload: e.Marshal()}); err != nil {
					t.Fatal(err)
				}
				queues[q] = slices.Delete(pl, i, i+1)
				return
			}
		}
	}
	other := 0
	for step := 0; step < 80; step++ {
		switch k := rng.IntN(10); {
		case k < 4:
			addTask()
		case k < 6:
			send(fmt.Sprintf("q%d", rng.IntN(2)))
		case k < 7:
			cancel()
		case k < 8:
			other++
			p := fmt.Sprintf(`{"message":"m%d","emoji":"e%d"}`, rng.IntN(8), rng.IntN(3))
			post(fmt.Sprintf("%032x", 1+rng.IntN(3)), "o", []WireTask{{ID: fmt.Sprintf("o%d", other), Kind: "reaction.add", Scope: "user:1", Payload: json.RawMessage(p)}})
		default:
			if _, err := client.Pull(ctx, Peer{URL: url}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Answer everything: keep sending until the queues are empty.
	for tries := 0; len(queues["q0"])+len(queues["q1"]) > 0; tries++ {
		if tries > 1000 {
			t.Fatal("the queues do not empty")
		}
		send("q0")
		send("q1")
	}
	if _, err := client.Pull(ctx, Peer{URL: url}); err != nil {
		t.Fatal(err)
	}
	if err := six.SynchronizeUpTo(ctx, 0); err != nil {
		t.Fatal(err)
	}

	// What the server accepted, decoded from its log by the test: the
	// reactions of the tasks answered succeeded.
	want := map[string]bool{}
	payloads := map[string]string{}
	for _, e := range entries(t, server) {
		r, ok := decodeTask(t, e)
		if !ok {
			continue
		}
		if r.Kind == "task.result" {
			var rp struct{ Message, Emoji string }
			json.Unmarshal(r.Payload, &rp)
			payloads[r.Task.Node+"/"+r.Task.ID] = rp.Message + "|user:1|" + rp.Emoji
		}
		if r.Kind == "task.answer" && r.Outcome == "succeeded" {
			want[payloads[r.Node+"/"+r.ID]] = true
		}
	}
	dumpSet := func(db *sql.DB, q string) map[string]bool {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]bool{}
		for rows.Next() {
			var a, b, c string
			rows.Scan(&a, &b, &c)
			out[a+"|"+b+"|"+c] = true
		}
		return out
	}
	sdb := openSQL(t, filepath.Join(sdir, "reactions.db"))
	serverRows := dumpSet(sdb, `SELECT message, user, emoji FROM reactions WHERE authority = 1`)
	if fmt.Sprint(serverRows) != fmt.Sprint(want) {
		t.Fatalf("the server's reactions %v, want the accepted ones %v", serverRows, want)
	}

	// The device's views, built from its log in seq order and with its
	// local entries first.
	all := entries(t, device)
	var locals []log.Entry
	for _, e := range all {
		if e.Origin == log.Local {
			locals = append(locals, e)
		}
	}
	dumps := make([]string, 2)
	for i, ahead := range []bool{false, true} {
		dir := t.TempDir()
		files := openViewFiles(t, dir, reactionsView(t), tasks.View{})
		for _, f := range files {
			if ahead && len(locals) > 0 {
				if err := f.Apply(ctx, &view.Batch{Entries: locals, Ahead: true}); err != nil {
					t.Fatal(err)
				}
			}
			if err := f.Apply(ctx, &view.Batch{Entries: all, From: 1, To: all[len(all)-1].Seq}); err != nil {
				t.Fatal(err)
			}
		}
		db := openSQL(t, filepath.Join(dir, "reactions.db"))
		devRows := dumpSet(db, `SELECT message, user, emoji FROM reactions WHERE authority = 1`)
		if fmt.Sprint(devRows) != fmt.Sprint(serverRows) {
			t.Fatalf("ahead=%v: the device's authoritative reactions %v, the server's %v", ahead, devRows, serverRows)
		}
		var optimistic int
		db.QueryRow(`SELECT count(*) FROM reactions WHERE authority <> 1`).Scan(&optimistic)
		if optimistic != 0 {
			t.Fatalf("ahead=%v: %d optimistic rows left once every task is answered or cancelled", ahead, optimistic)
		}
		tdb := openSQL(t, filepath.Join(dir, "tasks.db"))
		var open int
		tdb.QueryRow(`SELECT count(*) FROM tasks WHERE state NOT IN ('succeeded', 'failed', 'cancelled')`).Scan(&open)
		if open != 0 {
			t.Fatalf("ahead=%v: %d tasks not settled in the tasks view", ahead, open)
		}
		dumps[i] = dumpAll(t, db, `SELECT * FROM reactions ORDER BY message, user, emoji`) + dumpAll(t, tdb, `SELECT * FROM tasks ORDER BY task_id`)
	}
	if dumps[0] != dumps[1] {
		t.Fatalf("the device's views differ by order:\nseq order:\n%s\nlocal first:\n%s", dumps[0], dumps[1])
	}
}

func openSQL(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// dumpAll returns every row of q as text.
func dumpAll(t *testing.T, db *sql.DB, q string) string {
	t.Helper()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		rows.Scan(ptrs...)
		fmt.Fprintln(&b, vals...)
	}
	return b.String()
}
