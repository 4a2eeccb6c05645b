package main

import (
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progress shows a progress bar on stderr when it is a terminal, and
// nothing otherwise.
type progress struct {
	bar *progressbar.ProgressBar
}

// newProgress returns a bar counting up to total units (-1: unknown).
func newProgress(e *env, total int64, desc string, bytes bool) *progress {
	if !e.errTTY {
		return &progress{}
	}
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(e.errOut),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionShowIts(),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	}
	if bytes {
		opts = append(opts, progressbar.OptionShowBytes(true))
	}
	return &progress{bar: progressbar.NewOptions64(total, opts...)}
}

func (p *progress) set(n int64) {
	if p.bar != nil {
		p.bar.Set64(n)
	}
}

func (p *progress) describe(s string) {
	if p.bar != nil {
		p.bar.Describe(s)
	}
}

func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Clear()
	}
}

// rate formats n per elapsed as "12345/s".
func rate(n float64, elapsed time.Duration) string {
	if elapsed <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f/s", n/elapsed.Seconds())
}

func mb(b int64) float64 { return float64(b) / 1e6 }
