package bench

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

// Machine describes where a benchmark ran.
type Machine struct {
	CPUs   int    // logical CPUs Go sees
	Model  string // CPU model name
	MemB   int64  // total memory, bytes
	Kernel string // OS and kernel release
	Go     string // Go version of this binary
	Node   string // node --version, when the JavaScript side ran
	Sluice string // the VCS revision this binary was built from, if recorded
	Date   time.Time
}

// readMachine describes this machine, as far as /proc tells.
func readMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), Go: runtime.Version(), Kernel: runtime.GOOS + "/" + runtime.GOARCH, Date: time.Now().UTC()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		var rev, modified string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" && modified == "true" {
			rev += " with uncommitted changes"
		}
		m.Sluice = rev
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(b)) + " " + runtime.GOARCH
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kib, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemB = kib * 1024
			}
		}
	}
	return m
}

// nodeVersion returns node --version, or "" without node.
func nodeVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// String describes the machine in one line.
func (m Machine) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(m.CPUs) + " CPUs")
	if m.Model != "" {
		b.WriteString(" (" + m.Model + ")")
	}
	if m.MemB > 0 {
		b.WriteString(", " + strconv.FormatInt((m.MemB+1<<29)>>30, 10) + " GiB RAM")
	}
	b.WriteString(", " + m.Kernel + ", " + m.Go)
	if m.Node != "" {
		b.WriteString(", node " + m.Node)
	}
	if m.Sluice != "" {
		b.WriteString("; sluice built from " + m.Sluice)
	}
	b.WriteString("; " + m.Date.Format("2006-01-02 15:04 UTC"))
	return b.String()
}
