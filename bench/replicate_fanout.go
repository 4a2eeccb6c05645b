package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// FanoutResult is what the fan-out experiment measured: one server (a
// sluice serve child process, keeping its SSB views indexed), Devices
// in-process devices following it, one SSB post appended on the server
// every Interval through its local socket.
type FanoutResult struct {
	Devices, ViewDevices int
	Appends              int
	Interval             time.Duration
	DeviceDir            string
	// ToLog is the time from the server's Append returning (its clock,
	// in its answer) to the entry being in a device's log (the device's
	// Append returned), over every entry and device; ToView to its being
	// visible in the device's views (index.WaitFor returned).
	ToLog, ToView LocalStats
	// Missing counts (device, entry) pairs that had not arrived when the
	// experiment gave up waiting (10 s after the last append).
	Missing, MissingViews int
	// ServerRSS is the server's peak resident set size (ru_maxrss), bytes;
	// ServerCPU its CPU time.
	ServerRSS int64
	ServerCPU time.Duration
	// DevicesCPU is the CPU time of this process meanwhile: the devices.
	DevicesCPU time.Duration
	// AppendTook is how long the server took to answer an append (the
	// writer's fsync included), p50/p99.
	AppendTook LocalStats
	// Wall is the appending phase.
	Wall time.Duration
}

// fanDevice is one in-process device.
type fanDevice struct {
	log    *log.Log
	client *replicate.Client
	ix     *index.Indexer
	files  []*view.File
	views  chan [2]log.Seq // (server seq, local seq) to wait for in the views

	mu     sync.Mutex
	inLog  map[log.Seq]int64 // server seq -> unix ns it was in the log
	inView map[log.Seq]int64
}

func runFanout(ctx context.Context, cfg ReplicateConfig, work string, viewDevices int) (*FanoutResult, error) {
	res := &FanoutResult{Devices: cfg.Devices, ViewDevices: viewDevices, Appends: cfg.Appends, Interval: cfg.Interval}
	cpu0 := localCPUTime()
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	devDir := cfg.DeviceDir
	if devDir == "" {
		devDir = filepath.Join(work, "devices")
		if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
			d, err := os.MkdirTemp("/dev/shm", "sluice-bench-devices")
			if err == nil {
				devDir = d
			}
		}
	}
	res.DeviceDir = devDir
	defer os.RemoveAll(devDir)
	srvDir := filepath.Join(work, "fanout-server")
	os.RemoveAll(srvDir)
	defer os.RemoveAll(srvDir)
	srv, url, err := startServe(ctx, cfg.Sluice, srvDir)
	if err != nil {
		return nil, err
	}
	defer srv.kill()
	cfg.Logf("fan-out: a server on %s, %d devices in %s (%d with views)", url, cfg.Devices, devDir, viewDevices)

	devs := make([]*fanDevice, cfg.Devices)
	defer func() {
		for _, d := range devs {
			if d != nil {
				d.close()
			}
		}
	}()
	dctx, stopDevices := context.WithCancel(ctx)
	defer stopDevices()
	var wg sync.WaitGroup
	caughtUp := make(chan int, cfg.Devices)
	errs := make(chan error, 2*cfg.Devices)
	for i := range devs {
		d, err := openFanDevice(filepath.Join(devDir, fmt.Sprint(i)), i < viewDevices)
		if err != nil {
			return nil, err
		}
		devs[i] = d
		if d.ix != nil {
			wg.Add(2)
			go func() {
				defer wg.Done()
				if err := d.ix.Run(dctx); err != nil && dctx.Err() == nil {
					errs <- err
				}
			}()
			go func() {
				defer wg.Done()
				d.waitViews(dctx)
			}()
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			once := sync.Once{}
			err := d.client.Follow(dctx, replicate.Peer{URL: url}, func() { once.Do(func() { caughtUp <- i }) })
			if err != nil {
				errs <- fmt.Errorf("device %d: %w", i, err)
			}
		}()
	}
	for n := 0; n < cfg.Devices; n++ {
		select {
		case <-caughtUp:
		case err := <-errs:
			return nil, err
		case <-ctx.Done():
			return nil, fmt.Errorf("fan-out: %d of %d devices connected: %w", n, cfg.Devices, ctx.Err())
		}
	}
	cfg.Logf("fan-out: %d devices follow; appending %d entries, one every %v", cfg.Devices, cfg.Appends, cfg.Interval)

	sock := filepath.Join(srvDir, replicate.LocalSocketName)
	appended := map[log.Seq]int64{}
	var took []time.Duration
	tick := time.NewTicker(cfg.Interval)
	start := time.Now()
	var prev string
	for i := 1; i <= cfg.Appends; i++ {
		select {
		case <-tick.C:
		case err := <-errs:
			tick.Stop()
			return nil, err
		case <-ctx.Done():
			tick.Stop()
			return nil, ctx.Err()
		}
		msg, key := localMessage("fanout", i, prev, time.Now())
		prev = key
		t0 := time.Now()
		ar, err := replicate.AppendLocalAt(ctx, sock, log.SyncAlways, []log.Record{{Origin: log.Local, Payload: msg}})
		if err != nil {
			tick.Stop()
			return nil, fmt.Errorf("fan-out: append %d: %w", i, err)
		}
		took = append(took, time.Since(t0))
		appended[ar.Seqs[0]] = ar.AppendedAt
	}
	tick.Stop()
	res.Wall = time.Since(start)
	res.AppendTook = localStatsOf(took)

	// Wait (up to 10 s) for every device to have every entry.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) && !fanComplete(devs, appended) {
		time.Sleep(20 * time.Millisecond)
	}
	stopDevices()
	wg.Wait()
	res.DevicesCPU = localCPUTime() - cpu0
	var toLog, toView []time.Duration
	for _, d := range devs {
		d.mu.Lock()
		for seq, at := range appended {
			if t, ok := d.inLog[seq]; ok {
				toLog = append(toLog, time.Duration(t-at))
			} else {
				res.Missing++
			}
			if d.ix == nil {
				continue
			}
			if t, ok := d.inView[seq]; ok {
				toView = append(toView, time.Duration(t-at))
			} else {
				res.MissingViews++
			}
		}
		d.mu.Unlock()
	}
	res.ToLog, res.ToView = localStatsOf(toLog), localStatsOf(toView)
	// The kernel's high-water mark of the server's memory since its exec
	// (ru_maxrss would count this process's size at the fork).
	res.ServerRSS = peakRSS(srv.cmd.Process.Pid)
	if err := srv.stop(30 * time.Second); err != nil {
		return nil, err
	}
	if ps := srv.cmd.ProcessState; ps != nil {
		res.ServerCPU = ps.UserTime() + ps.SystemTime()
	}
	cfg.Logf("fan-out: to a device's log p50 %s p99 %s, to its views p50 %s p99 %s; server peak RSS %.0f MB",
		localMs(res.ToLog.P50), localMs(res.ToLog.P99), localMs(res.ToView.P50), localMs(res.ToView.P99), float64(res.ServerRSS)/1e6)
	return res, nil
}

