package view_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// The benchmarks of view.Typed against today's writers, which assert
// Item.Value themselves; the figures and the decision are in doc.go
// ("Typed writers"). Run side by side:
//
//	go test -run '^$' -bench 'Typed' -count 5 ./view

// BenchmarkTypedApply indexes 20,000 KV entries in batches of 1,000 into
// a new view file: viewtest.KV, whose Apply asserts each value ("any"),
// against typedKV, the same statements through view.Typed ("typed").
func BenchmarkTypedApply(b *testing.B) {
	es := kvEntries(20000)
	for _, bc := range []struct {
		name string
		v    func() view.View
	}{
		{"any", func() view.View { return &viewtest.KV{ViewName: "kv", ViewVersion: 1} }},
		{"typed", func() view.View { return typedKV{&viewtest.KV{ViewName: "kv", ViewVersion: 1}} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			for i := 0; b.Loop(); i++ {
				f, err := view.OpenFile(filepath.Join(dir, fmt.Sprint(i, ".db")), []view.View{bc.v()}, view.Options{Logf: func(string, ...any) {}})
				if err != nil {
					b.Fatal(err)
				}
				prev := log.Seq(0)
				for j := 0; j < len(es); j += 1000 {
					batch := &view.Batch{Entries: es[j:min(j+1000, len(es))], From: prev + 1}
					batch.To = batch.Entries[len(batch.Entries)-1].Seq
					if err := f.Apply(context.Background(), batch); err != nil {
						b.Fatal(err)
					}
					prev = batch.To
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(es))*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}

// BenchmarkTypedWriterOnly times only what view.Typed adds: handing a
// batch of 1,000 decoded items to a writer that reads each value and
// writes nothing, asserting Item.Value itself ("any") or through
// view.Typed ("typed"). ns/op is per batch.
func BenchmarkTypedWriterOnly(b *testing.B) {
	items := make([]view.Item, 1000)
	for i, e := range kvEntries(len(items)) {
		items[i] = view.Item{Entry: e, Value: viewtest.Pair{K: fmt.Sprint("k", i), V: "v"}}
	}
	ctx := context.Background()
	var n int
	for _, bc := range []struct {
		name string
		w    view.Writer
	}{
		{"any", sumAny{&n}},
		{"typed", view.Typed[viewtest.Pair](sumTyped{&n})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				if err := bc.w.Apply(ctx, nil, items); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if n == 0 {
		b.Fatal("the writers read nothing")
	}
}

type sumAny struct{ n *int }

func (s sumAny) Apply(_ context.Context, _ *view.Tx, items []view.Item) error {
	for _, it := range items {
		p := it.Value.(viewtest.Pair)
		*s.n += len(p.K) + int(it.Seq&1)
	}
	return nil
}

func (sumAny) Close() error { return nil }

type sumTyped struct{ n *int }

func (s sumTyped) Apply(_ context.Context, _ *view.Tx, items []view.TypedItem[viewtest.Pair]) error {
	for _, it := range items {
		*s.n += len(it.Value.K) + int(it.Seq&1)
	}
	return nil
}

func (sumTyped) Close() error { return nil }
