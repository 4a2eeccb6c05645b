package bench

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fixture is the repository's 3000-message SSB log.
var fixture = filepath.Join("..", "testdata", "ssb", "flume", "log.offset")

const fixtureMessages = 3000

var builtSluice struct {
	once sync.Once
	dir  string
	path string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if builtSluice.dir != "" {
		os.RemoveAll(builtSluice.dir)
	}
	os.Exit(code)
}

// sluiceBinary builds cmd/sluice once for the package's tests (with -race
// when the tests run with it) and returns its path.
func sluiceBinary(t *testing.T) string {
	t.Helper()
	builtSluice.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			builtSluice.err = err
			return
		}
		if builtSluice.dir, builtSluice.err = os.MkdirTemp("", "sluice-bench-test-"); builtSluice.err != nil {
			return
		}
		builtSluice.path = filepath.Join(builtSluice.dir, "sluice")
		args := []string{"build", "-o", builtSluice.path}
		if raceBuild {
			args = append(args, "-race")
		}
		args = append(args, "github.com/sluicedb/sluice/cmd/sluice")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		builtSluice.out, builtSluice.err = exec.CommandContext(ctx, goTool, args...).CombinedOutput()
	})
	if builtSluice.err != nil {
		t.Fatalf("build sluice: %v\n%s", builtSluice.err, builtSluice.out)
	}
	return builtSluice.path
}

// testContext returns a context that ends before the test's deadline.
func testContext(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	if d, ok := t.Deadline(); ok && time.Until(d)-5*time.Second < limit {
		limit = max(time.Until(d)-5*time.Second, time.Second)
	}
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	t.Cleanup(cancel)
	return ctx
}

// emptyDir fails the test if dir holds anything.
func emptyDir(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, de := range des {
		t.Errorf("left behind in %s: %s", dir, de.Name())
	}
}
