package view

import (
	"sync"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// checkpointer copies WAL frames into the database file on its own
// connection and goroutine, so that in bulk mode the writer's commits do not
// also pay for the checkpoint: on two cores the copy runs beside the
// inserts. The writer's connection then has wal_autocheckpoint off.
type checkpointer struct {
	kick chan struct{}
	stop chan struct{}
	done sync.WaitGroup
	err  error // first checkpoint error, read after stop
}

func startCheckpointer(path string) (*checkpointer, error) {
	c, err := sqlite.Open(path, sqlite.OpenReadWrite)
	if err != nil {
		return nil, err
	}
	// Bulk mode does not sync: nor do its checkpoints (leaving bulk mode
	// checkpoints again, synced).
	if err := c.Exec("PRAGMA synchronous=OFF"); err != nil {
		c.Close()
		return nil, err
	}
	cp := &checkpointer{kick: make(chan struct{}, 1), stop: make(chan struct{})}
	cp.done.Add(1)
	go func() {
		defer cp.done.Done()
		defer c.Close()
		for {
			select {
			case <-cp.stop:
				return
			case <-cp.kick:
				if err := c.Exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil && cp.err == nil {
					cp.err = err
				}
			}
		}
	}()
	return cp, nil
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
