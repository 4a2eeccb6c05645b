// Package tmpfs runs a test in a child process that has a small tmpfs of
// its own, so that the test can fill a real file system (ENOSPC) without
// touching the machine's disks. It needs unshare(1) and the right to mount
// (root, or a user namespace); where that is missing the test is skipped,
// saying why.
package tmpfs

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// envDir names the tmpfs in the child process.
const envDir = "SLUICE_TEST_TMPFS"

// Dir returns the directory of a tmpfs of size bytes that the calling test
// may fill. In the test process, Dir runs the test again (only it: call
// Dir from a top-level test) in a child process in a new mount namespace
// where the tmpfs is mounted, fails the test if the child fails, and
// returns "": the caller must return then. In the child it returns the
// tmpfs's directory.
func Dir(t *testing.T, size int) string {
	t.Helper()
	if dir := os.Getenv(envDir); dir != "" {
		return dir
	}
	if strings.Contains(t.Name(), "/") {
		t.Fatalf("tmpfs.Dir called from the subtest %s; call it from a top-level test", t.Name())
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("skipped: needs unshare(1) to mount a small tmpfs in a child process")
	}
	dir := t.TempDir()
	mount := `mount -t tmpfs -o size="$1" sluice-test "$2" || exit 77; shift 2; exec "$@"`
	probe := exec.Command("unshare", "-m", "sh", "-c", mount, "sh", "65536", dir, "true")
	if out, err := probe.CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs in a new mount namespace here (unshare -m, then mount -t tmpfs: %v: %s); run as root", err, strings.TrimSpace(string(out)))
	}
	args := []string{"-m", "sh", "-c", mount, "sh", strconv.Itoa(size), dir, os.Args[0],
		"-test.run=^" + t.Name() + "$", "-test.count=1", "-test.v"}
	cmd := exec.Command("unshare", args...)
	cmd.Env = append(os.Environ(), envDir+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("%s in a child process with a %d-byte tmpfs: %v\n%s", t.Name(), size, err, out)
	}
	t.Logf("%s passed in a child process with a %d-byte tmpfs", t.Name(), size)
	return ""
}

// Fill writes a file in dir until the file system is full and returns its
// path: removing it frees the space.
func Fill(t *testing.T, dir string) string {
	t.Helper()
	path := dir + "/filler"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	for i := 0; i < 1<<20; i++ { // at most 4 GiB
		if _, err := f.Write(buf); err != nil {
			if errors.Is(err, syscall.ENOSPC) {
				return path
			}
			t.Fatal(err)
		}
	}
	t.Fatal("the file system never filled")
	return ""
}
