package bench

import (
	"bytes"
	"testing"
	"time"
)

func TestRunIncrementalFixture(t *testing.T) {
	bin := sluiceBinary(t)
	tmp := t.TempDir()
	rep, err := RunIncremental(testContext(t, 2*time.Minute), IncrementalConfig{
		Binary: bin, Log: fixture, Sizes: []int{0, 1, 50}, Reps: 2, TempDir: tmp,
	})
	if err != nil {
		t.Fatal(err)
	}
	emptyDir(t, tmp)
	if len(rep.Results) != 6 {
		t.Fatalf("%d results, want 2 modes × 3 sizes", len(rep.Results))
	}
	for i, r := range rep.Results {
		mode := ModeSynchronize
		if i >= 3 {
			mode = ModeFollow
		}
		if r.Mode != mode || len(r.Index) != 2 || len(r.Append) != 2 {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	// 100 + 100 warm-up entries, and 2 × (0 + 1 + 50) per mode.
	if want := int64(fixtureMessages + 200 + 2*2*51); rep.Rows.Messages != want {
		t.Errorf("the views hold %d messages, want %d", rep.Rows.Messages, want)
	}
	if rep.Import.Wall <= 0 || rep.Index.Wall <= 0 || rep.Index.MaxRSS <= 0 {
		t.Errorf("setup: import %+v, index %+v", rep.Import, rep.Index)
	}
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	if rows := checkTable(t, b.String(), incrementalColumns); len(rows) != 6 {
		t.Errorf("%d rows, want 6:\n%s", len(rows), b.String())
	}
	path, err := SaveIncremental(t.TempDir(), rep)
	if err != nil || !bytes.HasSuffix([]byte(path), []byte("incremental-3000.md")) {
		t.Errorf("SaveIncremental: %s, %v", path, err)
	}
}
