package ssb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	_ "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view"
)

// The view oracle: every row the SSB view set must hold after indexing a
// log, computed from the raw payloads with oracle (encoding/json, see
// msg_test.go) and plain Go, sharing no code with the writer under test.

// viewRows are the expected or actual rows of each table, one line per row
// (see row), in any order.
type viewRows map[string][]string

// oracleTables lists the tables compared, with the query that reads a
// table's rows in the columns row formats for it (feeds instead of author
// ids: the ids are the view's own).
var oracleTables = []struct{ name, query string }{
	{"authors", `SELECT feed FROM authors`},
	{"messages", `SELECT m.seq, m.key, a.feed, m.sequence, m.claimed_ts, m.received_ts, m.type, m.is_private, m.content
		FROM messages m LEFT JOIN authors a ON a.id = m.author_id`},
	{"links", `SELECT from_seq, to_key, rel FROM links`},
	{"contacts", `SELECT a.feed, c.contact, c.following, c.following_seq, c.blocking, c.blocking_seq
		FROM contacts c LEFT JOIN authors a ON a.id = c.author_id`},
	{"abouts", `SELECT b.about, a.feed, b.name, b.name_seq, b.description, b.description_seq, b.image, b.image_seq
		FROM abouts b LEFT JOIN authors a ON a.id = b.author_id`},
	{"contacts_abouts_pending", `SELECT seq FROM contacts_abouts_pending`},
}

// documentedRels are the values of links.rel the schema documents, written
// out here so that the oracle, which uses the Rel* constants, cannot agree
// with the writer on a wrong one.
var documentedRels = []string{"vote", "root", "branch", "fork", "mention", "contact", "about"}

// row formats one row: NULL, integers, floats (shortest exact form) and
// quoted strings, separated by " | ".
func row(vals ...any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		switch v := v.(type) {
		case nil:
			parts[i] = "NULL"
		case int64:
			parts[i] = strconv.FormatInt(v, 10)
		case float64:
			parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
		case string:
			parts[i] = strconv.Quote(v)
		case []byte:
			parts[i] = strconv.Quote(string(v))
		default:
			panic(fmt.Sprintf("row: unexpected %T", v))
		}
	}
	return strings.Join(parts, " | ")
}

func nullFloatValue(f sql.NullFloat64) any {
	if !f.Valid {
		return nil
	}
	return f.Float64
}

// oracleCounts are what the expected rows cover, so a test can check that
// its log exercises what it means to.
type oracleCounts struct {
	copies      int // messages whose key an earlier message has
	private     int
	tsDiffer    int // messages whose claimed and received timestamps differ
	nullType    int // public messages with no (string) type
	contactRows int
	aboutRows   int
}

// expectViewRows computes the rows of every table from payloads, the
// entries of seqs 1, 2, ...: a message is indexed once, at the lowest seq
// holding its key; the contacts and abouts rows hold, per field, the value
// of the message with the highest seq that sets it.
func expectViewRows(t *testing.T, payloads [][]byte) (viewRows, oracleCounts) {
	t.Helper()
	type contactKey struct{ author, contact string }
	type aboutKey struct{ about, author string }
	type setBy struct {
		val any // nil until a message sets it
		seq int64
	}
	contacts := map[contactKey]*[2]setBy{}
	abouts := map[aboutKey]*[3]setBy{}
	authors := map[string]bool{}
	keys := map[string]bool{}
	var c oracleCounts
	rows := viewRows{}
	for i, p := range payloads {
		seq := int64(i + 1)
		f, err := oracle(p)
		if err != nil {
			t.Fatalf("entry %d is not a valid SSB message (%v): the oracle does not model rejects", seq, err)
		}
		authors[f.Author] = true
		if keys[f.Key] {
			c.copies++
			continue
		}
		keys[f.Key] = true
		var typ any
		if f.Type != "" {
			typ = f.Type
		} else if !f.IsPrivate {
			c.nullType++
		}
		private := int64(0)
		if f.IsPrivate {
			private = 1
			c.private++
		}
		if f.ClaimedTS != f.ReceivedTS {
			c.tsDiffer++
		}
		rows["messages"] = append(rows["messages"], row(seq, f.Key, f.Author, f.Sequence,
			nullFloatValue(f.ClaimedTS), nullFloatValue(f.ReceivedTS), typ, private, f.Content))
		for _, l := range f.Links {
			if !slices.Contains(documentedRels, l.Rel) {
				t.Fatalf("entry %d: the oracle made a link with rel %q, not one of %v", seq, l.Rel, documentedRels)
			}
			rows["links"] = append(rows["links"], row(seq, l.To, l.Rel))
		}
		if f.Type == "contact" && f.Contact.Valid && (f.Following.Valid || f.Blocking.Valid) {
			k := contactKey{f.Author, f.Contact.String}
			if contacts[k] == nil {
				contacts[k] = new([2]setBy)
			}
			for j, b := range []sql.NullBool{f.Following, f.Blocking} {
				if b.Valid {
					v := int64(0)
					if b.Bool {
						v = 1
					}
					contacts[k][j] = setBy{v, seq}
				}
			}
		}
		if f.Type == "about" && f.About.Valid && (f.Name.Valid || f.Description.Valid || f.Image.Valid) {
			k := aboutKey{f.About.String, f.Author}
			if abouts[k] == nil {
				abouts[k] = new([3]setBy)
			}
			for j, s := range []sql.NullString{f.Name, f.Description, f.Image} {
				if s.Valid {
					abouts[k][j] = setBy{s.String, seq}
				}
			}
		}
	}
	// value and the seq that set it, or two NULLs.
	pair := func(s setBy) []any {
		if s.val == nil {
			return []any{nil, nil}
		}
		return []any{s.val, s.seq}
	}
	for feed := range authors {
		rows["authors"] = append(rows["authors"], row(feed))
	}
	for k, v := range contacts {
		rows["contacts"] = append(rows["contacts"], row(slices.Concat([]any{k.author, k.contact}, pair(v[0]), pair(v[1]))...))
	}
	for k, v := range abouts {
		rows["abouts"] = append(rows["abouts"], row(slices.Concat([]any{k.about, k.author}, pair(v[0]), pair(v[1]), pair(v[2]))...))
	}
	c.contactRows, c.aboutRows = len(contacts), len(abouts)
	return rows, c
}

