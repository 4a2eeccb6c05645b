package ssb_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// contactMsg is an SSB contact message: author follows (or unfollows) whom.
func contactMsg(n int, author, whom string, following bool) []byte {
	return fmt.Appendf(nil, `{"key":"%%pending%d=.sha256","value":{"author":"%s","sequence":%d,"timestamp":1,"content":{"type":"contact","contact":"%s","following":%v}},"timestamp":2}`,
		n, author, n, whom, following)
}

// TestCatchUpDefersContacts: while a view catches up from empty, the
// backlog's contact messages wait in contacts_abouts_pending and reach
// contacts when the indexes are built, but the user's own (local) ones show
// at once; afterwards every contact message shows at once.
func TestCatchUpDefersContacts(t *testing.T) {
	const alice, bob, carol = "@alice=.ed25519", "@bob=.ed25519", "@carol=.ed25519"
	path := filepath.Join(t.TempDir(), "ssb.db")
	f, err := view.OpenFile(path, []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	following := func(author, whom string) string {
		t.Helper()
		var v sql.NullBool
		err := db.QueryRow(`SELECT following FROM contacts WHERE author_id = ? AND contact = ?`, ssb.AuthorID(author), whom).Scan(&v)
		switch {
		case err == sql.ErrNoRows:
			return "none"
		case err != nil:
			t.Fatal(err)
		}
		return fmt.Sprint(v.Bool)
	}
	pending := func() int {
		t.Helper()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM contacts_abouts_pending`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ctx := context.Background()
	apply := func(b *view.Batch) {
		t.Helper()
		if err := f.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	e := func(seq log.Seq, o log.Origin, p []byte) log.Entry { return log.Entry{Seq: seq, Origin: o, Payload: p} }

	// Catching up: a remote contact message waits; a local one applied
	// ahead shows at once.
	remote := e(1, log.Remote, contactMsg(1, alice, carol, true))
	local := e(3, log.Local, contactMsg(3, bob, carol, true))
	apply(&view.Batch{Entries: []log.Entry{remote}, From: 1, To: 1})
	if got := following(alice, carol); got != "none" || pending() != 1 {
		t.Fatalf("during the catch-up, a remote contact message: alice follows carol = %s, %d pending; want none, 1", got, pending())
	}
	apply(&view.Batch{Entries: []log.Entry{local}, Ahead: true})
	if got := following(bob, carol); got != "true" {
		t.Fatalf("during the catch-up, a local contact message applied ahead: bob follows carol = %s, want true", got)
	}
	// The backlog reaches the local entry (skipped) and an older remote
	// unfollow by bob, which must not override the newer local follow.
	older := e(2, log.Remote, contactMsg(2, bob, carol, false))
	apply(&view.Batch{Entries: []log.Entry{older, local}, From: 2, To: 3})
	if err := f.BuildIndexes(); err != nil {
		t.Fatal(err)
	}
	if a, b := following(alice, carol), following(bob, carol); a != "true" || b != "true" || pending() != 0 {
		t.Fatalf("after the indexes are built: alice follows carol = %s, bob = %s, %d pending; want true, true, 0", a, b, pending())
	}

	// Caught up: a remote contact message shows at once.
	apply(&view.Batch{Entries: []log.Entry{e(4, log.Remote, contactMsg(4, alice, carol, false))}, From: 4, To: 4})
	if got := following(alice, carol); got != "false" || pending() != 0 {
		t.Fatalf("caught up, alice unfollows carol: %s, %d pending; want false, 0", got, pending())
	}
}
