//go:build unix

package bench

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSBytes returns the peak resident set size of a process that has
// exited, from its rusage: ru_maxrss is in KiB on Linux and the BSDs, in
// bytes on macOS.
func maxRSSBytes(ps *os.ProcessState) int64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru == nil {
		return 0
	}
	if runtime.GOOS == "darwin" || runtime.GOOS == "ios" {
		return int64(ru.Maxrss)
	}
	return int64(ru.Maxrss) * 1024
}
