package log

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// v1Record builds a format 1 record by hand, as the code of format 1 wrote
// it: crc32c(4) seq(8) time(8) origin(1) payload.
func v1Record(seq Seq, origin Origin, t int64, payload []byte) []byte {
	b := make([]byte, headerSize, headerSize+len(payload))
	binary.LittleEndian.PutUint64(b[4:], uint64(seq))
	binary.LittleEndian.PutUint64(b[12:], uint64(t))
	b[20] = byte(origin)
	b = append(b, payload...)
	binary.LittleEndian.PutUint32(b, crc32.Checksum(b[4:], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

// fuzzSegment is a segment of format 1 records, then format 2 ones: single
// appends, a batch of three, a replicated entry with a scope and a lost
// placeholder.
func fuzzSegment() []byte {
	var seg []byte
	seq := Seq(0)
	add := func(rec []byte) { seq++; seg = appendFrame(seg, rec) }
	add(v1Record(seq+1, Remote, 1e9, payloadFor(1)))
	add(v1Record(seq+1, Local, 2e9, payloadFor(2)))
	add(appendRecord(nil, seq+1, 3e9, &Record{Origin: Local, Payload: payloadFor(3)}, 0))
	for i := 0; i < 3; i++ {
		var more byte
		if i < 2 {
			more = flagMore
		}
		add(appendRecord(nil, seq+1, 4e9, &Record{Payload: payloadFor(int(seq + 1))}, more))
	}
	node := NodeID{1, 2, 3}
	add(appendRecord(nil, seq+1, 5e9, &Record{Payload: payloadFor(int(seq + 1)), Author: ID{node, 77}, Via: ID{NodeID{9}, 300}, Scope: "user:7777"}, 0))
	add(appendRecord(nil, seq+1, 6e9, &Record{}, flagLost))
	return seg
}

// FuzzScanSegment feeds arbitrary bytes to the segment scanner and to an
// iterator reading them as a log: no panic, no hang, and the two agree on
// how far the complete Appends go before the damage.
func FuzzScanSegment(f *testing.F) {
	seg := fuzzSegment()
	f.Add(seg)
	f.Add(seg[:len(seg)-3])
	f.Add(append(append([]byte(nil), seg...), make([]byte, 64)...))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := scanSegment(data, 1)
		if r.end > len(data) || (r.badAt >= 0 && r.badAt != r.end) || r.batchEnd > r.end {
			t.Fatalf("scan result %+v for %d bytes", r, len(data))
		}
		if r.badAt < 0 && r.end != len(data) {
			t.Fatalf("clean scan ended at %d of %d", r.end, len(data))
		}
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, formatFile), []byte(formatV1), 0o644)
		os.WriteFile(filepath.Join(dir, "00000000000000000001"), data, 0o644)
		it := newIter(dir, NodeID{}, 1, nil, nil)
		defer it.Close()
		var prev Seq
		for it.Next() {
			if s := it.Entry().Seq; s <= prev || s > r.batchLast {
				t.Fatalf("iterator yielded seq %d after %d; the scanner's complete appends end at %d", s, prev, r.batchLast)
			}
			prev = it.Entry().Seq
		}
		if (it.Err() != nil) != (r.badAt >= 0 && !r.torn) {
			t.Fatalf("iterator err %v, scanner %+v", it.Err(), r)
		}
		if it.Err() == nil && it.Position() != r.batchLast {
			t.Fatalf("iterator passed seq %d, scanner's complete appends end at %d", it.Position(), r.batchLast)
		}
	})
}

