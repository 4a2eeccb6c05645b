package bench

import (
	"context"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/ssb"
)

// TestLocal runs the whole benchmark on the 3000-message fixture: every
// mode once, with a short writer run, the follower and CLI experiments.
func TestLocal(t *testing.T) {
	bin := sluiceBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	cfg := LocalConfig{
		Sluice: bin, Source: filepath.Join("..", "testdata", "ssb", "flume", "log.offset"),
		WorkDir: t.TempDir(), Runs: 1, After: 20, Timeout: time.Minute,
		PollIntervals: []time.Duration{time.Millisecond}, WatchPollIntervals: []time.Duration{time.Millisecond}, FollowEntries: 300, FollowAppends: 10, FollowIdle: 100 * time.Millisecond, CLIAppends: 3,
		Logf: t.Logf,
	}
	res, err := RunLocal(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Backlog != 3000 {
		t.Fatalf("backlog of %d entries, want 3000", res.Backlog)
	}
	if len(res.Runs) != len(LocalModes()) {
		t.Fatalf("%d runs, want %d", len(res.Runs), len(LocalModes()))
	}
	for _, r := range res.Runs {
		t.Run(r.Mode.String(), func(t *testing.T) {
			if r.Ready <= 0 || r.Backlog < r.Ready || r.CaughtUp < r.Backlog {
				t.Errorf("ready %v, backlog %v, caught up %v: out of order", r.Ready, r.Backlog, r.CaughtUp)
			}
			if !strings.HasPrefix(r.Summary, "indexed ") {
				t.Errorf("the indexer's last line is %q, want its summary", r.Summary)
			}
			if r.MetaMismatch != 0 {
				t.Errorf("%d reads where the row and the meta disagreed", r.MetaMismatch)
			}
			if !r.Mode.Priority && r.AheadApplied != 0 {
				t.Errorf("--no-priority applied %d entries ahead", r.AheadApplied)
			}
			if !r.Mode.Writer {
				if len(r.Samples) != 0 {
					t.Errorf("%d samples without a writer", len(r.Samples))
				}
				return
			}
			localCheckSamples(t, r.Samples, res.Backlog+1)
			if idle := r.Latency(localPhaseIdle); idle.N < cfg.After {
				t.Errorf("%d appends after catching up, want %d", idle.N, cfg.After)
			}
		})
	}
	// At least 10 samples: the writer may append a few more before it sees
	// the follower caught up (the appends before that do not count).
	wantFollow := []string{"| poll 1ms |", "| no inotify: poll 1ms |"}
	if runtime.GOOS == "linux" {
		wantFollow[1] = "| inotify + poll 1ms |"
	}
	if len(res.Follow) != len(wantFollow) {
		t.Errorf("follower experiments: %+v, want %q", res.Follow, wantFollow)
	}
	for i, f := range res.Follow {
		if i < len(wantFollow) && "| "+f.Name()+" |" != wantFollow[i] {
			t.Errorf("follower experiment %d is %q, want %q", i, f.Name(), wantFollow[i])
		}
		if len(f.Samples) < 10 || len(f.Samples) > 15 {
			t.Errorf("follower experiment %s: %d samples, want 10 to 15", f.Name(), len(f.Samples))
		} else {
			localCheckSamples(t, f.Samples, 301)
		}
	}
	if c := res.CLI; c == nil || len(c.Wait) < 3 || len(c.NoWait) < 3 || c.NotVisible != 0 {
		t.Errorf("CLI experiment: %+v, want 3 runs or more each way, all visible", c)
	} else {
		for _, r := range append(c.Wait, c.NoWait...) {
			if r.Seq <= res.Backlog || r.Took <= 0 {
				t.Errorf("CLI run %+v", r)
			}
		}
	}
	var md strings.Builder
	if err := res.WriteMarkdown(&md, "sluice bench local --test"); err != nil {
		t.Fatal(err)
	}
	for _, want := range append([]string{"| priority+writer |", "| no-priority+writer |", "append --local --wait"}, wantFollow...) {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the Markdown lacks %q:\n%s", want, md.String())
		}
	}
}

// localCheckSamples checks that the samples are the entries appended from
// seq first on, each visible in its row and in the meta.
func localCheckSamples(t *testing.T, samples []LocalSample, first log.Seq) {
	t.Helper()
	for i, s := range samples {
		if s.Seq != first+log.Seq(i) {
			t.Errorf("sample %d is seq %d, want %d", i, s.Seq, first+log.Seq(i))
		}
		if s.Row <= 0 || s.Meta <= 0 || s.Append <= 0 {
			t.Errorf("seq %d: row %v, meta %v, append %v: not visible or not timed", s.Seq, s.Row, s.Meta, s.Append)
		}
	}
}

func TestLocalMessageIsSSB(t *testing.T) {
	now := time.UnixMilli(1700000000000)
	first, key1 := localMessage("r", 1, "", now)
	second, key2 := localMessage("r", 2, key1, now)
	if key1 == key2 {
		t.Fatal("two messages with one key")
	}
	for i, p := range [][]byte{first, second} {
		var m ssb.Message
		if err := ssb.Decode(p, &m); err != nil {
			t.Fatalf("message %d: %v\n%s", i+1, err, p)
		}
		if m.Type != "post" || m.Author != localAuthor || m.Sequence != int64(i+1) || m.IsPrivate || !m.ClaimedTS.Valid {
			t.Errorf("message %d decodes as %+v", i+1, m)
		}
	}
}

func TestLocalStats(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	got := localStatsOf(ds)
	want := LocalStats{N: 100, P50: 50 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Errorf("localStatsOf(1..100 ms) = %+v, want %+v", got, want)
	}
	if (localStatsOf(nil) != LocalStats{}) {
		t.Error("stats of no samples are not zero")
	}
	if got := medianOf([]time.Duration{3, 1, 2, 10}); got != 2 {
		t.Errorf("median of 1 2 3 10 = %v, want 2 (the mean of the middle two, truncated)", got)
	}
}
