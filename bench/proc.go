package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// procRun is what one measured child process did.
type procRun struct {
	// Wall is from just before the process started to its exit.
	Wall time.Duration
	// User and Sys are the CPU time the process (all its threads) used.
	User, Sys time.Duration
	// MaxRSS is the process's peak resident set size in bytes, from the
	// kernel (ru_maxrss); 0 where unknown.
	MaxRSS int64
	// OtherCores is how many cores, on average, other processes kept busy
	// while it ran: near 0 on an idle machine. -1 where unknown.
	OtherCores float64
	Stdout     []byte
	Stderr     []byte
}

// CPU is the process's user plus system time.
func (p procRun) CPU() time.Duration { return p.User + p.Sys }

// runMeasured runs name with args as a child process and measures it. The
// child's stdout and stderr are kept; a failure returns an error quoting
// the end of its stderr.
func runMeasured(ctx context.Context, dir, name string, args ...string) (procRun, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	busy0, okBusy0 := procStatBusy()
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	busy1, okBusy1 := procStatBusy()
	p := procRun{Wall: wall, OtherCores: -1, Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	if ps := cmd.ProcessState; ps != nil {
		p.User, p.Sys, p.MaxRSS = ps.UserTime(), ps.SystemTime(), maxRSSBytes(ps)
	}
	if okBusy0 && okBusy1 && wall > 0 {
		other := (busy1 - busy0).Seconds() - p.CPU().Seconds()
		p.OtherCores = max(0, other/wall.Seconds())
	}
	if err != nil {
		if ctx.Err() != nil {
			return p, ctx.Err()
		}
		return p, fmt.Errorf("%s %s: %w%s", name, strings.Join(args, " "), err, stderrTail(p.Stderr))
	}
	return p, nil
}

// stderrTail formats the last lines of a child's stderr for an error.
func stderrTail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	const keep = 2000
	if len(b) > keep {
		b = b[len(b)-keep:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return ":\n" + string(b)
}

// procStatBusy returns the CPU time all processes of the machine have
// spent busy (every state but idle and iowait), from /proc/stat.
func procStatBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, s := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		busy += n
	}
	// /proc/stat counts in USER_HZ ticks, 100 per second on Linux.
	return time.Duration(busy) * (time.Second / 100), true
}

// quietThreshold is how many cores other processes may keep busy for the
// machine to count as quiet.
const quietThreshold = 0.3

// waitQuiet waits, up to limit, until other processes keep fewer than
// quietThreshold cores busy over half a second. It returns how long it
// waited and whether the machine was quiet then; without /proc/stat it
// returns at once.
func waitQuiet(ctx context.Context, limit time.Duration) (time.Duration, bool, error) {
	start := time.Now()
	const sample = 500 * time.Millisecond
	for {
		b0, ok := procStatBusy()
		if !ok {
			return 0, true, nil
		}
		t := time.NewTimer(sample)
		select {
		case <-ctx.Done():
			t.Stop()
			return time.Since(start), false, ctx.Err()
		case <-t.C:
		}
		b1, _ := procStatBusy()
		busy := (b1 - b0).Seconds() / sample.Seconds()
		if busy < quietThreshold {
			return time.Since(start), true, nil
		}
		if time.Since(start) >= limit {
			return time.Since(start), false, nil
		}
	}
}
