package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one running sluice process whose stderr is kept (its last
// lines) for a failure's report.
type proc struct {
	cmd   *exec.Cmd
	done  chan struct{} // closed when it has exited
	err   error         // its exit, once done is closed
	ready chan string   // the first stderr line containing the ready word

	mu   sync.Mutex
	tail []string
}

const tailLines = 40

// startProc starts bin --dir dir args... (with env added to the
// environment) and returns once a line of its
// stderr contains ready (or at once if ready is ""). If the process exits
// first, or ctx ends, it is an error that quotes the process's stderr.
func startProc(ctx context.Context, bin, dir string, env []string, ready string, args ...string) (*proc, string, error) {
	cmd := exec.Command(bin, append([]string{"--dir", dir}, args...)...)
	cmd.Env = append(append(os.Environ(), "SLUICE_DIR=", "SLUICE_TOKEN="), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", fmt.Errorf("start sluice %s: %w", strings.Join(args, " "), err)
	}
	p := &proc{cmd: cmd, done: make(chan struct{}), ready: make(chan string, 1)}
	go p.read(stderr, ready)
	if ready == "" {
		return p, "", nil
	}
	select {
	case line := <-p.ready:
		return p, line, nil
	case <-p.done:
		return nil, "", fmt.Errorf("sluice %s exited before it was ready (%v): %s", strings.Join(args, " "), p.err, p.stderr())
	case <-ctx.Done():
		p.kill()
		return nil, "", fmt.Errorf("sluice %s: not ready: %w: %s", strings.Join(args, " "), ctx.Err(), p.stderr())
	}
}

func (p *proc) read(r io.Reader, ready string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		p.mu.Lock()
		p.tail = append(p.tail, line)
		if len(p.tail) > tailLines {
			p.tail = p.tail[len(p.tail)-tailLines:]
		}
		p.mu.Unlock()
		if ready != "" && strings.Contains(line, ready) {
			select {
			case p.ready <- line:
			default:
			}
			ready = ""
		}
	}
	io.Copy(io.Discard, r)
	p.err = p.cmd.Wait()
	close(p.done)
}

// stderr returns the last lines the process wrote to stderr.
func (p *proc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return strings.Join(p.tail, "\n")
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// stop interrupts the process (Ctrl-C) and waits for it to exit, killing
// it after timeout. It returns its exit error, or an error if it had to be
// killed.
func (p *proc) stop(timeout time.Duration) error {
	p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return errors.New("did not stop within " + timeout.String() + " of SIGINT: killed")
	}
}

// run runs bin --dir dir args... to the end with stdin, bounded by ctx,
// and returns its stdout; a non-zero exit is an error quoting stderr.
func run(ctx context.Context, bin, dir, stdin string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"--dir", dir}, args...)...)
	cmd.Env = append(os.Environ(), "SLUICE_DIR=", "SLUICE_TOKEN=")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("sluice %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}
