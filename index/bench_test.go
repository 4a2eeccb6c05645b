package index_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// BenchmarkIndexSSB indexes the SSB view set (secondary indexes included)
// from an empty view file over an SSB log.offset: $SLUICE_BENCH_SSB, else
// the 100k-message log bench/ssbgen/gen.sh 100000 makes, else the 3000-
// message fixture. One op is one whole initial sync.
func BenchmarkIndexSSB(b *testing.B) {
	path, src := benchLog(b)
	st, err := src.Stats()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("%s: %d messages, %.1f MB", path, st.Frames, float64(st.Bytes)/1e6)
	b.SetBytes(st.Bytes)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dbPath := filepath.Join(b.TempDir(), "ssb.db")
		b.StartTimer()
		f, err := view.OpenFile(dbPath, []view.View{ssb.View{}}, view.Options{})
		if err != nil {
			b.Fatal(err)
		}
		ix, _ := index.New(src, []*view.File{f}, index.Options{})
		if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(st.Frames)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// benchLog opens the SSB log the benchmarks index (see BenchmarkIndexSSB);
// it is closed when b ends.
func benchLog(b *testing.B) (string, *offset.Log) {
	b.Helper()
	path := os.Getenv("SLUICE_BENCH_SSB")
	if path == "" {
		path = "../bench/.data/ssb-100000-250-sluice/flume/log.offset"
		if _, err := os.Stat(path); err != nil {
			path = "../testdata/ssb/flume/log.offset"
		}
	}
	src, err := offset.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { src.Close() })
	return path, src
}

// BenchmarkOpenCaughtUp opens and closes the view file of the SSB view set
// caught up with the log of BenchmarkIndexSSB ($SLUICE_BENCH_SSB): what an
// app pays for its views at every launch. The file is built once, before
// the timer starts. "clean" opens a file closed cleanly (no integrity
// check); "check" runs PRAGMA quick_check every time (view.Options.
// AlwaysCheck), as every open did before.
func BenchmarkOpenCaughtUp(b *testing.B) {
	path, src := benchLog(b)
	dbPath := filepath.Join(b.TempDir(), "ssb.db")
	f, err := view.OpenFile(dbPath, []view.View{ssb.View{}}, view.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ix, _ := index.New(src, []*view.File{f}, index.Options{})
	if err := ix.SynchronizeUpTo(context.Background(), 0); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if fi, err := os.Stat(dbPath); err == nil {
		b.Logf("%s: view file of %.1f MB", path, float64(fi.Size())/1e6)
	}
	for _, c := range []struct {
		name string
		opts view.Options
	}{{"clean", view.Options{}}, {"check", view.Options{AlwaysCheck: true}}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				f, err := view.OpenFile(dbPath, []view.View{ssb.View{}}, c.opts)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
