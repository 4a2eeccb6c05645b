package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// binDir holds the sluice binary the runs use, built once (by the first
// test that needs it).
var (
	binDir   string
	binOnce  sync.Once
	binBuilt string
	binErr   error
)

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "chaos-bin"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// sluiceBin builds the sluice binary (with -race if CHAOS_RACE is set)
// and returns its path.
func sluiceBin(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		path := filepath.Join(binDir, "sluice")
		args := []string{"build", "-o", path}
		if os.Getenv("CHAOS_RACE") != "" {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/sluicedb/sluice/cmd/sluice")...).CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("build sluice: %v\n%s", err, out)
		}
		binBuilt = path
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binBuilt
}

// hasTasks reports whether the sluice binary has tasks (sluice task).
func hasTasks(bin string) bool {
	return exec.Command(bin, "task", "add", "--help").Run() == nil
}

// envDuration reads a duration from the environment: "90s", "3m", or a
// number of seconds.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s=%q: %v", name, v, err)
	}
	return d
}

// TestChaos is one run of the suite: a server and CHAOS_DEVICES devices
// (default 4) under CHAOS_TIME (default 15 s) of faults drawn from
// CHAOS_SEED (default random, printed), then the checker; with the task
// workload if the binary has tasks, unless CHAOS_TASKS=0. With
// CHAOS_REPORT=FILE it appends the run's row of bench/results/chaos.md
// there; with CHAOS_KEEP=DIR the nodes are kept there.
func TestChaos(t *testing.T) {
	seed := rand.Uint64() % 1_000_000
	if v := os.Getenv("CHAOS_SEED"); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("CHAOS_SEED=%q: %v", v, err)
		}
	}
	devices := 4
	if v := os.Getenv("CHAOS_DEVICES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CHAOS_DEVICES=%q: want a number ≥ 1", v)
		}
		devices = n
	}
	dir := t.TempDir()
	if keep := os.Getenv("CHAOS_KEEP"); keep != "" {
		dir = filepath.Join(keep, fmt.Sprintf("seed-%d", seed))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Bin: sluiceBin(t), Dir: dir, Seed: seed, Devices: devices, Duration: envDuration(t, "CHAOS_TIME", 15*time.Second),
		Tasks: os.Getenv("CHAOS_TASKS") != "0" && hasTasks(sluiceBin(t))}
	if testing.Verbose() {
		cfg.Logf = func(f string, a ...any) { t.Logf(f, a...) }
	}
	t.Logf("seed %d (replay: CHAOS_SEED=%d)\n%s", seed, seed, NewSchedule(seed, devices, cfg.Duration, DefaultRates))
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Duration+10*time.Minute)
	defer cancel()
	res, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("seed %d: the run could not be made: %v\n%s", seed, err, res.Report())
	}
	t.Logf("seed %d: %d server entries, %d device entries (%d appends not acknowledged), %d tasks (%d adds failed, %d cancelled), faults %s, upstream down %d, converged p50 %v max %v",
		seed, res.ServerEntries, res.DeviceEntries, res.Unacked, res.Tasks, res.TasksUnacked, res.Cancels, FormatCounts(res.Faults), res.UpstreamDown,
		Percentile(res.Converge, 50).Round(time.Millisecond), Percentile(res.Converge, 100).Round(time.Millisecond))
	if res.Tasks > 0 {
		st := res.TaskStats
		t.Logf("seed %d: tasks succeeded %d, failed %d, cancelled %d; sends %d, retries %d, stuck reports %d", seed, st.Succeeded, st.Failed, st.Cancelled, st.Sends, st.Retries, st.Stuck)
	}
	if path := os.Getenv("CHAOS_REPORT"); path != "" {
		if err := appendRow(path, res); err != nil {
			t.Error(err)
		}
	}
	if len(res.Violations) > 0 {
		t.Fatal(res.Report())
	}
}
