package lattice_test

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
)

// TestIndexerLocalAhead runs the real indexer over a log: a backlog of
// remote deltas (with entries that are not deltas and malformed ones) is
// indexed in bulk mode while local ones are appended, which the indexer
// applies ahead of the backlog. The view ends up with the merge of every
// delta, every malformed one rejected once, and identical to indexing the
// same log in seq order, one entry per batch.
func TestIndexerLocalAhead(t *testing.T) {
	const backlog, maxLocal = 2000, 1500
	rng := rand.New(rand.NewPCG(7, 15))
	want := newModel()
	var entries []log.Entry
	rejects := map[log.Seq]string{}
	dir := t.TempDir()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	add := func(o log.Origin, payload string) {
		t.Helper()
		seqs, err := l.Append(ctx, log.Record{Origin: o, Payload: []byte(payload)})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, log.Entry{Seq: seqs[0], Origin: o, Payload: []byte(payload)})
	}
	// addDelta appends a random delta, or now and then an entry that is
	// not one or a malformed one.
	addDelta := func(o log.Origin) {
		t.Helper()
		switch rng.IntN(20) {
		case 0:
			add(o, notDeltas[rng.IntN(len(notDeltas))])
		case 1:
			b := badDeltas[rng.IntN(len(badDeltas))]
			add(o, b.payload)
			rejects[entries[len(entries)-1].Seq] = b.msg
		default:
			d := randomDelta(rng)
			d.apply(want)
			add(o, d.payload)
		}
	}
	for i := 0; i < backlog; i++ {
		addDelta(log.Remote)
	}

	f, path := newFile(t, dir)
	ix, err := index.New(l, []*view.File{f}, index.Options{BatchSize: 100, BulkLag: 100, BacklogShare: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- ix.Run(runCtx) }()
	// Local deltas until the backlog is done (or maxLocal of them).
	for n := 0; n < maxLocal && !f.Applied(lattice.Name, backlog); n++ {
		addDelta(log.Local)
	}
	// Every entry shows: the backlog's last one only once since reaches
	// it (it is remote), which covers every earlier entry; the local ones
	// after it each show once applied, ahead or not. (WaitFor on the last
	// local entry alone would return as soon as that one went ahead, with
	// the backlog maybe still running: the loop above stops after maxLocal
	// appends whether or not the backlog is done.)
	for _, e := range entries[backlog-1:] {
		if err := ix.WaitFor(ctx, e.Seq); err != nil {
			t.Fatal(err)
		}
	}
	stop()
	if err := <-done; err != nil && err != context.Canceled {
		t.Fatal(err)
	}
	if p := ix.Progress(); p.AheadApplied == 0 {
		t.Fatalf("no local entry was applied ahead of the backlog (%d local appended): the test proves nothing", len(entries)-backlog)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	checkModel(t, path, want, rejects)
	if got, inOrder := dump(t, path), dump(t, indexLog(t, entries, live, nil)); got != inOrder {
		t.Fatalf("the indexer's result differs from seq order:\n%s", ssbtest.Diff(inOrder, got))
	}
	t.Logf("%d backlog entries, %d local, %d applied ahead", backlog, len(entries)-backlog, ix.Progress().AheadApplied)
}
