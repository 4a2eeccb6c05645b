package replicate

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// FuzzStream feeds arbitrary bytes to the client's stream reader, taking
// its complete batches at varying points and reusing their arena as the
// client does. It must never panic or loop, and what it hands out must
// hold: records taken decode again from their arena (their checksums
// hold; the batch not complete yet moved intact), seqs increase, and every
// batch ends with a record not flagged "more" or is closed by a position
// at or past its last seq.
func FuzzStream(f *testing.F) {
	// Seeds besides testdata/fuzz/FuzzStream: a stream of a real log.
	f.Add(seedStream(f), uint8(3))
	f.Fuzz(func(t *testing.T, data []byte, takeEvery uint8) {
		sr := newStreamReader(bytes.NewReader(data), 1<<16)
		var prev log.Seq
		frames := 0
		var spare []byte
		check := func() {
			g := sr.take(spare)
			start := 0
			for _, end := range g.ends {
				for i := start; i < end; i++ {
					p := &g.recs[i]
					rec, err := log.DecodeRecord(g.arena[p.off : p.off+p.n])
					if err != nil {
						t.Fatalf("a record taken no longer decodes: %v", err)
					}
					if rec.Seq != p.rec.Seq || !bytes.Equal(rec.Payload, g.payload(p)) {
						t.Fatalf("record %d moved: seq %d, payload differs", p.rec.Seq, rec.Seq)
					}
					if rec.Seq <= prev {
						t.Fatalf("seq %d after %d", rec.Seq, prev)
					}
					prev = rec.Seq
					if i == end-1 && rec.More && g.pos < rec.Seq {
						t.Fatalf("batch ending at seq %d is flagged more, and no position closes it", rec.Seq)
					}
				}
				start = end
			}
			// Reuse the arena, as the client does once it is appended.
			spare = g.arena[:0]
		}
		for ; frames <= len(data); frames++ {
			ev, err := sr.next()
			if err != nil {
				var se *streamError
				if !errors.As(err, &se) && err != io.EOF {
					t.Fatalf("error %v (%T) is not a *streamError", err, err)
				}
				check()
				return
			}
			if ev == evEnd || (takeEvery > 0 && frames%int(takeEvery) == 0) {
				check()
			}
			if ev == evEnd {
				return
			}
		}
		t.Fatalf("%d frames out of %d bytes", frames, len(data))
	})
}

// seedStream is a valid stream of a small log: batches of one and several
// records, a scope, an author, positions and the end frame.
func seedStream(tb testing.TB) []byte {
	var buf bytes.Buffer
	l, err := log.Open(tb.TempDir(), log.Options{Durability: log.SyncNone})
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	recs := []log.Record{
		{Payload: []byte(`{"a":1}`)},
		{Payload: []byte(`{"b":2}`), Scope: "user:1"},
		{Payload: []byte(`{"c":3}`), Author: log.ID{Node: log.NodeID{9}, Seq: 4}},
	}
	for _, r := range [][]log.Record{recs[:1], recs, recs[1:2]} {
		if _, err := l.Append(tb.Context(), r...); err != nil {
			tb.Fatal(err)
		}
	}
	s := newBinarySink(&buf)
	s.hello(Hello{Node: l.Node().String(), Last: 6})
	it, _ := l.Iter(1)
	for it.Next() {
		s.entry(it.Entry(), it.(log.RawIterator).Raw())
	}
	it.Close()
	s.position(6, 6)
	s.end(6)
	s.flush()
	return buf.Bytes()
}
