package ssb_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

const fixture = "../../testdata/ssb/flume/log.offset"

// oracle is what the SSB views must hold, computed straight from the raw
// log with encoding/json, without any code of the package under test.
type oracle struct {
	perType    map[string]int // "" for private or untyped messages
	maxSeq     map[string]int64
	votes      map[string]int       // vote.link -> number of vote messages
	following  map[[2]string]bool   // latest following per (author, contact)
	blocking   map[[2]string]bool   // latest blocking per (author, contact)
	names      map[[2]string]string // latest name per (about, author)
	linkCounts map[string]int       // rel -> links
}

func computeOracle(t *testing.T, payloads [][]byte) oracle {
	t.Helper()
	o := oracle{perType: map[string]int{}, maxSeq: map[string]int64{}, votes: map[string]int{},
		following: map[[2]string]bool{}, blocking: map[[2]string]bool{}, names: map[[2]string]string{}, linkCounts: map[string]int{}}
	for _, p := range payloads {
		var m struct {
			Value struct {
				Author   string
				Sequence int64
				Content  any
			}
		}
		if err := json.Unmarshal(p, &m); err != nil {
			t.Fatal(err)
		}
		a := m.Value.Author
		o.maxSeq[a] = max(o.maxSeq[a], m.Value.Sequence)
		c, ok := m.Value.Content.(map[string]any)
		if !ok {
			o.perType[""]++
			continue
		}
		typ, _ := c["type"].(string)
		o.perType[typ]++
		str := func(k string) (string, bool) { s, ok := c[k].(string); return s, ok }
		if v, ok := c["vote"].(map[string]any); ok {
			if l, ok := v["link"].(string); ok {
				o.votes[l]++
				o.linkCounts["vote"]++
			}
		}
		for _, rel := range []string{"root", "fork", "contact", "about"} {
			if _, ok := str(rel); ok {
				o.linkCounts[rel]++
			}
		}
		switch b := c["branch"].(type) {
		case string:
			o.linkCounts["branch"]++
		case []any:
			for _, e := range b {
				if _, ok := e.(string); ok {
					o.linkCounts["branch"]++
				}
			}
		}
		if ms, ok := c["mentions"].([]any); ok {
			for _, e := range ms {
				switch e := e.(type) {
				case string:
					o.linkCounts["mention"]++
				case map[string]any:
					if _, ok := e["link"].(string); ok {
						o.linkCounts["mention"]++
					}
				}
			}
		}
		if typ == "contact" {
			if who, ok := str("contact"); ok {
				if f, ok := c["following"].(bool); ok {
					o.following[[2]string{a, who}] = f
				}
				if b, ok := c["blocking"].(bool); ok {
					o.blocking[[2]string{a, who}] = b
				}
			}
		}
		if typ == "about" {
			if subj, ok := str("about"); ok {
				if n, ok := str("name"); ok {
					o.names[[2]string{subj, a}] = n
				}
			}
		}
	}
	return o
}

