package bench

// The sync benchmark ("sluice bench replicate"): how fast a fresh device
// gets a server's log over HTTP, against indexing the same log locally,
// side by side in one run; and how soon an entry appended on a server
// reaches 100 following devices.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Targets of the sync benchmark.
const (
	ReplicateTargetRatio   = 1.5 // initial sync with views, over sluice index --ssb
	ReplicateTargetPullMBs = 300 // raw pull, MB/s
	ReplicateTargetLogP99  = 25 * time.Millisecond
	ReplicateTargetViewP99 = 50 * time.Millisecond
	ReplicateTargetRSS     = 200 << 20
)

// ReplicateConfig configures RunReplicate. Only Sluice and Source are
// required.
type ReplicateConfig struct {
	// Sluice is the sluice binary: the server (serve), the device (sync),
	// the local indexer (index --ssb) and the importer.
	Sluice string
	// Source is the SSB flumelog-offset file; it is imported once into a
	// native log (as bench local does), which the server serves.
	Source string
	// Prepared is the directory the server's native log is kept in
	// (reused by later invocations); empty means a directory in WorkDir.
	Prepared string
	// WorkDir holds the devices' directories, each removed after its run;
	// empty means a temporary directory, removed at the end.
	WorkDir string
	// Runs is how many times each initial-sync measurement runs, in
	// rounds (every measurement once per round); default 5; negative
	// skips the initial sync.
	Runs int
	// Views are the device's --view values for the initial sync with
	// views; default the SSB view set, as sluice index --ssb builds.
	Views []string

	// Devices is how many devices follow the server in the fan-out
	// experiment (in this process, each with its own log and client);
	// default 100; negative skips it.
	Devices int
	// ViewDevices are the fan-out's configurations: how many of the
	// devices also keep the SSB views indexed (an indexer each, following
	// its log); default 10 and all of them.
	ViewDevices []int
	// FanoutRuns is how many times each configuration runs; default 3.
	FanoutRuns int
	// Appends is how many entries the server appends, one every
	// Interval; defaults 1000 and 10 ms.
	Appends  int
	Interval time.Duration
	// DeviceDir holds the devices' logs and views: by default a directory
	// in /dev/shm where it exists (100 devices are 100 machines, each with
	// its own disk; one shared disk syncing for all of them would measure
	// the disk), else in WorkDir.
	DeviceDir string

	// Timeout bounds each run; default 10 minutes.
	Timeout time.Duration
	// Logf reports progress; nil for none.
	Logf func(format string, args ...any)
}

func (c ReplicateConfig) withDefaults() ReplicateConfig {
	if c.Runs == 0 {
		c.Runs = 5
	}
	if len(c.Views) == 0 {
		c.Views = []string{"ssb"}
	}
	if c.Devices == 0 {
		c.Devices = 100
	}
	if len(c.ViewDevices) == 0 {
		c.ViewDevices = []int{min(10, c.Devices), c.Devices}
	}
	var vds []int
	for _, v := range c.ViewDevices {
		if v = max(0, min(v, c.Devices)); !slices.Contains(vds, v) {
			vds = append(vds, v)
		}
	}
	c.ViewDevices = vds
	if c.FanoutRuns <= 0 {
		c.FanoutRuns = 3
	}
	if c.Appends <= 0 {
		c.Appends = 1000
	}
	if c.Interval <= 0 {
		c.Interval = 10 * time.Millisecond
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Minute
	}
	if c.Logf == nil {
		c.Logf = func(string, ...any) {}
	}
	return c
}

// ReplicateRun is one round of the initial-sync measurements, each a child
// process from an empty directory (but Wire, which this process reads).
type ReplicateRun struct {
	// Index is "sluice index --ssb SOURCE": the same log indexed locally.
	Index procRun
	// Sync is "sluice sync --from URL": pulled over HTTP and indexed, the
	// two overlapping.
	Sync procRun
	// Pull is "sluice sync --no-index --from URL": the raw pull into the
	// device's log.
	Pull procRun
	// Import is "sluice import SOURCE": the same entries appended to a
	// log from a local file, the append path without the network.
	Import procRun
	// Wire is the time to read the whole binary stream (GET /v1/entries)
	// and throw it away, in this process: the server and HTTP alone.
	Wire      time.Duration
	WireBytes int64
	// ServerCPU is the server's CPU time during Sync, Pull and Wire (it
	// shares the machine with the device here).
	ServerCPU [3]time.Duration
}

// ReplicateResult is what RunReplicate measured.
type ReplicateResult struct {
	Machine Machine
	Source  string
	// Entries and LogBytes are the server's log: its entries and the size
	// of its segment files.
	Entries  log.Seq
	LogBytes int64
	Views    []string
	Runs     []ReplicateRun
	// Fanout holds every fan-out run, in the order run: each
	// configuration (ViewDevices) FanoutRuns times, interleaved.
	Fanout []FanoutResult
}

