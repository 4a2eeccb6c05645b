package offset

import (
	"os"
	"testing"
)

// benchLogs returns the logs to benchmark: the fixture, and the file
// SLUICE_BENCH_SSB names if set (e.g. a 600k-message log.offset from
// bench/ssbgen/gen.sh).
func benchLogs(b *testing.B) map[string]string {
	b.Helper()
	logs := map[string]string{"fixture": fixture}
	if p := os.Getenv("SLUICE_BENCH_SSB"); p != "" {
		logs["env"] = p
	}
	return logs
}

func fileSize(b *testing.B, path string) int64 {
	b.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size()
}

// BenchmarkIter reads a whole log with a fresh Log and iterator, as an
// indexer catching up does.
func BenchmarkIter(b *testing.B) {
	for name, path := range benchLogs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(fileSize(b, path))
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				l, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				it, err := l.Iter(1)
				if err != nil {
					b.Fatal(err)
				}
				n = 0
				for it.Next() {
					n += len(it.Entry().Payload) & 1
				}
				if err := it.Err(); err != nil {
					b.Fatal(err)
				}
				it.Close()
				l.Close()
			}
			_ = n
		})
	}
}

// BenchmarkLast counts the frames of a log opened afresh: a header walk.
func BenchmarkLast(b *testing.B) {
	for name, path := range benchLogs(b) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(fileSize(b, path))
			for b.Loop() {
				l, err := Open(path)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := l.Last(); err != nil {
					b.Fatal(err)
				}
				l.Close()
			}
		})
	}
}

// BenchmarkIterFrom starts an iterator in the middle of a log whose frames
// were counted once already, and reads one entry.
func BenchmarkIterFrom(b *testing.B) {
	for name, path := range benchLogs(b) {
		b.Run(name, func(b *testing.B) {
			l, err := Open(path)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			last, err := l.Last()
			if err != nil {
				b.Fatal(err)
			}
			from := last/2 + 77
			for b.Loop() {
				it, err := l.Iter(from)
				if err != nil {
					b.Fatal(err)
				}
				if !it.Next() || it.Entry().Seq < from {
					b.Fatalf("Next from %d: %v", from, it.Err())
				}
				it.Close()
			}
		})
	}
}
