package replicate

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"
)

// frameBytes is a frame by hand: type, uvarint length, body.
func frameBytes(typ byte, body []byte) []byte {
	b := append([]byte{typ}, binary.AppendUvarint(nil, uint64(len(body)))...)
	return append(b, body...)
}

// TestFrameRoundTrip writes every frame type with the server's writer and
// reads it back with the client's reader.
func TestFrameRoundTrip(t *testing.T) {
	var buf bytes.Buffer
	fw := frameWriter{w: bufio.NewWriter(&buf)}
	fw.w.WriteString(streamMagic)
	bodies := [][]byte{[]byte(`{"node":"x"}`), bytes.Repeat([]byte{1}, 300), nil}
	fw.frame('h', bodies[0])
	fw.frame('r', bodies[1])
	fw.frame('e', bodies[2])
	fw.position('p', 300, 1<<40)
	fw.position('z', 301, 0)
	fw.w.Flush()
	want := join(t, []byte(streamMagic), frameBytes('h', bodies[0]), frameBytes('r', bodies[1]), frameBytes('e', nil),
		frameBytes('p', []byte{0xac, 0x02, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20}), frameBytes('z', []byte{0xad, 0x02}))
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("written\n% x\nwant\n% x", buf.Bytes(), want)
	}
	fr := newFrameReader(bytes.NewReader(buf.Bytes()), 0)
	if err := fr.magic(); err != nil {
		t.Fatal(err)
	}
	for i, wantTyp := range []byte{'h', 'r', 'e'} {
		typ, body, err := fr.next()
		if err != nil || typ != wantTyp || !bytes.Equal(body, bodies[i]) {
			t.Fatalf("frame %d: %q %x %v", i, typ, body, err)
		}
	}
	typ, body, _ := fr.next()
	if p, l, err := decodePosition(typ, body); err != nil || p != 300 || l != 1<<40 {
		t.Fatalf("position: %d %d %v", p, l, err)
	}
	typ, body, _ = fr.next()
	if p, _, err := decodePosition(typ, body); err != nil || typ != 'z' || p != 301 {
		t.Fatalf("end: %d %v", p, err)
	}
	if _, _, err := fr.next(); err == nil {
		t.Fatal("read past the end")
	}
}

func join(t *testing.T, parts ...[]byte) []byte { return bytes.Join(parts, nil) }
