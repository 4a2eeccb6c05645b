package offset

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sluicedb/sluice/log"
)

const (
	compact  = `{"key":"%a","value":{"author":"@x","sequence":1,"content":{"type":"post","text":"hi"}},"timestamp":1.5}`
	indented = "{\n  \"key\": \"%b\",\n  \"value\": {\n    \"author\": \"@x\",\n    \"sequence\": 2,\n    \"content\": {\n      \"type\": \"vote\"\n    }\n  },\n  \"timestamp\": 2\n}"
	private  = `{"key":"%c","value":{"author":"@y","sequence":1,"content":"c2VjcmV0.box"},"timestamp":3}`
)

func TestFrames(t *testing.T) {
	tests := []struct {
		name     string
		payloads [][]byte
		want     []want
		deleted  int64
	}{
		{name: "empty file"},
		{name: "one frame", payloads: [][]byte{[]byte(compact)}, want: []want{{1, compact}}},
		{
			name:     "indented JSON passes through byte for byte",
			payloads: [][]byte{[]byte(compact), []byte(indented), []byte(private), []byte(indented + "\n")},
			want:     []want{{1, compact}, {2, indented}, {3, private}, {4, indented + "\n"}},
		},
		{
			name:     "deleted frames skipped, seq kept",
			payloads: [][]byte{[]byte(compact), deleted(len(indented)), []byte(private), deleted(1), []byte(indented)},
			want:     []want{{1, compact}, {3, private}, {5, indented}},
			deleted:  2,
		},
		{
			name:     "deleted first and last",
			payloads: [][]byte{deleted(len(compact)), []byte(private), deleted(len(private))},
			want:     []want{{2, private}},
			deleted:  2,
		},
		{
			name:     "all deleted",
			payloads: [][]byte{deleted(10), deleted(20), deleted(30)},
			deleted:  3,
		},
		{
			name:     "empty payload counts as deleted",
			payloads: [][]byte{[]byte(compact), {}, []byte(private)},
			want:     []want{{1, compact}, {3, private}},
			deleted:  1,
		},
		{
			name:     "payload with zero bytes not all zero",
			payloads: [][]byte{{0, 0, 1}, {1, 0}},
			want:     []want{{1, "\x00\x00\x01"}, {2, "\x01\x00"}},
		},
	}
	for _, w := range widths {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("w%d/%s", w, tt.name), func(t *testing.T) {
				file := buildLog(w, tt.payloads...)
				l := openLog(t, writeFile(t, file))
				got, err := readFrom(t, l, 1, len(tt.payloads))
				if err != nil {
					t.Fatal(err)
				}
				checkEntries(t, got, tt.want)
				last, err := l.Last()
				if err != nil || last != log.Seq(len(tt.payloads)) {
					t.Fatalf("Last = %d, %v; want %d", last, err, len(tt.payloads))
				}
				st, err := l.Stats()
				if err != nil {
					t.Fatal(err)
				}
				wantW := w
				if len(tt.payloads) == 0 {
					wantW = 0
				}
				want := Stats{Frames: int64(len(tt.payloads)), Deleted: tt.deleted, Bytes: int64(len(file)), TrailerWidth: wantW}
				if st != want {
					t.Fatalf("Stats = %+v, want %+v", st, want)
				}
			})
		}
	}
}

// TestPayloadsIndependent checks that payloads stay valid after Next and
// Close, and that appending to one cannot overwrite the next.
func TestPayloadsIndependent(t *testing.T) {
	payloads := [][]byte{[]byte(compact), []byte(indented), []byte(private)}
	l := openLog(t, writeFile(t, buildLog(4, payloads...)))
	got, err := readFrom(t, l, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got[0].Payload, "XXXX"...)
	for i, e := range got {
		if string(e.Payload) != string(payloads[i]) {
			t.Fatalf("payload %d changed to %q", i, e.Payload)
		}
	}
}

func TestClosed(t *testing.T) {
	path := writeFile(t, buildLog(4, []byte(compact), []byte(private)))
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	it, err := l.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	if !it.Next() {
		t.Fatalf("Next = false, %v", it.Err())
	}
	first := it.Entry()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if it.Next() {
		t.Fatal("Next after Close = true")
	}
	if !errors.Is(it.Err(), log.ErrClosed) {
		t.Fatalf("Err after Close = %v, want log.ErrClosed", it.Err())
	}
	if string(first.Payload) != compact {
		t.Fatalf("payload after Close = %q", first.Payload)
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Last(); !errors.Is(err, log.ErrClosed) {
		t.Fatalf("Last after Close: %v", err)
	}
	if _, err := l.Iter(1); !errors.Is(err, log.ErrClosed) {
		t.Fatalf("Iter after Close: %v", err)
	}
	if _, err := l.Wait(t.Context(), 0); !errors.Is(err, log.ErrClosed) {
		t.Fatalf("Wait after Close: %v", err)
	}
}
