package lattice_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
)

// BenchmarkParseDelta parses the seed's first chat delta.
func BenchmarkParseDelta(b *testing.B) {
	p := []byte(seedDeltas[0])
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if _, err := lattice.ParseDelta(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeNotDelta is the cost the lattice view adds to an entry
// that is not a delta (an SSB message).
func BenchmarkDecodeNotDelta(b *testing.B) {
	e := log.Entry{Seq: 1, Payload: []byte(`{"key":"%k=.sha256","value":{"previous":null,"author":"@a=.ed25519","sequence":1,"timestamp":1,"hash":"sha256","content":{"type":"post","text":"hello world, this is a post of moderate length"},"signature":"sig"},"timestamp":2}`)}
	b.SetBytes(int64(len(e.Payload)))
	for b.Loop() {
		if v, err := (lattice.View{}).Decode(e); v != nil || err != nil {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkApply indexes random deltas (about 4 fields each) in batches of
// 1000, decoding included; ns/op is per delta.
func BenchmarkApply(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	entries := make([]log.Entry, 1000)
	for i := range entries {
		entries[i] = log.Entry{Payload: []byte(randomDelta(rng).payload)}
	}
	f, _ := newFile(b, "")
	ctx := context.Background()
	seq := log.Seq(0)
	n := 0
	for b.Loop() {
		for i := range entries {
			seq++
			entries[i].Seq = seq
		}
		if err := f.Apply(ctx, &view.Batch{Entries: entries, From: entries[0].Seq, To: seq}); err != nil {
			b.Fatal(err)
		}
		n += len(entries)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/delta")
}
