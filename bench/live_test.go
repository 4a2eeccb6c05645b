package bench

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

// TestLive runs the whole live benchmark on the 3000-message fixture: every
// latency setup once with a few appends, and the sync without and with 20
// live queries, which must all deliver the final result.
func TestLive(t *testing.T) {
	bin := sluiceBinary(t)
	ctx := testContext(t, 4*time.Minute)
	cfg := LiveConfig{
		Sluice: bin, Source: fixture, WorkDir: t.TempDir(), Watchers: 20,
		LatencyRounds: 1, Appends: 5, Interval: time.Millisecond, SlowAppends: 3, SlowInterval: 5 * time.Millisecond, IdleFor: 50 * time.Millisecond,
		SyncRounds: 1, Shares: []float64{0}, QuietWait: -1, FinalWait: time.Minute, Timeout: time.Minute,
		Logf: t.Logf,
	}
	res, err := RunLive(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Entries != fixtureMessages {
		t.Fatalf("%d entries, want %d", res.Entries, fixtureMessages)
	}
	setups := liveLatencySetups(res.Config)
	if len(res.Latency) != len(setups) {
		t.Fatalf("%d latency runs, want %d", len(res.Latency), len(setups))
	}
	for i, r := range res.Latency {
		if r.Name() != (&setups[i]).Name() {
			t.Errorf("latency run %d is %q, want %q", i, r.Name(), (&setups[i]).Name())
		}
		if len(r.Samples) != r.Appends || r.Stats.N != r.Appends || r.Appends != setups[i].Appends {
			t.Errorf("%s: %d samples, want %d", r.Name(), len(r.Samples), setups[i].Appends)
		}
		for j, d := range r.Samples {
			if d <= 0 || d > r.Stats.Max {
				t.Errorf("%s: sample %d: %v (max %v)", r.Name(), j, d, r.Stats.Max)
			}
		}
		if r.RunTime <= 0 {
			t.Errorf("%s: query time %v", r.Name(), r.RunTime)
		}
		// Each append runs every query at least once; a run may coalesce
		// with the next append's, never skip it.
		if r.Runs < uint64(r.Appends) || r.Results < uint64(r.Appends) {
			t.Errorf("%s: %d runs and %d results for %d appends", r.Name(), r.Runs, r.Results, r.Appends)
		}
		if (r.IdleCPU >= 0) == r.InProcess {
			t.Errorf("%s: idle CPU %v", r.Name(), r.IdleCPU)
		}
	}
	if len(res.Sync) != 2 {
		t.Fatalf("%d sync runs, want 2", len(res.Sync))
	}
	for _, r := range res.Sync {
		if r.Wall <= 0 || r.CPU <= 0 {
			t.Errorf("%s: wall %v, CPU %v", r.Name(), r.Wall, r.CPU)
		}
		if r.Watchers == 0 {
			continue
		}
		if r.Missed != 0 || r.Final.N != cfg.Watchers {
			t.Errorf("%s: %d of %d queries delivered the final result, %d missed", r.Name(), r.Final.N, cfg.Watchers, r.Missed)
		}
		if r.Opened <= 0 || r.Opened > r.Wall || r.Runs < uint64(cfg.Watchers) {
			t.Errorf("%s: opened at %v of %v, %d runs", r.Name(), r.Opened, r.Wall, r.Runs)
		}
	}
	var md bytes.Buffer
	if err := res.WriteMarkdown(&md, "sluice bench live --test"); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Latency: append → live result", "| in process | notifier | 1 | 1ms |", "| across processes | poll | 20 | 5ms |", "| across processes | poll | 20 | 1ms |",
		"## 20 live queries during the initial sync", "| no live queries |", "| 20 live queries, share 0.25 (default) |", "## Every sync run"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("the report has no %q:\n%s", want, md.String())
		}
	}
}

// TestLiveMix checks the query mix: kinds in turn, arguments of the right
// sort, and an unknown kind refused.
func TestLiveMix(t *testing.T) {
	feeds, keys := []string{"@a", "@b"}, []string{"%k1", "%k2", "%k3"}
	qs, err := liveMix(6, nil, feeds, keys)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range qs {
		got = append(got, q.Kind+"="+q.Args[0].(string))
	}
	want := "feed=@a thread=%k2 latest=post followers=@b name=@a feed=@b"
	if strings.Join(got, " ") != want {
		t.Fatalf("mix = %s, want %s", strings.Join(got, " "), want)
	}
	if qs, err := liveMix(3, []string{"name"}, feeds, keys); err != nil || qs[2].Kind != "name" || qs[2].Args[0] != "@a" {
		t.Fatalf("a mix of names only: %+v, %v", qs, err)
	}
	if _, err := liveMix(3, []string{"nope"}, feeds, keys); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("an unknown kind: %v", err)
	}
}
