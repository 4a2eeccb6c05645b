package log

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"strings"
	"testing"
	"time"
)

// TestRecordBytes checks the bytes of format 2 records on disk against
// ones written out by hand from doc.go's table.
func TestRecordBytes(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{})
	author := NodeID{0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f}
	via := NodeID{0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f}
	before := time.Now()
	if _, err := l.Append(context.Background(),
		Record{Origin: Local, Payload: []byte("ab")},
		Record{Payload: []byte("{}"), Author: ID{author, 5}, Via: ID{via, 300}, Scope: "user:7777"},
	); err != nil {
		t.Fatal(err)
	}
	after := time.Now()
	segs, _ := listSegments(dir)
	data, _ := os.ReadFile(segs[0].path)

	// The frames, by hand. The time is whatever the log wrote (checked to
	// lie within the Append), and the crc32c is recomputed over the rest.
	frame := func(seq byte, flags byte, tail []byte) []byte {
		rec := []byte{0, 0, 0, 0, seq, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, flags}
		rec = append(rec, tail...)
		return append([]byte{byte(len(rec))}, rec...)
	}
	want1 := frame(1, 0x80|0x01|0x02, []byte("ab")) // format 2, local, more
	tail2 := append([]byte{}, author[:]...)
	tail2 = append(tail2, 0x05)
	tail2 = append(tail2, via[:]...)
	tail2 = append(tail2, 0xac, 0x02) // uvarint 300
	tail2 = append(tail2, 9)
	tail2 = append(tail2, "user:7777{}"...)
	want2 := frame(2, 0x80|0x04|0x08|0x10, tail2) // format 2, remote, last of its Append, author, via, scope
	if len(data) != len(want1)+len(want2) {
		t.Fatalf("segment holds %d bytes, want %d", len(data), len(want1)+len(want2))
	}
	for i, want := range [][]byte{want1, want2} {
		got := data[:len(want)]
		data = data[len(want):]
		ts := time.Unix(0, int64(binary.LittleEndian.Uint64(got[13:21])))
		if ts.Before(before) || ts.After(after) {
			t.Fatalf("record %d: time %v not within the Append", i+1, ts)
		}
		copy(want[13:21], got[13:21])
		binary.LittleEndian.PutUint32(want[1:5], crc32.Checksum(want[5:], crc32.MakeTable(crc32.Castagnoli)))
		if !bytes.Equal(got, want) {
			t.Fatalf("record %d:\n got % x\nwant % x", i+1, got, want)
		}
	}
}

// TestAppendRefuses: Append refuses what cannot be stored, with an error
// saying why, and writes nothing.
func TestAppendRefuses(t *testing.T) {
	dir := t.TempDir()
	l := openT(t, dir, Options{MaxRecordSize: 1000, MaxBatchSize: 3000})
	appendN(t, l, 1, 2, Local)
	own, other, third := l.Node(), NodeID{1}, NodeID{2}
	p := []byte("x")
	cases := []struct {
		name string
		recs []Record
		want error
		says string
	}{
		{"own author", []Record{{Payload: p, Author: ID{own, 1}}}, ErrInvalid, "own node"},
		{"author seq without node", []Record{{Payload: p, Author: ID{Seq: 3}}}, ErrInvalid, "without a node"},
		{"author node with seq 0", []Record{{Payload: p, Author: ID{Node: other}}}, ErrInvalid, "seq 0"},
		{"via seq without node", []Record{{Payload: p, Author: ID{other, 1}, Via: ID{Seq: 3}}}, ErrInvalid, "without a node"},
		{"via without author", []Record{{Payload: p, Via: ID{other, 3}}}, ErrInvalid, "without an author"},
		{"via is the author", []Record{{Payload: p, Author: ID{other, 1}, Via: ID{other, 3}}}, ErrInvalid, "author's node"},
		{"via is this node", []Record{{Payload: p, Author: ID{other, 1}, Via: ID{own, 3}}}, ErrInvalid, "own node"},
		{"scope with a space", []Record{{Payload: p, Scope: "user 7"}}, ErrInvalid, "scope"},
		{"scope not ASCII", []Record{{Payload: p, Scope: "usér"}}, ErrInvalid, "scope"},
		{"scope too long", []Record{{Payload: p, Scope: strings.Repeat("s", 256)}}, ErrInvalid, "256 bytes"},
		{"bad second record", []Record{{Payload: p}, {Payload: p, Scope: "\n"}}, ErrInvalid, "record 2 of 2"},
		{"batch too large", []Record{{Payload: make([]byte, 1000)}, {Payload: make([]byte, 1000)}, {Payload: make([]byte, 1000)}}, ErrTooLarge, "MaxBatchSize"},
	}
	segs, _ := listSegments(dir)
	before, _ := os.ReadFile(segs[0].path)
	for _, c := range cases {
		seqs, err := l.Append(context.Background(), c.recs...)
		if !errors.Is(err, c.want) || seqs != nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Append = %v, %v; want %v saying %q", c.name, seqs, err, c.want, c.says)
		}
	}
	if after, _ := os.ReadFile(segs[0].path); !bytes.Equal(before, after) {
		t.Fatal("a refused Append changed the log")
	}
	// The limits themselves are fine: a full scope, a batch just fitting.
	ok := []Record{{Payload: p, Author: ID{other, 9}, Via: ID{third, 4}, Scope: strings.Repeat("~", 255)}}
	if _, err := l.Append(context.Background(), ok...); err != nil {
		t.Fatal(err)
	}
	fit := []Record{{Payload: make([]byte, 1000)}, {Payload: make([]byte, 1000)}, {Payload: make([]byte, 900)}}
	if _, err := l.Append(context.Background(), fit...); err != nil {
		t.Fatalf("a batch under MaxBatchSize: %v", err)
	}
}
