package main

import (
	"fmt"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// killAfter, for crash tests, returns a function that kills this process
// with SIGKILL on its Nth call when the environment variable env holds N
// (a real kill -9 at a chosen point, whatever the machine's load). It
// returns nil when env is unset, and an error naming env when it is not a
// positive count. The returned function may be called concurrently.
func killAfter(env string) (func(), error) {
	v := os.Getenv(env)
	if v == "" {
		return nil, nil
	}
	k, err := strconv.Atoi(v)
	if err != nil || k < 1 {
		return nil, fmt.Errorf("%s=%q: want a positive count", env, v)
	}
	var calls atomic.Int64
	return func() {
		if calls.Add(1) == int64(k) {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}, nil
}

// lockWaitingEnv, for tests, names a file sluice append creates when it
// starts waiting for another writer to release the log.
const lockWaitingEnv = "SLUICE_TEST_LOCK_WAITING"

// testHook creates the file the environment variable env names, if set: a
// test's proof that this process reached that point.
func testHook(env string) {
	if path := os.Getenv(env); path != "" {
		os.WriteFile(path, nil, 0o644)
	}
}
