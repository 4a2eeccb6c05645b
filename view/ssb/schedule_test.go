package ssb_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/ssb"
)

// allViews returns the built-in SSB view set and the SQL examples in
// testdata/views, all in one file.
func allViews(t *testing.T) []view.View {
	t.Helper()
	vs := []view.View{ssb.View{}}
	for _, name := range []string{"posts", "votes"} {
		v, err := sqlview.Load("../../testdata/views/" + name + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

// schedule indexes entries into a new view file in the order a random
// schedule gives: backlog batches in seq order, with, between them, batches
// of local entries beyond the backlog applied ahead, in any order. With
// rng nil the schedule is plain seq order, one batch at a time. With
// incremental set, the secondary indexes exist from the start (a view that
// caught up before the entries arrived); otherwise they are built at the
// end (a catch-up from scratch). It returns the file's dump.
func schedule(t *testing.T, entries []log.Entry, rng *rand.Rand, incremental bool) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v.db")
	f, err := view.OpenFile(path, allViews(t), view.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if incremental {
		if err := f.BuildIndexes(); err != nil {
			t.Fatal(err)
		}
	}
	applied := map[log.Seq]bool{}
	pos := 0
	for pos < len(entries) {
		if rng != nil && rng.IntN(3) == 0 {
			// Some local entries beyond the backlog, ahead, ascending.
			var ahead []log.Entry
			for _, e := range entries[pos:] {
				if e.Origin == log.Local && !applied[e.Seq] && rng.IntN(4) == 0 {
					ahead = append(ahead, e)
					applied[e.Seq] = true
				}
			}
			if len(ahead) > 0 {
				if err := f.Apply(ctx, &view.Batch{Entries: ahead, Ahead: true}); err != nil {
					t.Fatal(err)
				}
				continue
			}
		}
		k := 1
		if rng != nil {
			k = 1 + rng.IntN(60)
		}
		end := min(pos+k, len(entries))
		b := &view.Batch{Entries: entries[pos:end], From: entries[pos].Seq, To: entries[end-1].Seq}
		if err := f.Apply(ctx, b); err != nil {
			t.Fatal(err)
		}
		pos = end
	}
	if !incremental {
		if err := f.BuildIndexes(); err != nil {
			t.Fatal(err)
		}
	}
	for _, st := range f.Status() {
		if st.Since != entries[len(entries)-1].Seq || st.Ahead != 0 {
			t.Fatalf("view %s: since %d, %d ahead", st.Name, st.Since, st.Ahead)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := ssbtest.Dump(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomLog(seed uint64, rng *rand.Rand) []log.Entry {
	payloads := ssbtest.Generate(ssbtest.Options{
		Seed: seed, Messages: 150 + rng.IntN(350), Authors: 2 + rng.IntN(7),
		Copies: []float64{0, 0.02, 0.1}[rng.IntN(3)], Indented: 0.1,
	})
	local := rng.Float64() * 0.5
	es := make([]log.Entry, len(payloads))
	for i, p := range payloads {
		o := log.Remote
		if rng.Float64() < local {
			o = log.Local
		}
		es[i] = log.Entry{Seq: log.Seq(i + 1), Origin: o, Payload: p}
	}
	return es
}

// TestScheduleIndependence is the property local-first indexing rests on:
// for random logs, indexing in seq order and indexing with local entries
// applied ahead of the backlog in random schedules give identical tables,
// for the SSB view set and the SQL examples, whether the secondary indexes
// exist during indexing or are built after it (bulk and incremental paths
// agree too).
func TestScheduleIndependence(t *testing.T) {
	trials := 25
	if testing.Short() {
		trials = 5
	}
	for trial := 0; trial < trials; trial++ {
		t.Run(fmt.Sprint(trial), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(trial), 42))
			entries := randomLog(uint64(trial), rng)
			want := schedule(t, entries, nil, true)
			if got := schedule(t, entries, nil, false); got != want {
				t.Fatalf("bulk path (indexes built after) differs from the incremental path:\n%s", ssbtest.Diff(want, got))
			}
			for s := 0; s < 3; s++ {
				incremental := s%2 == 0
				if got := schedule(t, entries, rng, incremental); got != want {
					t.Fatalf("schedule %d (incremental %v) differs from seq order:\n%s", s, incremental, ssbtest.Diff(want, got))
				}
			}
		})
	}
}
