package view

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicedb/sluice/internal/fsutil"
)

// SetBulk switches the file into or out of bulk mode. In bulk mode SQLite
// does not fsync (synchronous=OFF): a catch-up runs much faster, and since
// the log is the truth nothing is at risk. Entering bulk mode durably marks
// the file with the operating system's boot id; OpenFile moves a file
// marked in another boot aside and rebuilds its views (the OS went down
// while pages were unsynced). Leaving bulk mode does not sync yet: the mark
// stays, and commits stay unsynced, until Settle has synced what bulk mode
// wrote (an fsync in between would only cost time: after an OS crash the
// mark makes the views rebuild anyway).
func (f *File) SetBulk(on bool) error {
	if err := f.Commit(); err != nil {
		return err
	}
	if on == f.bulk {
		return nil
	}
	if on {
		// The mark must be durable before any unsynced write.
		if err := f.exec(`INSERT OR REPLACE INTO sluice_file(key, value) VALUES ('dirty_boot', '` + strings.ReplaceAll(bootID(), "'", "") + `'); PRAGMA wal_checkpoint(FULL)`); err != nil {
			return fmt.Errorf("enter bulk mode: %w", err)
		}
		if err := f.exec(`PRAGMA synchronous=OFF`); err != nil {
			return fmt.Errorf("enter bulk mode: %w", err)
		}
		f.cp.setSynced(false)
		f.bulk = true
		f.unsettled.Store(true)
		return nil
	}
	// Still without fsync: the file is not settled. (With synchronous=NORMAL
	// here, the first commit after the WAL starts over fsyncs its header,
	// and with it the WAL's unsynced pages: a local entry waited 45-70 ms
	// behind that commit right after a catch-up of 600k entries.)
	f.cp.poke()
	f.bulk = false
	return nil
}

// Unsettled reports whether the file holds pages bulk mode wrote that may
// not be on disk yet (see Settle). It is safe to call from any goroutine.
func (f *File) Unsettled() bool { return f.unsettled.Load() }

// Settle syncs what bulk mode wrote to disk — the database file and its
// WAL, wherever the pages are — and removes the file's dirty mark. Until
// then a crash of the operating system makes the next OpenFile rebuild the
// file's views from the log. OpenFile settles a file marked in the current
// boot; the indexer settles when it has been idle a while. Settling a file
// the kernel has already written back is quick.
func (f *File) Settle() error {
	if !f.unsettled.Load() || f.bulk {
		return nil
	}
	if err := f.Commit(); err != nil {
		return err
	}
	// From now on SQLite syncs as synchronous=NORMAL does (checkpoints
	// fsync, and the WAL header after a restart); then sync what was
	// written before.
	if err := f.exec(`PRAGMA synchronous=NORMAL`); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if f.cp != nil {
		f.cp.setSynced(true)
	}
	for _, p := range []string{f.path, f.path + "-wal"} {
		if err := syncFile(p); err != nil {
			return fmt.Errorf("settle: %w", err)
		}
	}
	if err := fsutil.SyncDir(filepath.Dir(f.path)); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	if err := f.exec(`DELETE FROM sluice_file WHERE key = 'dirty_boot'`); err != nil {
		return fmt.Errorf("settle: %w", err)
	}
	f.unsettled.Store(false)
	return nil
}

// syncFile fsyncs the file at path, if it exists.
func syncFile(path string) error {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	err = fh.Sync()
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}
