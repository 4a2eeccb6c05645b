package sluice

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

// Append appends records to the log and returns their seqs (see
// log.Log.Append: all of them, in order, durable as Options.Log says).
// The views show them soon after; WaitFor waits for that. A DB that
// reads Options.Source returns ErrReadOnly.
func (db *DB) Append(ctx context.Context, recs ...log.Record) ([]log.Seq, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	if db.log == nil {
		return nil, ErrReadOnly
	}
	return db.log.Append(ctx, recs...)
}

// AppendAndWait appends records, then waits until every view shows the
// last of them (read your writes), or ctx ends, or indexing stops. The
// records are in the log once the seqs are returned, also with an error
// from the wait.
func (db *DB) AppendAndWait(ctx context.Context, recs ...log.Record) ([]log.Seq, error) {
	seqs, err := db.Append(ctx, recs...)
	if err != nil {
		return nil, err
	}
	if len(seqs) == 0 {
		return seqs, nil
	}
	return seqs, db.WaitFor(ctx, seqs[len(seqs)-1])
}

// WaitFor blocks until the entry at seq shows in the named views (all if
// none is named): local entries show as soon as the views that accept
// them ahead of a backlog have applied them (see index.Indexer.WaitFor).
// It returns ctx's error when ctx ends, the indexer's error if indexing
// stops with one (see Err), and ErrClosed if the DB is closed first.
func (db *DB) WaitFor(ctx context.Context, seq log.Seq, views ...string) error {
	if db.closed.Load() {
		return ErrClosed
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(db.life, cancel)
	defer stop()
	err := db.ix.WaitFor(wctx, seq, views...)
	if err != nil && ctx.Err() == nil && db.life.Err() != nil {
		if ierr := db.Err(); ierr != nil {
			return ierr
		}
		return ErrClosed
	}
	return err
}

// Query runs a read-only SQL statement over the view files (see
// query.DB.Query: a statement that would write is refused with
// query.ErrWrite, transaction control with query.ErrTransaction). Tables are named alone, or as FILE.table: app.todos.
// It returns ErrClosed once the DB is closed.
func (db *DB) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if db.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := db.q.Query(ctx, q, args...)
	if err != nil && db.closed.Load() {
		return nil, ErrClosed // closed meanwhile
	}
	return rows, err
}

// QueryRow runs a read-only statement expected to return at most one row;
// errors come with Scan (ErrClosed once the DB is closed).
func (db *DB) QueryRow(ctx context.Context, q string, args ...any) *query.Row {
	if db.closed.Load() {
		return query.FailedRow(ErrClosed)
	}
	r := db.q.QueryRow(ctx, q, args...)
	if r.Err() != nil && db.closed.Load() {
		return query.FailedRow(ErrClosed) // closed meanwhile
	}
	return r
}

// Rebuild drops the named view's tables and indexes the whole log into it
// again, while the DB runs: indexing pauses (the other views lose nothing),
// the view's tables are created empty, and indexing resumes. It returns
// once indexing has resumed; WaitFor tells when the view has caught up.
func (db *DB) Rebuild(ctx context.Context, name string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.closed.Load() {
		return ErrClosed
	}
	if err := db.Err(); err != nil {
		return fmt.Errorf("sluice: rebuild %q: indexing has stopped: %w", name, err)
	}
	for _, f := range db.files {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			db.halt()
			err := f.Recover()
			if err == nil {
				err = f.Rebuild(name, "rebuild requested by the program")
			}
			db.start()
			if err != nil {
				return fmt.Errorf("sluice: %w", err)
			}
			return nil
		}
	}
	return fmt.Errorf("sluice: rebuild: no view named %q", name)
}