// RunReplicate runs the sync benchmark.
func RunReplicate(ctx context.Context, cfg ReplicateConfig) (*ReplicateResult, error) {
	cfg = cfg.withDefaults()
	res := &ReplicateResult{Machine: readMachine(), Source: cfg.Source, Views: cfg.Views}
	work := cfg.WorkDir
	if work == "" {
		d, err := os.MkdirTemp("", "sluice-bench-replicate")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		work = d
	}
	if cfg.Runs > 0 {
		if err := replicateInitial(ctx, cfg, work, res); err != nil {
			return nil, err
		}
	}
	if cfg.Devices > 0 {
		for round := 1; round <= cfg.FanoutRuns; round++ {
			for _, vd := range cfg.ViewDevices {
				cfg.Logf("fan-out %d/%d, %d devices with views", round, cfg.FanoutRuns, vd)
				f, err := runFanout(ctx, cfg, work, vd)
				if err != nil {
					return nil, err
				}
				res.Fanout = append(res.Fanout, *f)
			}
		}
	}
	return res, nil
}

// replicateInitial serves the prepared log from a child sluice serve and
// runs the initial-sync measurements, cfg.Runs rounds.
func replicateInitial(ctx context.Context, cfg ReplicateConfig, work string, res *ReplicateResult) error {
	prepared := cfg.Prepared
	if prepared == "" {
		prepared = filepath.Join(work, "prepared")
	}
	prep, err := localPrepare(ctx, cfg.Sluice, cfg.Source, prepared, cfg.Logf)
	if err != nil {
		return err
	}
	res.Entries = prep.last
	segs, last, err := localSegments(prep.dir)
	if err != nil {
		return err
	}
	for _, s := range append(segs, last) {
		if fi, err := os.Stat(s); err == nil {
			res.LogBytes += fi.Size()
		}
	}
	srv, url, err := startServe(ctx, cfg.Sluice, prepared, "--no-index")
	if err != nil {
		return err
	}
	defer srv.stop(30 * time.Second)
	cfg.Logf("serving %d entries (%s MB) on %s", res.Entries, megabytes(res.LogBytes), url)

	for round := 1; round <= cfg.Runs; round++ {
		var r ReplicateRun
		srvCPU := func(into *time.Duration) func() {
			before := procCPUTime(srv.cmd.Process.Pid)
			return func() { *into = procCPUTime(srv.cmd.Process.Pid) - before }
		}
		measure := func(name string, into *procRun, args ...string) error {
			dir := filepath.Join(work, name)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			rctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
			defer cancel()
			p, err := runMeasured(rctx, "", cfg.Sluice, append([]string{"--dir", dir}, args...)...)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round, name, err)
			}
			*into = p
			cfg.Logf("round %d/%d: %s %.2fs (%.1f s CPU, %.0f MB peak RSS)", round, cfg.Runs, name, p.Wall.Seconds(), p.CPU().Seconds(), float64(p.MaxRSS)/1e6)
			return nil
		}
		viewArgs := func() []string {
			var a []string
			for _, v := range cfg.Views {
				a = append(a, "--view", v)
			}
			return a
		}
		steps := []func() error{
			func() error {
				return measure("index", &r.Index, append([]string{"index", "--ssb", cfg.Source}, viewArgs()...)...)
			},
			func() error {
				defer srvCPU(&r.ServerCPU[0])()
				return measure("sync", &r.Sync, append([]string{"sync", "--from", url}, viewArgs()...)...)
			},
			func() error {
				defer srvCPU(&r.ServerCPU[1])()
				return measure("pull", &r.Pull, "sync", "--no-index", "--from", url)
			},
			func() error { return measure("import", &r.Import, "import", cfg.Source) },
			func() error {
				defer srvCPU(&r.ServerCPU[2])()
				var err error
				r.Wire, r.WireBytes, err = readWire(ctx, url)
				if err == nil {
					cfg.Logf("round %d/%d: wire %.2fs (%s MB)", round, cfg.Runs, r.Wire.Seconds(), megabytes(r.WireBytes))
				}
				return err
			},
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return err
			}
		}
		res.Runs = append(res.Runs, r)
	}
	return prep.check()
}

// readWire reads the whole binary stream of the server at url and throws
// it away; it returns how long that took and how many bytes it was.
func readWire(ctx context.Context, url string) (time.Duration, int64, error) {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/v1/entries", nil)
	if err != nil {
		return 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET %s/v1/entries: %s", url, resp.Status)
	}
	n, err := io.Copy(io.Discard, resp.Body)
	return time.Since(start), n, err
}

// startServe starts "sluice --dir dir serve" on a free loopback port and
// returns it and its URL once it listens.
func startServe(ctx context.Context, sluice, dir string, args ...string) (*localChild, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", err
	}
	addr := filepath.Join(dir, "serve.addr")
	os.Remove(addr)
	c, err := startChild(sluice, filepath.Join(dir, "serve.out"),
		append([]string{"--dir", dir, "serve", "--listen", "127.0.0.1:0", "--addr-file", addr}, args...)...)
	if err != nil {
		return nil, "", err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(addr)
		if err == nil && len(b) > 0 {
			return c, strings.TrimSpace(string(b)), nil
		}
		select {
		case <-c.done:
			return nil, "", c.exitError()
		case <-ctx.Done():
			c.kill()
			return nil, "", ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.kill()
			return nil, "", errors.New("sluice serve did not listen within a minute\n" + c.tail())
		}
	}
}

// procCPUTime returns the CPU time (user and system) process pid has used,
// from /proc/PID/stat; 0 where unknown.
func procCPUTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name, in parentheses, may hold spaces: fields count
	// from after it. utime and stime are fields 14 and 15 (1-based).
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * (time.Second / 100)
}
