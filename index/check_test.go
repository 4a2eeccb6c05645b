package index_test

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// appendPayloadsOf appends the given payloads as remote entries.
func appendPayloadsOf(t *testing.T, l *log.Log, payloads ...[]byte) {
	t.Helper()
	recs := make([]log.Record, len(payloads))
	for i, p := range payloads {
		recs[i] = log.Record{Origin: log.Remote, Payload: p}
	}
	if _, err := l.Append(context.Background(), recs...); err != nil {
		t.Fatal(err)
	}
}

// TestResentEntriesNoticed: a log that lost seqs 1051-1100 and got them
// sent again, after one new entry, holds at seq 1100 an entry with the same
// payload as the one the view applied there (the lost entries all had the
// same payload) but appended at another time: the view is rebuilt, not
// trusted.
func TestResentEntriesNoticed(t *testing.T) {
	dir := t.TempDir()
	var payloads [][]byte
	for i := 1; i <= 1100; i++ {
		p := viewtest.Payload(fmt.Sprintf("k%d", i%17), fmt.Sprintf("v%d", i))
		if i > 1050 {
			p = viewtest.Payload("tick", "same")
		}
		payloads = append(payloads, p)
	}
	a := openLog(t, filepath.Join(dir, "a"))
	appendPayloadsOf(t, a, payloads...)
	path := filepath.Join(dir, "v.db")
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	f := openViewLogf(t, path, logf, kvView("a"))
	ix, _ := index.New(a, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()

	b := openLog(t, filepath.Join(dir, "b"))
	appendPayloadsOf(t, b, payloads[:1050]...)
	appendPayloadsOf(t, b, viewtest.Payload("new", "entry"))
	appendPayloadsOf(t, b, payloads[1050:]...)
	f = openViewLogf(t, path, logf, kvView("a"))
	ix, _ = index.New(b, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "is not the one it applied") {
		t.Fatalf("notices %q, want one saying the entry at 1100 is another", notes)
	}
	checkKV(t, path, "a", b)
}

// TestOldCheckStillTrusted: a view file written before the checksum
// covered the entry's time (sluice_views without check_kind, check_crc of
// the payload alone) is still trusted over the same log, and then
// switches to the new checksum.
func TestOldCheckStillTrusted(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, filepath.Join(dir, "log"))
	appendKV(t, l, 300, 7, log.Remote)
	path := filepath.Join(dir, "v.db")
	f := openView(t, path, kvView("a"))
	ix, _ := index.New(l, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	f.Close()
	// Make it an old file: the payload's CRC, and no check_kind column.
	e, err := l.Get(300)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = db.Exec(`UPDATE sluice_views SET check_crc = ?; ALTER TABLE sluice_views DROP COLUMN check_kind`, int64(view.PayloadCRC(e.Payload)))
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	var notes []string
	logf := func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	f = openViewLogf(t, path, logf, kvView("a"))
	appendKV(t, l, 10, 7, log.Remote)
	ix, _ = index.New(l, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 0 {
		t.Fatalf("an old view file over its own log was rebuilt: %q", notes)
	}
	if p := ix.Progress(); p.Entries != 10 {
		t.Fatalf("read %d entries, want the 10 new ones", p.Entries)
	}
	last, _ := l.Get(310)
	// crc32c over seq, time (big-endian, ns), identity (node, seq) and
	// payload, computed here.
	var head [40]byte
	binary.BigEndian.PutUint64(head[:8], 310)
	binary.BigEndian.PutUint64(head[8:], uint64(last.Time.UnixNano()))
	node := l.Node() // an entry first appended here: (this log's node, its seq)
	copy(head[16:32], node[:])
	binary.BigEndian.PutUint64(head[32:], 310)
	want := crc32.Checksum(append(head[:], last.Payload...), crc32.MakeTable(crc32.Castagnoli))
	if st := f.Status()[0]; st.CheckSeq != 310 || st.CheckCRC != want {
		t.Fatalf("check after indexing: seq %d crc %d, want 310 and %d", st.CheckSeq, st.CheckCRC, want)
	}
	checkKV(t, path, "a", l)
}