// fanComplete reports whether every device has every appended entry (in
// its views too, if it has views).
func fanComplete(devs []*fanDevice, appended map[log.Seq]int64) bool {
	for _, d := range devs {
		d.mu.Lock()
		n, v := len(d.inLog), len(d.inView)
		d.mu.Unlock()
		if n < len(appended) || (d.ix != nil && v < len(appended)) {
			return false
		}
	}
	return true
}

// openFanDevice opens a device's log, its client and, with views, its
// SSB view file and indexer.
func openFanDevice(dir string, views bool) (*fanDevice, error) {
	d := &fanDevice{inLog: map[log.Seq]int64{}, inView: map[log.Seq]int64{}, views: make(chan [2]log.Seq, 4096)}
	var err error
	if d.log, err = log.Open(filepath.Join(dir, "log"), log.Options{}); err != nil {
		return nil, err
	}
	if views {
		if err := os.MkdirAll(filepath.Join(dir, "views"), 0o755); err != nil {
			d.close()
			return nil, err
		}
		f, err := view.OpenFile(filepath.Join(dir, "views", "ssb.db"), []view.View{ssb.View{}}, view.Options{})
		if err != nil {
			d.close()
			return nil, err
		}
		d.files = []*view.File{f}
		if d.ix, err = index.New(d.log, d.files, index.Options{}); err != nil {
			d.close()
			return nil, err
		}
	}
	d.client, err = replicate.NewClient(d.log, replicate.ClientOptions{OnAppend: func(a replicate.AppendInfo) {
		now := time.Now().UnixNano()
		d.mu.Lock()
		for i, s := range a.PeerSeqs {
			d.inLog[s] = now
			if d.ix != nil {
				select {
				case d.views <- [2]log.Seq{s, a.First + log.Seq(i)}:
				default: // the waiter is far behind: its entry counts as missing
				}
			}
		}
		d.mu.Unlock()
	}})
	if err != nil {
		d.close()
		return nil, err
	}
	return d, nil
}

// waitViews records when each pulled entry shows in the device's views.
func (d *fanDevice) waitViews(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-d.views:
			if err := d.ix.WaitFor(ctx, s[1]); err != nil {
				return
			}
			now := time.Now().UnixNano()
			d.mu.Lock()
			d.inView[s[0]] = now
			d.mu.Unlock()
		}
	}
}

func (d *fanDevice) close() error {
	var errs []error
	if d.client != nil {
		errs = append(errs, d.client.Close())
	}
	for _, f := range d.files {
		errs = append(errs, f.Close())
	}
	if d.log != nil {
		errs = append(errs, d.log.Close())
	}
	return errors.Join(errs...)
}

// peakRSS returns the peak resident set size of process pid (VmHWM in
// /proc/PID/status), bytes; 0 where unknown.
func peakRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			kib, _ := strconv.ParseInt(f[1], 10, 64)
			return kib << 10
		}
	}
	return 0
}
