package view

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
)

// ErrFailed is returned by a File whose last transaction failed, wrapping
// the cause: its in-memory state may disagree with the database, so it must
// be reopened (or recovered with File.Recover).
var ErrFailed = errors.New("view file unusable after a failed transaction; reopen it")

// ApplyError is the error of a view's Writer.Apply on an entry that stopped
// its file (see ErrorPolicy). Match it with errors.As.
type ApplyError struct {
	File string  // the view file's path
	View string  // the view's name
	Seq  log.Seq // the entry Apply failed on; for an error of the database (Storage), the batch's first
	// Storage reports that the cause is the database's (a full disk, an
	// I/O error), not the entry's: no policy rejects the entry then.
	Storage bool
	Err     error // what Apply returned (a *PanicError if it panicked)
}

// Error names the view, its file, the entry and the cause.
func (e *ApplyError) Error() string {
	if e.Storage {
		return fmt.Sprintf("view %q in %s: applying entries from seq %d: %v", e.View, e.File, e.Seq, e.Err)
	}
	return fmt.Sprintf("view %q in %s: entry %d: %v", e.View, e.File, e.Seq, e.Err)
}

// Unwrap returns the writer's error.
func (e *ApplyError) Unwrap() error { return e.Err }

// ErrorPolicy says what a view file does when a view's Writer.Apply returns
// an error for an entry (Options.OnError). Entries a Decoder refuses, and
// entries a writer passes to Tx.Reject, are rejected under either policy.
// Errors of the database itself — a full disk, an I/O error, a corrupt
// file, a cancelled context — always stop.
type ErrorPolicy int

const (
	// StopOnError, the default, rolls the file's open transaction back,
	// so every view stays where it was, and fails the file with an
	// *ApplyError naming the view and the entry. The indexer stops with
	// it, and stops again at the same entry when restarted, until the
	// view's code is fixed (give it a new Version to rebuild it).
	StopOnError ErrorPolicy = iota
	// RejectOnError undoes what the writer did for the failing entry,
	// records the entry and the error in sluice_rejects (see File.Rejects)
	// and goes on, as views declared in SQL do. The writer is closed and
	// opened again after a failure, so it keeps no state from the entry.
	RejectOnError
)

// String returns "stop" or "reject".
func (p ErrorPolicy) String() string {
	switch p {
	case StopOnError:
		return "stop"
	case RejectOnError:
		return "reject"
	}
	return fmt.Sprintf("ErrorPolicy(%d)", int(p))
}

// storageError reports whether err is the database's (or the context's)
// rather than the entry's: such errors stop indexing whatever the policy.
func storageError(ctx context.Context, err error) bool {
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code & 0xff {
	case sqlite.CodeBusy, sqlite.CodeLocked, sqlite.CodeNoMem, sqlite.CodeReadOnly, sqlite.CodeInterrupt,
		sqlite.CodeIOErr, sqlite.CodeCorrupt, sqlite.CodeFull, sqlite.CodeCantOpen, sqlite.CodeProtocol, sqlite.CodeNotADB:
		return true
	}
	return false
}
