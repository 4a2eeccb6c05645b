package bench

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Sample is one point of an indexing run's progress.
type Sample struct {
	// T is the time since indexing started.
	T time.Duration
	// Entries is how many entries every view holds (committed): sluice's
	// lowest since, or for ssb-db@20 the frames up to its slowest view's
	// since.
	Entries int64
	// RSS is the process's resident set size then, in bytes.
	RSS int64
}

// sluiceStats is one line of a sluice index --stats-file (written by
// cmd/sluice/stats.go): the fields the benchmarks read.
type sluiceStats struct {
	TMillis int64 `json:"t_ms"`
	Since   int64 `json:"since"`
	Ahead   int64 `json:"ahead"`
	RSSKiB  int64 `json:"rss_kib"`
}

// readStatsFile reads the lines of a sluice index --stats-file.
func readStatsFile(path string) ([]sluiceStats, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []sluiceStats
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		var s sluiceStats
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, n, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

// readSluiceStats reads a --stats-file as progress samples.
func readSluiceStats(path string) ([]Sample, error) {
	lines, err := readStatsFile(path)
	if err != nil {
		return nil, err
	}
	out := make([]Sample, len(lines))
	for i, s := range lines {
		out[i] = Sample{T: time.Duration(s.TMillis) * time.Millisecond, Entries: s.Since, RSS: s.RSSKiB * 1024}
	}
	return out, nil
}

// frameOffsets returns the offset of every frame of a flumelog-offset file
// with the 32-bit framing ssb-db uses: [u32 BE length][payload][u32 BE
// length][u32 BE offset of the next frame]. It maps ssb-db's byte-offset
// progress to entries.
func frameOffsets(path string) ([]int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	var offs []int64
	var off int64
	var h [4]byte
	for {
		if _, err := io.ReadFull(r, h[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return offs, nil
			}
			return nil, fmt.Errorf("%s: frame at offset %d: %w", path, off, err)
		}
		n := int64(binary.BigEndian.Uint32(h[:]))
		if _, err := r.Discard(int(n)); err != nil {
			return nil, fmt.Errorf("%s: frame at offset %d: %w", path, off, err)
		}
		var t [8]byte
		if _, err := io.ReadFull(r, t[:]); err != nil {
			return nil, fmt.Errorf("%s: frame at offset %d: %w", path, off, err)
		}
		next := off + 12 + n
		if int64(binary.BigEndian.Uint32(t[:4])) != n || int64(binary.BigEndian.Uint32(t[4:])) != next {
			return nil, fmt.Errorf("%s: frame at offset %d is not a 32-bit flumelog-offset frame", path, off)
		}
		offs = append(offs, off)
		off = next
	}
}

// entriesUpTo returns how many frames start at or before offset since:
// the entries a view whose since is that offset holds.
func entriesUpTo(offs []int64, since int64) int64 {
	return int64(sort.Search(len(offs), func(i int) bool { return offs[i] > since }))
}

// progressAt returns the entries held at t, interpolating linearly between
// samples (from 0 entries at t = 0) and holding the last value after them.
func progressAt(samples []Sample, t time.Duration) float64 {
	prevT, prevE := time.Duration(0), 0.0
	for _, s := range samples {
		if s.T >= t {
			if s.T == prevT {
				return float64(s.Entries)
			}
			return prevE + (float64(s.Entries)-prevE)*float64(t-prevT)/float64(s.T-prevT)
		}
		prevT, prevE = s.T, float64(s.Entries)
	}
	return prevE
}

// point is a point of a plotted series.
type point struct{ X, Y float64 }

// throughput returns entries/s over time: at every step, the entries
// gained over a window centred on it (clipped at 0 and at end), per
// second.
func throughput(samples []Sample, end, window, step time.Duration) []point {
	var out []point
	for t := time.Duration(0); t <= end; t += step {
		a, b := max(0, t-window/2), min(end, t+window/2)
		if b <= a {
			continue
		}
		rate := (progressAt(samples, b) - progressAt(samples, a)) / (b - a).Seconds()
		out = append(out, point{t.Seconds(), max(0, rate)})
	}
	return out
}

// medianOf returns the median of xs (the mean of the middle two for an
// even count), 0 for none.
func medianOf[T ~int64 | ~float64](xs []T) T {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// medianIndex returns the index in xs of the element closest to its
// median: the run a plot shows.
func medianIndex[T ~int64 | ~float64](xs []T) int {
	m := medianOf(xs)
	best := -1
	for i, x := range xs {
		if best < 0 || absDiff(x, m) < absDiff(xs[best], m) {
			best = i
		}
	}
	return best
}

func absDiff[T ~int64 | ~float64](a, b T) T {
	if a > b {
		return a - b
	}
	return b - a
}

// groupInt formats n with thousands separators: 600,000.
func groupInt(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	var b []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	if neg {
		return "-" + string(b)
	}
	return string(b)
}

// megabytes formats bytes in MB (10^6 bytes) with one decimal.
func megabytes(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) }

// seconds formats d in seconds with two decimals.
func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 2, 64) }

// millis formats d in milliseconds, with more decimals for small values.
func millis(d time.Duration) string {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64)
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 2, 64)
	}
	return strconv.FormatFloat(ms, 'f', 0, 64)
}

// perSecond formats n per d as a grouped integer.
func perSecond(n int64, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return groupInt(int64(float64(n)/d.Seconds() + 0.5))
}

// mbPerSecond formats bytes per d in MB/s.
func mbPerSecond(n int64, d time.Duration) string {
	if d <= 0 {
		return "–"
	}
	return strconv.FormatFloat(float64(n)/1e6/d.Seconds(), 'f', 1, 64)
}

// ratio formats a/b as "4.6×".
func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return strconv.FormatFloat(a/b, 'f', 2, 64) + "×"
}
