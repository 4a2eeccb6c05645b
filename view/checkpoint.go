package view

import (
	"sync"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// walCheckpointFrames is the WAL size, in frames, that asks for a
// checkpoint after a commit: 4 MiB with 16 KiB pages, the size of SQLite's
// own default (1000 pages of 4 KiB). A checkpoint fsyncs the WAL written
// since the last one, and on a shared disk every other fsync waits behind
// it: at 1000 frames (16 MiB) checkpoints took up to 35-55 ms and held up
// the logs' fsyncs as long (the task round trip's p99).
// walRestartFrames is the size at which the writer finishes the
// checkpoint itself, so that the WAL starts over instead of growing (with
// 16 KiB pages, 64 MiB; left to grow, it reached the database's size, and
// cutting it back to journal_size_limit then took half a second).
const (
	walCheckpointFrames = 256
	walRestartFrames    = 4000
)

// checkpointer copies WAL frames into the database file on its own
// connection and goroutine, so that the writer's commits never pay for a
// checkpoint (SQLite's automatic checkpoints run inside the commit that
// crosses the threshold: a local entry waited up to a second behind one).
// The writer's connection has wal_autocheckpoint off and pokes the
// checkpointer when its WAL has grown. Checkpoints are passive: they copy
// what no reader still needs and never wait. They do not fsync while the
// file holds unsettled pages of bulk mode (see File.Settle): an fsync of
// hundreds of MB there held the writer's commits up for a second.
type checkpointer struct {
	kick chan struct{}
	stop chan struct{}
	mode chan bool // setSynced requests
	ack  chan struct{}
	done sync.WaitGroup
	err  error // first checkpoint error, read after stop
}

func startCheckpointer(path string) (*checkpointer, error) {
	c, err := sqlite.Open(path, sqlite.OpenReadWrite)
	if err != nil {
		return nil, err
	}
	cp := &checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{}), mode: make(chan bool), ack: make(chan struct{})}
	if err := c.Exec("PRAGMA synchronous=NORMAL"); err != nil {
		c.Close()
		return nil, err
	}
	cp.done.Add(1)
	go func() {
		defer cp.done.Done()
		defer c.Close()
		for {
			select {
			case <-cp.stop:
				return
			case synced := <-cp.mode:
				mode := "OFF"
				if synced {
					mode = "NORMAL"
				}
				if err := c.Exec("PRAGMA synchronous=" + mode); err != nil && cp.err == nil {
					cp.err = err
				}
				cp.ack <- struct{}{}
			case <-cp.kick:
				if err := c.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil && cp.err == nil {
					cp.err = err
				}
			}
		}
	}()
	return cp, nil
}

// setSynced makes later checkpoints fsync (synchronous=NORMAL) or not
// (OFF: while the file holds unsettled pages of bulk mode, which its dirty
// mark covers). It returns once no checkpoint of the old mode runs.
func (cp *checkpointer) setSynced(synced bool) {
	cp.mode <- synced
	<-cp.ack
}

// poke asks for a checkpoint; pokes while one runs are merged.
func (cp *checkpointer) poke() {
	select {
	case cp.kick <- struct{}{}:
	default:
	}
}

func (cp *checkpointer) close() error {
	close(cp.stop)
	cp.done.Wait()
	return cp.err
}
