package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/ssb"
)

// fakeReport is a report over two logs with every kind of run.
func fakeReport() *SyncReport {
	lr := func(n int64, wall time.Duration, rss int64) *SyncLogReport {
		var samples []Sample
		for i := int64(0); i <= 10; i++ {
			samples = append(samples, Sample{T: wall * time.Duration(i) / 10, Entries: n * i / 10})
		}
		r := &SyncLogReport{Path: "/x/log.offset", Bytes: n * 880, Messages: n, Rows: SSBRows{Messages: n, Links: 2 * n}}
		for i := range 3 {
			r.Sluice = append(r.Sluice, SluiceRun{SyncProc: SyncProc{Wall: wall + time.Duration(i)*time.Second/10, MaxRSS: rss, CPU: wall}, Samples: samples, ViewBytes: n * 900})
			r.Decode = append(r.Decode, FloorRun{FloorResult: FloorResult{Kind: FloorDecode, TimedNS: int64(wall / 3), Messages: n, Links: 2 * n}})
			r.Insert = append(r.Insert, FloorRun{FloorResult: FloorResult{Kind: FloorInsert, TimedNS: int64(wall / 2)}})
		}
		r.Decoded = r.Decode[0].FloorResult
		r.JS = []JSRun{{System: "ssb-db@20.4.1 <&>", Wall: 5 * wall, PeakRSS: 200e6, Samples: samples[:5]}}
		return r
	}
	return &SyncReport{Machine: readMachine(), Command: "sluice bench sync", Logs: []*SyncLogReport{lr(100000, time.Second, 150e6), lr(600000, 6*time.Second, 160e6)}}
}

func TestMarkdownTables(t *testing.T) {
	rep := fakeReport()
	var b bytes.Buffer
	if err := rep.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	if n := strings.Count(md, "| "+strings.Join(syncColumns, " | ")+" |"); n != 2 {
		t.Errorf("%d main tables, want 2", n)
	}
	rows := checkTable(t, md, syncColumns)
	if len(rows) != 4 {
		t.Errorf("main table: %d rows, want 4", len(rows))
	}
	if got := strings.TrimSpace(rows[0][2]); got != "1.10" {
		t.Errorf("median wall of 1.0, 1.1, 1.2 s: %q", got)
	}
	mem := checkTable(t, md, memoryColumns)
	if len(mem) != 2 || strings.TrimSpace(mem[1][0]) != "600,000" {
		t.Errorf("memory table: %q", mem)
	}
	for _, want := range []string{"**sluice is 4.55× faster than", "Peak RSS with 600,000 messages is 1.07× that with 100,000 messages"} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	b.Reset()
	if err := rep.WriteMemoryMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	checkTable(t, b.String(), memoryColumns)
}

func TestSVG(t *testing.T) {
	rep := fakeReport()
	for _, lr := range rep.Logs {
		var b bytes.Buffer
		if err := lr.WriteSVG(&b); err != nil {
			t.Fatal(err)
		}
		if n := checkSVG(t, b.Bytes()); n != 4 {
			t.Errorf("%d lines, want 4 (progress and rate of two systems)", n)
		}
		if !strings.Contains(b.String(), "ssb-db@20.4.1 &lt;&amp;&gt;") {
			t.Error("the legend does not escape the system's name")
		}
	}
	// No runs at all still makes a valid (empty) plot.
	var b bytes.Buffer
	if err := (&SyncLogReport{}).WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	checkSVG(t, b.Bytes())
}

