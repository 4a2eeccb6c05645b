//go:build !linux

package bench

import (
	"os/exec"
	"time"
)

func localSysProcAttr(cmd *exec.Cmd) {}

// localCPUTime is not measured here.
func localCPUTime() time.Duration { return 0 }
