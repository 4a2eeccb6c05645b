package log

import (
	"context"
	"sync"
	"testing"
)

// benchPayload is a 1 KiB payload, about the size of an SSB message.
var benchPayload = func() []byte {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}()

// BenchmarkAppendSingle appends one record per call, in each durability
// mode.
func BenchmarkAppendSingle(b *testing.B) {
	for _, d := range []Durability{SyncAlways, SyncNone} {
		b.Run(d.String(), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			b.SetBytes(int64(len(benchPayload)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(ctx, Record{Payload: benchPayload}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAppendBatch appends 1000 records per call (bulk import).
func BenchmarkAppendBatch(b *testing.B) {
	for _, d := range []Durability{SyncNone, SyncAlways} {
		b.Run(d.String(), func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			recs := make([]Record, 1000)
			for i := range recs {
				recs[i] = Record{Payload: benchPayload}
			}
			ctx := context.Background()
			b.SetBytes(int64(len(benchPayload) * len(recs)))
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(ctx, recs...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(recs))/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkAppendConcurrent runs 8 appenders of one record each, with group
// commit and, for comparison, with an fsync per append. b.N counts appends.
func BenchmarkAppendConcurrent(b *testing.B) {
	for _, d := range []Durability{SyncGroup, SyncAlways} {
		b.Run(d.String()+"-8", func(b *testing.B) {
			l, err := Open(b.TempDir(), Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			const workers = 8
			b.SetBytes(int64(len(benchPayload)))
			b.ResetTimer()
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				n := b.N / workers
				if w < b.N%workers {
					n++
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < n; i++ {
						if _, err := l.Append(ctx, Record{Payload: benchPayload}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}

// BenchmarkRead iterates over a 256 MiB log (in the page cache) from start
// to end; b.SetBytes makes the result MB/s of payload.
func BenchmarkRead(b *testing.B) {
	dir := b.TempDir()
	l, err := Open(dir, Options{Durability: SyncNone})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	recs := make([]Record, 1024)
	for i := range recs {
		recs[i] = Record{Payload: benchPayload}
	}
	const n = 256
	for i := 0; i < n; i++ {
		if _, err := l.Append(context.Background(), recs...); err != nil {
			b.Fatal(err)
		}
	}
	for _, src := range []struct {
		name string
		s    Source
	}{{"writer", l}, {"reader", mustReader(b, dir)}} {
		b.Run(src.name, func(b *testing.B) {
			b.SetBytes(int64(n * len(recs) * len(benchPayload)))
			for i := 0; i < b.N; i++ {
				it, _ := src.s.Iter(1)
				var count int
				for it.Next() {
					count += len(it.Entry().Payload)
				}
				if it.Err() != nil || count != n*len(recs)*len(benchPayload) {
					b.Fatalf("read %d bytes: %v", count, it.Err())
				}
				it.Close()
			}
		})
	}
}

func mustReader(b *testing.B, dir string) *Reader {
	r, err := OpenReader(dir)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}
