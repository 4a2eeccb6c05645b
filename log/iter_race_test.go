package log

import (
	"context"
	"path/filepath"
	"testing"
)

// TestIterFirstAppend reads a new log's first entry while it is appended:
// reaching the end of the file while an Append publishes its seq is not
// corruption. (The iterator compared the seq published after its last read
// of the file, and failed with "the log ends before seq 1, which was
// appended": in round 0 of each of 3 runs before the fix.)
func TestIterFirstAppend(t *testing.T) {
	for round := 0; round < 40; round++ {
		l, err := Open(filepath.Join(t.TempDir(), "log"), Options{Durability: SyncNone})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			l.Append(context.Background(), Record{Origin: Local, Payload: []byte(`{"i":1}`)})
		}()
		for got := false; !got; {
			it, err := l.Iter(1)
			if err != nil {
				t.Fatal(err)
			}
			got = it.Next()
			if err := it.Err(); err != nil {
				t.Fatalf("round %d: reading seq 1 while it is appended: %v", round, err)
			}
			it.Close()
		}
		<-done
		l.Close()
	}
}
