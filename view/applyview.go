package view

import (
	"context"
	"fmt"

	"github.com/sluicedb/sluice/log"
)

// applyView runs the view's writer over items, in a savepoint. If the
// writer fails, the savepoint is rolled back and the items are applied
// again one at a time, each in its own savepoint and with a new writer, to
// find the entry: under RejectOnError it is rejected and the others are
// applied; under StopOnError (or for an error of the database) the
// *ApplyError naming it is returned, and the caller rolls the whole
// transaction back.
func (f *File) applyView(ctx context.Context, vs *viewState, tx *Tx, items []Item) error {
	if err := f.exec("SAVEPOINT sluice_view"); err != nil {
		return f.applyError(vs, items[0].Seq, err, true)
	}
	// Rows the writer left queued run before the release.
	err := f.as(vs, false, func() error { return f.apply(ctx, vs, tx, items) })
	if err == nil {
		err = f.exec("RELEASE sluice_view")
	}
	if err == nil {
		return nil
	}
	if storageError(ctx, err) {
		return f.applyError(vs, items[0].Seq, err, true)
	}
	rejects := len(tx.rejects)
	if err := f.undo(vs, "sluice_view"); err != nil {
		return f.applyError(vs, items[0].Seq, err, true)
	}
	tx.rejects = tx.rejects[:rejects]
	for _, it := range items {
		if err := f.exec("SAVEPOINT sluice_entry"); err != nil {
			return f.applyError(vs, it.Seq, err, true)
		}
		rejects := len(tx.rejects)
		err := f.as(vs, false, func() error { return f.apply(ctx, vs, tx, []Item{it}) })
		if err == nil {
			err = f.exec("RELEASE sluice_entry")
		}
		if err == nil {
			continue
		}
		if storageError(ctx, err) {
			return f.applyError(vs, it.Seq, err, true)
		}
		if err := f.undo(vs, "sluice_entry"); err != nil {
			return f.applyError(vs, it.Seq, err, true)
		}
		if err := f.exec("RELEASE sluice_entry"); err != nil {
			return f.applyError(vs, it.Seq, err, true)
		}
		tx.rejects = tx.rejects[:rejects]
		if f.opts.OnError != RejectOnError {
			return f.applyError(vs, it.Seq, err, false)
		}
		tx.Reject(it.Seq, err)
	}
	if err := f.exec("RELEASE sluice_view"); err != nil {
		return f.applyError(vs, items[0].Seq, err, true)
	}
	return nil
}

// apply runs the view's writer over items; a panic in it is its error
// (see PanicError).
func (f *File) apply(ctx context.Context, vs *viewState, tx *Tx, items []Item) error {
	what := func() string {
		return fmt.Sprintf("view %q in %s: Apply of entries %d..%d", vs.v.Name(), f.path, items[0].Seq, items[len(items)-1].Seq)
	}
	return f.guard(what, func() error { return vs.w.Apply(ctx, tx, items) })
}

// undo rolls back to the savepoint, dropping the rows the writer left
// queued, and gives the view a new writer: the old one may hold state from
// what was undone.
func (f *File) undo(vs *viewState, savepoint string) error {
	f.conn.Discard()
	if err := f.exec("ROLLBACK TO " + savepoint); err != nil {
		return err
	}
	if err := vs.w.Close(); err != nil {
		return err
	}
	vs.w = nil
	return f.openWriter(vs)
}

func (f *File) applyError(vs *viewState, seq log.Seq, err error, storage bool) error {
	return &ApplyError{File: f.path, View: vs.v.Name(), Seq: seq, Storage: storage, Err: err}
}
