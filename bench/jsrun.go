package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// JSRun is one run of bench/js/run.sh: the JavaScript ssb-db@20 stack
// building its six views over a copy of the log (see bench/js/README.md).
type JSRun struct {
	// System is the runner's name for it, e.g. "ssb-db@20.4.1".
	System string
	// Wall is from opening the database to every view having caught up
	// (the runner's wall_ms): it leaves out node's start, the loading of
	// modules and the close, which sluice's Wall includes.
	Wall time.Duration
	// PeakRSS is the runner's peak_rss_bytes: the larger of the sampled
	// RSS and the kernel's VmHWM at catch-up.
	PeakRSS int64
	// CPU is the process's user + system time, open to catch-up.
	CPU time.Duration
	// OtherCores is the runner's other_busy_cores (-1 unknown).
	OtherCores float64
	// Messages and LogBytes as the runner counted them.
	Messages, LogBytes int64
	// Samples: entries every view holds over time (the slowest view's
	// byte offset, mapped to frames).
	Samples []Sample
}

// runJS runs the JavaScript side once. offs are the log's frame offsets,
// for the samples.
func runJS(ctx context.Context, runner, logPath, tempDir string, offs []int64) (JSRun, error) {
	args := []string{runner, "--log", logPath}
	if tempDir != "" {
		args = append(args, "--tmp", tempDir)
	}
	p, err := runMeasured(ctx, "", "bash", args...)
	if err != nil {
		return JSRun{}, fmt.Errorf("javascript runner: %w", err)
	}
	var out struct {
		System         string   `json:"system"`
		LogBytes       int64    `json:"log_bytes"`
		Messages       int64    `json:"messages"`
		WallMS         float64  `json:"wall_ms"`
		PeakRSS        int64    `json:"peak_rss_bytes"`
		CPUUserMS      float64  `json:"cpu_user_ms"`
		CPUSystemMS    float64  `json:"cpu_system_ms"`
		OtherBusyCores *float64 `json:"other_busy_cores"`
		Verified       *bool    `json:"verified"`
		Samples        []struct {
			TMillis float64 `json:"t_ms"`
			Bytes   int64   `json:"bytes"`
			RSS     int64   `json:"rss"`
		} `json:"samples"`
	}
	line := bytes.TrimSpace(p.Stdout)
	if i := bytes.LastIndexByte(line, '\n'); i >= 0 {
		line = line[i+1:]
	}
	if err := json.Unmarshal(line, &out); err != nil {
		return JSRun{}, fmt.Errorf("javascript runner: its output is not the JSON result: %w%s", err, stderrTail(p.Stderr))
	}
	if out.Verified != nil && !*out.Verified {
		return JSRun{}, fmt.Errorf("javascript runner: the views failed their checks%s", stderrTail(p.Stderr))
	}
	r := JSRun{
		System: out.System, Wall: time.Duration(out.WallMS * float64(time.Millisecond)), PeakRSS: out.PeakRSS,
		CPU:        time.Duration((out.CPUUserMS + out.CPUSystemMS) * float64(time.Millisecond)),
		OtherCores: -1, Messages: out.Messages, LogBytes: out.LogBytes,
	}
	if out.OtherBusyCores != nil {
		r.OtherCores = *out.OtherBusyCores
	}
	for _, s := range out.Samples {
		if t := time.Duration(s.TMillis * float64(time.Millisecond)); t >= r.Wall {
			break
		}
		var n int64
		if s.Bytes > 0 {
			n = entriesUpTo(offs, s.Bytes)
		}
		r.Samples = append(r.Samples, Sample{T: time.Duration(s.TMillis * float64(time.Millisecond)), Entries: n, RSS: s.RSS})
	}
	// The last sample may predate catch-up by up to a sampling interval.
	r.Samples = append(r.Samples, Sample{T: r.Wall, Entries: out.Messages})
	return r, nil
}
