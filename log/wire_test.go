package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"testing"
)

// TestRawRecords: Raw hands out each entry's record exactly as it is in the
// segment files (read here by hand, frame by frame), from a writer's
// iterator and a Reader's, across segments and inside multi-record calls;
// DecodeRecord gives back the iterator's entry, and More is set on every
// record of a call but its last.
func TestRawRecords(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{SegmentSize: 4096})
	author := NodeID{0xa1}
	via := NodeID{0xb2}
	ctx := context.Background()
	var wantMore []bool
	for call := 0; call < 40; call++ {
		var recs []Record
		n := 1 + call%4
		for i := 0; i < n; i++ {
			r := Record{Origin: Origin(i % 2), Payload: bytes.Repeat([]byte{byte('a' + call%26)}, 50+call*7+i)}
			if call%3 == 1 {
				r.Author, r.Scope = ID{author, Seq(call*10 + i + 1)}, "user:1"
			}
			if call%6 == 4 {
				r.Via = ID{via, Seq(call + i + 1)}
			}
			recs = append(recs, r)
			wantMore = append(wantMore, i < n-1)
		}
		if _, err := l.Append(ctx, recs...); err != nil {
			t.Fatal(err)
		}
	}

	// The records on disk, by hand: uvarint length, then the record.
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	var onDisk [][]byte
	for _, s := range segs {
		data, err := os.ReadFile(s.path)
		if err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			n, k := binary.Uvarint(data)
			if k <= 0 || int(n) > len(data)-k {
				t.Fatalf("%s: bad frame", s.path)
			}
			onDisk = append(onDisk, data[k:k+int(n)])
			data = data[k+int(n):]
		}
	}

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for name, src := range map[string]Source{"writer": l, "reader": r} {
		it, err := src.Iter(1)
		if err != nil {
			t.Fatal(err)
		}
		ri, ok := it.(RawIterator)
		if !ok {
			t.Fatalf("%s: iterator is not a RawIterator", name)
		}
		i := 0
		for ; it.Next(); i++ {
			e := it.Entry()
			raw := ri.Raw()
			if i >= len(onDisk) || !bytes.Equal(raw, onDisk[i]) {
				t.Fatalf("%s: seq %d: Raw differs from the segment's record", name, e.Seq)
			}
			sr, err := DecodeRecord(raw)
			if err != nil {
				t.Fatalf("%s: seq %d: %v", name, e.Seq, err)
			}
			if sr.ID.IsZero() {
				sr.ID = ID{l.Node(), sr.Seq}
			}
			if sr.Seq != e.Seq || sr.Origin != e.Origin || !sr.Time.Equal(e.Time) || sr.ID != e.ID || sr.Via != e.Via ||
				sr.Scope != e.Scope || !bytes.Equal(sr.Payload, e.Payload) || sr.Lost {
				t.Fatalf("%s: seq %d: decoded %+v, iterator %+v", name, e.Seq, sr, e)
			}
			if sr.More != wantMore[i] || RecordMore(raw) != wantMore[i] {
				t.Fatalf("%s: seq %d: more %v (RecordMore %v), want %v", name, e.Seq, sr.More, RecordMore(raw), wantMore[i])
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		if i != len(onDisk) {
			t.Fatalf("%s: %d entries, %d records on disk", name, i, len(onDisk))
		}
		it.Close()
	}
}

// TestDecodeRecordRefuses: a record damaged anywhere is refused with
// ErrBadRecord and a reason.
func TestDecodeRecordRefuses(t *testing.T) {
	rec := appendRecord(nil, 7, 1, &Record{Payload: []byte(`{"a":1}`), Author: ID{NodeID{9}, 3}, Scope: "user:2"}, flagMore)
	if sr, err := DecodeRecord(rec); err != nil || !sr.More || sr.ID != (ID{NodeID{9}, 3}) || sr.Scope != "user:2" {
		t.Fatalf("intact record: %+v, %v", sr, err)
	}
	for i := range rec {
		bad := bytes.Clone(rec)
		bad[i] ^= 0x40
		if _, err := DecodeRecord(bad); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("byte %d flipped: err %v, want ErrBadRecord", i, err)
		}
	}
	for n := 0; n < len(rec); n++ {
		if _, err := DecodeRecord(rec[:n]); !errors.Is(err, ErrBadRecord) {
			t.Fatalf("cut to %d bytes: err %v, want ErrBadRecord", n, err)
		}
	}
}