// indexFixture indexes path with the SSB view into a new view file and
// returns the file's path.
func indexFixture(t *testing.T, path string, opts index.Options) string {
	t.Helper()
	src, err := offset.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dbPath := filepath.Join(t.TempDir(), "ssb.db")
	f, err := view.OpenFile(dbPath, []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.New(src, []*view.File{f}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return dbPath
}

func openRO(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestOracle(t *testing.T) {
	payloads := ssbtest.OffsetPayloads(t, fixture)
	o := computeOracle(t, payloads)
	// BulkLag 100: the fast path of an initial sync (bulk mode, indexes
	// built after catch-up) builds what the oracle checks.
	db := openRO(t, indexFixture(t, fixture, index.Options{BatchSize: 250, BulkLag: 100}))

	q := func(query string, scan func(*sql.Rows)) {
		t.Helper()
		rows, err := db.Query(query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		for rows.Next() {
			scan(rows)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	var total int
	q(`SELECT count(*) FROM messages`, func(r *sql.Rows) { r.Scan(&total) })
	if total != len(payloads) {
		t.Fatalf("messages: %d rows, the log holds %d", total, len(payloads))
	}
	perType := map[string]int{}
	q(`SELECT ifnull(type, ''), count(*) FROM messages GROUP BY type`, func(r *sql.Rows) {
		var typ string
		var n int
		r.Scan(&typ, &n)
		perType[typ] = n
	})
	compare(t, "messages per type", perType, o.perType)

	maxSeq := map[string]int64{}
	q(`SELECT feed, max(sequence) FROM messages JOIN authors ON authors.id = author_id GROUP BY feed`, func(r *sql.Rows) {
		var f string
		var n int64
		r.Scan(&f, &n)
		maxSeq[f] = n
	})
	compare(t, "max sequence per author (and distinct authors)", maxSeq, o.maxSeq)
	var authors int
	q(`SELECT count(*) FROM authors`, func(r *sql.Rows) { r.Scan(&authors) })
	if authors != len(o.maxSeq) {
		t.Fatalf("authors: %d rows, %d distinct in the log", authors, len(o.maxSeq))
	}

	votes := map[string]int{}
	q(`SELECT to_key, count(*) FROM links WHERE rel = 'vote' GROUP BY to_key`, func(r *sql.Rows) {
		var k string
		var n int
		r.Scan(&k, &n)
		votes[k] = n
	})
	compare(t, "votes per voted key", votes, o.votes)

	links := map[string]int{}
	q(`SELECT rel, count(*) FROM links GROUP BY rel`, func(r *sql.Rows) {
		var rel string
		var n int
		r.Scan(&rel, &n)
		links[rel] = n
	})
	compare(t, "links per rel", links, o.linkCounts)

	follows := map[[2]string]bool{}
	q(`SELECT feed, contact FROM contacts JOIN authors ON authors.id = author_id WHERE following = 1`, func(r *sql.Rows) {
		var a, c string
		r.Scan(&a, &c)
		follows[[2]string{a, c}] = true
	})
	wantFollows := map[[2]string]bool{}
	for k, v := range o.following {
		if v {
			wantFollows[k] = true
		}
	}
	compare(t, "follow pairs whose latest state is following", follows, wantFollows)
	if len(wantFollows) == 0 {
		t.Fatal("the fixture has no follows: the test proves nothing")
	}

	blocks := map[[2]string]bool{}
	q(`SELECT feed, contact, blocking FROM contacts JOIN authors ON authors.id = author_id WHERE blocking IS NOT NULL`, func(r *sql.Rows) {
		var a, c string
		var b bool
		r.Scan(&a, &c, &b)
		blocks[[2]string{a, c}] = b
	})
	compare(t, "latest blocking per pair", blocks, o.blocking)

	names := map[[2]string]string{}
	q(`SELECT about, feed, name FROM abouts JOIN authors ON authors.id = author_id WHERE name IS NOT NULL`, func(r *sql.Rows) {
		var s, a, n string
		r.Scan(&s, &a, &n)
		names[[2]string{s, a}] = n
	})
	compare(t, "latest name per (about, author)", names, o.names)

	var idx int
	q(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN ('messages_author_sequence', 'messages_type', 'links_to_key')`, func(r *sql.Rows) { r.Scan(&idx) })
	if idx != 3 {
		t.Fatalf("secondary indexes after catch-up: %d of 3", idx)
	}
}

func compare[K comparable, V comparable](t *testing.T, what string, got, want map[K]V) {
	t.Helper()
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok || g != w {
			diffs = append(diffs, fmt.Sprintf("%v: got %v, want %v", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("%v: got %v, want nothing", k, g))
		}
	}
	if len(diffs) > 0 {
		sort.Strings(diffs)
		if len(diffs) > 10 {
			diffs = append(diffs[:10], fmt.Sprintf("... %d more", len(diffs)-10))
		}
		t.Fatalf("%s: %d differences:\n%v", what, len(diffs), diffs)
	}
}