func TestSeries(t *testing.T) {
	s := []Sample{{T: time.Second, Entries: 100}, {T: 2 * time.Second, Entries: 300}}
	for _, c := range []struct {
		t    time.Duration
		want float64
	}{{0, 0}, {500 * time.Millisecond, 50}, {1500 * time.Millisecond, 200}, {3 * time.Second, 300}} {
		if got := progressAt(s, c.t); got != c.want {
			t.Errorf("progressAt(%v) = %v, want %v", c.t, got, c.want)
		}
	}
	pts := throughput(s, 2*time.Second, time.Second, 500*time.Millisecond)
	if len(pts) != 5 || pts[0].Y != 100 || pts[2].Y != 150 || pts[3].Y != 200 {
		t.Errorf("throughput: %v", pts)
	}
	if m := medianOf([]time.Duration{3, 1, 2, 10}); m != 2 {
		t.Errorf("median of 1 2 3 10 = %v", m)
	}
	if i := medianIndex([]int64{5, 1, 9}); i != 0 {
		t.Errorf("medianIndex = %d", i)
	}
	if g := groupInt(-1234567); g != "-1,234,567" {
		t.Errorf("groupInt = %s", g)
	}
	for v, want := range map[float64]float64{0.7: 1, 3: 5, 7: 10, 23: 25, 180: 200, 6.2: 10} {
		if got := niceCeil(v); got != want {
			t.Errorf("niceCeil(%v) = %v, want %v", v, got, want)
		}
	}
}

func TestFrameOffsets(t *testing.T) {
	offs, err := frameOffsets(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if len(offs) != fixtureMessages || offs[0] != 0 {
		t.Fatalf("%d frames, first at %d", len(offs), offs[0])
	}
	if n := entriesUpTo(offs, offs[41]); n != 42 {
		t.Errorf("a view at frame 42's offset holds %d entries", n)
	}
	if n := entriesUpTo(offs, offs[41]+1); n != 42 {
		t.Errorf("entriesUpTo between frames: %d", n)
	}
	if _, err := frameOffsets("report_test.go"); err == nil {
		t.Error("a Go file has frames")
	}
}

func TestMemSource(t *testing.T) {
	src := &memSource{last: 9, entries: []log.Entry{{Seq: 2}, {Seq: 3}, {Seq: 7}}}
	it, err := src.Iter(3)
	if err != nil {
		t.Fatal(err)
	}
	var got []log.Seq
	var pos []log.Seq
	pos = append(pos, it.(log.Positioner).Position())
	for it.Next() {
		got = append(got, it.Entry().Seq)
		pos = append(pos, it.(log.Positioner).Position())
	}
	if len(got) != 2 || got[0] != 3 || got[1] != 7 {
		t.Errorf("entries from 3: %v", got)
	}
	// Before 3: 2 passed; after 3: up to 6 (4..6 do not exist); after 7: the end.
	if len(pos) != 3 || pos[0] != 2 || pos[1] != 6 || pos[2] != 9 {
		t.Errorf("positions: %v", pos)
	}
	if last, err := src.Wait(context.Background(), 8); err != nil || last != 9 {
		t.Errorf("Wait(8) = %d, %v", last, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Wait(ctx, 9); err != context.Canceled {
		t.Errorf("Wait at the end with a cancelled context: %v", err)
	}
}

func TestSynthMessages(t *testing.T) {
	g := newSynthGen(7, 3, []string{"%AAAA.sha256"}, []string{"@BBBB.ed25519"}, 1e12)
	keys := map[string]bool{}
	seqs := map[string]int64{}
	types := map[string]int{}
	var m ssb.Message
	for range 2000 {
		if err := ssb.Decode(g.next(), &m); err != nil {
			t.Fatal(err)
		}
		if keys[m.Key] {
			t.Fatalf("key %s twice", m.Key)
		}
		keys[m.Key] = true
		if m.Sequence != seqs[m.Author]+1 {
			t.Fatalf("%s: sequence %d after %d", m.Author, m.Sequence, seqs[m.Author])
		}
		seqs[m.Author] = m.Sequence
		switch {
		case m.IsPrivate:
			types["private"]++
		default:
			types[m.Type]++
		}
		if !m.ClaimedTS.Valid || !m.ReceivedTS.Valid {
			t.Fatalf("message without timestamps: %+v", m)
		}
	}
	if len(seqs) != 3 {
		t.Errorf("%d authors, want 3", len(seqs))
	}
	for _, typ := range []string{"post", "vote", "contact", "about", "other", "private"} {
		if types[typ] == 0 {
			t.Errorf("no %s message in 2000: %v", typ, types)
		}
	}
	// The same seed makes the same messages.
	a, b := newSynthGen(1, 2, nil, nil, 0), newSynthGen(1, 2, nil, nil, 0)
	for range 10 {
		if !bytes.Equal(a.next(), b.next()) {
			t.Fatal("the same seed made different messages")
		}
	}
}
