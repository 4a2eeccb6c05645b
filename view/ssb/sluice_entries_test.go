package ssb_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// TestSkipsSluiceEntries: sluice's own entries (tasks, their bookkeeping,
// answers) in a log indexed by the SSB view are skipped, not recorded as
// rejects; a payload that is neither an SSB message nor one of sluice's is
// still rejected, and messages around them are indexed.
func TestSkipsSluiceEntries(t *testing.T) {
	const alice, carol = "@alice=.ed25519", "@carol=.ed25519"
	path := filepath.Join(t.TempDir(), "ssb.db")
	f, err := view.OpenFile(path, []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	payloads := []string{
		string(contactMsg(1, alice, carol, true)),
		`{"sluice":"task","id":"t1","queue":"q","kind":"note","payload":{"i":1}}`,
		`{"sluice":"task.send","ids":["t1"],"attempt":1}`,
		`{"sluice":"task.answer","node":"ab","id":"t1","queue":"q","kind":"note","seq":2,"outcome":"succeeded"}`,
		`{"note":"not a message", "about":"sluice"}`,
		`{"nested":{"sluice":"task"}}`,
		string(contactMsg(7, carol, alice, true)),
	}
	var es []log.Entry
	for i, p := range payloads {
		es = append(es, log.Entry{Seq: log.Seq(i + 1), Origin: log.Remote, Payload: []byte(p)})
	}
	if err := f.Apply(context.Background(), &view.Batch{Entries: es, From: 1, To: log.Seq(len(es))}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var rejected []log.Seq
	rows, err := db.Query(`SELECT seq FROM sluice_rejects ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s log.Seq
		rows.Scan(&s)
		rejected = append(rejected, s)
	}
	rows.Close()
	if len(rejected) != 2 || rejected[0] != 5 || rejected[1] != 6 {
		t.Fatalf("rejected seqs %v, want [5 6]: only the payloads that are neither messages nor sluice's own", rejected)
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM messages`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("%d messages (err %v), want 2", n, err)
	}
}