// readViewRows reads the rows of every table of oracleTables from the view
// file at path, through database/sql.
func readViewRows(t *testing.T, path string) viewRows {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	out := viewRows{}
	for _, tb := range oracleTables {
		rows, err := db.Query(tb.query)
		if err != nil {
			t.Fatalf("%s: %v", tb.name, err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatalf("%s: %v", tb.name, err)
			}
			out[tb.name] = append(out[tb.name], row(vals...))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("%s: %v", tb.name, err)
		}
		rows.Close()
	}
	return out
}

// compareRows fails t with the rows of a table that are missing or extra
// (as multisets), the first 5 of each.
func compareRows(t *testing.T, table string, got, want []string) {
	t.Helper()
	count := map[string]int{}
	for _, r := range want {
		count[r]++
	}
	for _, r := range got {
		count[r]--
	}
	var missing, extra []string
	for r, n := range count {
		for ; n > 0; n-- {
			missing = append(missing, r)
		}
		for ; n < 0; n++ {
			extra = append(extra, r)
		}
	}
	if len(missing)+len(extra) == 0 {
		return
	}
	slices.Sort(missing)
	slices.Sort(extra)
	first := func(rs []string) string {
		var b strings.Builder
		for i, r := range rs {
			if i == 5 {
				fmt.Fprintf(&b, "\n    ... %d more", len(rs)-i)
				break
			}
			if len(r) > 300 {
				r = r[:300] + "..."
			}
			b.WriteString("\n    " + r)
		}
		return b.String()
	}
	t.Errorf("table %s: %d rows (want %d); %d expected rows missing:%s\n  %d rows not expected:%s",
		table, len(got), len(want), len(missing), first(missing), len(extra), first(extra))
}

// indexInto indexes src with the SSB view into a new view file (bulk mode,
// as an initial sync: contacts and abouts deferred, copies removed and
// indexes built after the catch-up) and returns the file's path.
func indexInto(t *testing.T, src log.Source) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssb.db")
	f, err := view.OpenFile(path, []view.View{View{}}, view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.New(src, []*view.File{f}, index.Options{BatchSize: 250, BulkLag: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// nativeLog appends payloads, as remote entries, to a new sluice log.
func nativeLog(t *testing.T, payloads [][]byte) log.Source {
	t.Helper()
	l, err := log.Open(filepath.Join(t.TempDir(), "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	recs := make([]log.Record, len(payloads))
	for i, p := range payloads {
		recs[i] = log.Record{Origin: log.Remote, Payload: p}
	}
	if _, err := l.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
	return l
}

// TestOracle indexes a log with the SSB view set and compares every row of
// every table with what the oracle computes from the raw payloads: each
// message's seq, key, author, sequence, both timestamps, type, is_private
// and content; each link; each contacts and abouts value and the seq that
// set it. Logs: the repository's real SSB log (read in place), and a
// generated one with copies of messages and indented payloads.
func TestOracle(t *testing.T) {
	tests := []struct {
		name     string
		payloads func(t *testing.T) [][]byte
		open     func(t *testing.T, payloads [][]byte) log.Source
		copies   bool // the log must hold copies of messages
	}{
		{"fixture", func(t *testing.T) [][]byte { return readFrames(t, fixturePath) },
			func(t *testing.T, _ [][]byte) log.Source {
				l, err := offset.Open(fixturePath)
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				return l
			}, false},
		{"generated with copies", func(*testing.T) [][]byte {
			return ssbtest.Generate(ssbtest.Options{Seed: 16, Messages: 4000, Authors: 12, Copies: 0.03, Indented: 0.1})
		}, nativeLog, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payloads := tt.payloads(t)
			want, c := expectViewRows(t, payloads)
			// What the comparison rests on: a test that cannot fail for a
			// swapped or dropped column proves nothing.
			if c.tsDiffer == 0 || c.private == 0 || len(want["messages"]) == c.private || c.contactRows == 0 || c.aboutRows == 0 || len(want["links"]) == 0 {
				t.Fatalf("the log does not exercise every column: %+v, %d links", c, len(want["links"]))
			}
			if tt.copies && c.copies == 0 {
				t.Fatal("the log holds no copies of messages: removing them is not tested")
			}
			path := indexInto(t, tt.open(t, payloads))
			got := readViewRows(t, path)
			for _, tb := range oracleTables {
				compareRows(t, tb.name, got[tb.name], want[tb.name])
			}
			db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var idx int
			if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name IN
				('contacts_contact', 'messages_author_sequence', 'messages_type', 'links_to_key', 'messages_key')`).Scan(&idx); err != nil || idx != 5 {
				t.Fatalf("secondary indexes after catch-up: %d of 5, %v", idx, err)
			}
			t.Logf("%d entries: %d messages (%d copies skipped, %d private), %d links, %d contacts, %d abouts rows",
				len(payloads), len(want["messages"]), c.copies, c.private, len(want["links"]), c.contactRows, c.aboutRows)
		})
	}
}
