package bench

import (
	"os/exec"
	"syscall"
	"time"
)

// localSysProcAttr makes a child die with the benchmark.
func localSysProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

// localCPUTime returns the CPU time (user and system) this process used.
func localCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
