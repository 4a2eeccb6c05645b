//go:build firstuser

package firstuser

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// TestAppendCostOnFullSegments: one sluice append (process start, open,
// append, close) costs several times more on a log whose segments are
// full: on a 100k-message log (11 segments of 8 MiB), 0.24 s (median of
// 15) against 0.04 s on a log of a few entries, side by side in one run;
// this test, on three full segments: 43 ms against 210 ms (×4.9), 50
// against 183 (×3.7), ×2.7 (three runs; the machine was loaded, load
// average 6 on 2 cores). strace shows the open reading the last segment
// and the one before it whole, then the last one again, and 7 fsyncs. The
// README quotes 7–10 ms for sluice append --local --wait, process start
// included, on the 600k-message log.
//
// Expected: appending one entry does not read megabytes; the two medians
// within a factor of 2.
func TestAppendCostOnFullSegments(t *testing.T) {
	small, big := t.TempDir(), t.TempDir()
	ok(t, small, nil, "append", "--json", `{"x":0}`)
	l, err := log.Open(filepath.Join(big, "log"), log.Options{Durability: log.SyncNone})
	if err != nil {
		t.Fatal(err)
	}
	pad := strings.Repeat("p", 1000)
	for i := 0; i < 26; i++ { // 26 calls of 1000 entries of 1 KB: 3 segments and a bit
		var recs []log.Record
		for j := 0; j < 1000; j++ {
			recs = append(recs, log.Record{Origin: log.Remote, Payload: []byte(fmt.Sprintf(`{"i":%d,"p":"%s"}`, i*1000+j, pad))})
		}
		if _, err := l.Append(context.Background(), recs...); err != nil {
			t.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	var ts, tb []time.Duration
	for i := 0; i < 9; i++ {
		for _, c := range []struct {
			dir string
			d   *[]time.Duration
		}{{small, &ts}, {big, &tb}} {
			start := time.Now()
			ok(t, c.dir, nil, "append", "--json", `{"x":1}`)
			*c.d = append(*c.d, time.Since(start))
		}
	}
	ms, mb := median(ts), median(tb)
	t.Logf("sluice append: %v on a 1-entry log, %v on a log of 3 full segments (medians of 9, side by side)", ms, mb)
	if mb > 2*ms {
		t.Errorf("one append on a log of full segments costs ×%.1f an append on a small log", float64(mb)/float64(ms))
	}
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