// FuzzRecord checks the record codec: decoding arbitrary bytes never panics,
// and whatever is encoded decodes to the same fields.
func FuzzRecord(f *testing.F) {
	f.Add(uint64(1), uint8(0), int64(0), []byte("x"), []byte{})
	f.Add(uint64(1<<40), uint8(1), int64(-5), []byte(`{"a":1}`), v1Record(9, Local, 7, []byte("abc")))
	seg := fuzzSegment()
	for off := 0; off < len(seg); {
		rec, n, _ := readFrame(seg[off:])
		f.Add(uint64(off+1), uint8(off), int64(off), []byte("p"), rec)
		off += n
	}
	f.Fuzz(func(t *testing.T, seq uint64, origin uint8, ts int64, payload, raw []byte) {
		decodeRecord(raw)
		readFrame(raw)
		if len(payload) == 0 {
			return
		}
		o := Origin(origin % 2)
		rec := appendRecord(nil, Seq(seq), ts, &Record{Origin: o, Payload: payload}, 0)
		e, flags, why := decodeRecord(rec)
		if why != "" || e.Seq != Seq(seq) || e.Origin != o || e.Time.UnixNano() != ts || !bytes.Equal(e.Payload, payload) || flags&flagMore != 0 {
			t.Fatalf("round trip: %+v %q", e, why)
		}
		framed := appendFrame(nil, rec)
		got, n, st := readFrame(framed)
		if st != frameOK || n != len(framed) || !bytes.Equal(got, rec) {
			t.Fatalf("frame round trip: %v %d", st, n)
		}
		// Any single flipped bit is caught.
		for _, i := range []int{0, 4, 12, 20, len(rec) - 1} {
			bad := append([]byte(nil), rec...)
			bad[i] ^= 1
			if _, _, why := decodeRecord(bad); why == "" {
				t.Fatalf("flipped bit at %d not detected", i)
			}
		}
	})
}

// FuzzRecordFields round-trips format 2 records with every optional field:
// what decodes is what was encoded, and a record refused by Append's
// checks is never produced.
func FuzzRecordFields(f *testing.F) {
	f.Add(uint64(5), true, []byte{1, 2}, uint64(9), []byte{3}, uint64(4), "user:7777", []byte("p"), true)
	f.Add(uint64(1), false, []byte{}, uint64(0), []byte{}, uint64(0), "", []byte("{}"), false)
	f.Fuzz(func(t *testing.T, seq uint64, local bool, author []byte, authorSeq uint64, via []byte, viaSeq uint64, scope string, payload []byte, more bool) {
		if len(payload) == 0 || CheckScope(scope) != nil {
			return
		}
		r := Record{Payload: payload, Scope: scope}
		if local {
			r.Origin = Local
		}
		copy(r.Author.Node[:], author)
		copy(r.Via.Node[:], via)
		r.Author.Seq, r.Via.Seq = Seq(authorSeq), Seq(viaSeq)
		if r.Author.invalid() != "" || r.Via.invalid() != "" || (r.Author.IsZero() && !r.Via.IsZero()) {
			return
		}
		var extra byte
		if more {
			extra = flagMore
		}
		rec := appendRecord(nil, Seq(seq), 42, &r, extra)
		if len(rec) != recordLen(&r) {
			t.Fatalf("record is %d bytes, recordLen says %d", len(rec), recordLen(&r))
		}
		e, flags, why := decodeRecord(rec)
		if why != "" {
			t.Fatalf("decode: %s", why)
		}
		if e.Seq != Seq(seq) || e.Origin != r.Origin || e.ID != r.Author || e.Via != r.Via || e.Scope != scope ||
			!bytes.Equal(e.Payload, payload) || (flags&flagMore != 0) != more {
			t.Fatalf("round trip: got %+v flags %#x, want %+v more %v", e, flags, r, more)
		}
		for i := 0; i < len(rec); i += 7 {
			bad := append([]byte(nil), rec...)
			bad[i] ^= 0x10
			if _, _, why := decodeRecord(bad); why == "" {
				t.Fatalf("flipped bit at %d not detected", i)
			}
		}
	})
}

func appendFrame(dst, rec []byte) []byte {
	var tmp [10]byte
	n := putUvarint(tmp[:], uint64(len(rec)))
	return append(append(dst, tmp[:n]...), rec...)
}
