package offset

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// TestNotLog opens files that are not flumelog-offset files: each gives a
// *FormatError matching log.ErrNotLog that names the path and an offset.
func TestNotLog(t *testing.T) {
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.UintN(256))
	}
	badTrailer := buildLog(4, []byte(compact))
	badTrailer[len(badTrailer)-1]++
	badLen := buildLog(6, []byte(compact), []byte(private))
	badLen[4+len(compact)+3]++
	tests := []struct {
		name   string
		data   []byte
		dir    bool   // make path a directory holding data as a segment
		reason string // in the error
	}{
		{name: "random bytes", data: random, reason: "length field says"},
		{name: "JSON", data: []byte(`{"key":"%a","value":{}}` + "\n"), reason: "length field says"},
		{name: "indented JSON", data: []byte(indented), reason: "length field says"},
		{name: "text", data: []byte("hello, world\n"), reason: "length field says"},
		{name: "short text", data: []byte("hi"), reason: "cannot start a frame"},
		{name: "one byte", data: []byte{0xff}, reason: "cannot start a frame"},
		{name: "SQLite", data: append([]byte("SQLite format 3\x00"), make([]byte, 84)...), reason: "length field says"},
		{name: "sluice native log dir", dir: true, data: []byte("\x0b{\"a\":1}"), reason: "directory"},
		{name: "SSB dir", dir: true, reason: "the SSB log in it is flume/log.offset"},
		{name: "first trailer wrong", data: badTrailer, reason: "no trailer width"},
		{name: "first lengths disagree", data: badLen, reason: "lengths disagree"},
		{name: "length zero, garbage", data: []byte("\x00\x00\x00\x00xxxxxxxxxxxxxxxx"), reason: "lengths disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, tt.data)
			if tt.dir {
				path = filepath.Join(t.TempDir(), "log")
				if err := os.Mkdir(path, 0o755); err != nil {
					t.Fatal(err)
				}
				segment := filepath.Join(path, "00000000000000000001")
				if tt.data == nil {
					// An SSB directory.
					segment = filepath.Join(path, "flume", "log.offset")
					if err := os.Mkdir(filepath.Dir(segment), 0o755); err != nil {
						t.Fatal(err)
					}
				}
				if err := os.WriteFile(segment, tt.data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			l, err := Open(path)
			if err == nil {
				l.Close()
				t.Fatal("Open succeeded")
			}
			checkNotLog(t, err, path, tt.reason)
		})
	}
}

func checkNotLog(t *testing.T, err error, path, reason string) {
	t.Helper()
	var fe *FormatError
	if !errors.Is(err, log.ErrNotLog) || !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a *FormatError matching log.ErrNotLog", err)
	}
	msg := err.Error()
	if fe.Path != path || !strings.Contains(msg, path) || !strings.Contains(msg, "offset") || !strings.Contains(msg, reason) {
		t.Fatalf("err = %q: want the path %q, an offset and %q", msg, path, reason)
	}
	if errors.Is(err, log.ErrCorrupt) {
		t.Fatalf("err = %v also matches log.ErrCorrupt", err)
	}
}

// TestNotLogLater: a file empty when opened that then fills with something
// else is reported when read.
func TestNotLogLater(t *testing.T) {
	path := writeFile(t, nil)
	l := openLog(t, path)
	it, err := l.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if it.Next() || it.Err() != nil {
		t.Fatalf("empty file: Next true or Err %v", it.Err())
	}
	appendFile(t, path, []byte(`{"not":"a flumelog"}`))
	if _, err := l.Last(); err == nil {
		t.Fatal("Last succeeded")
	} else {
		checkNotLog(t, err, path, "length field says")
	}
	if it.Next() {
		t.Fatal("Next = true")
	}
	checkNotLog(t, it.Err(), path, "length field says")
}

func TestOpenMissing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing")
	_, err := Open(path)
	if !errors.Is(err, os.ErrNotExist) || errors.Is(err, log.ErrNotLog) || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want not-exist naming the path", err)
	}
}
