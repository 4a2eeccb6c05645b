package index

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Appender is a log that Transact can append to; *log.Log is one.
type Appender interface {
	log.Source
	// Node is the log's node id: the ID of an entry first appended to it.
	Node() log.NodeID
	// AppendFunc appends the records fn returns with no other append in
	// between (see log.Log.AppendFunc).
	AppendFunc(ctx context.Context, fn func(next log.Seq, at time.Time) ([]log.Record, error)) ([]log.Seq, error)
}

var _ Appender = (*log.Log)(nil)

// ErrNotAppendable is returned by Transact when the Indexer reads a source
// it cannot append to (a log.Reader, a flumelog-offset file): give New the
// *log.Log itself.
var ErrNotAppendable = errors.New("index: the indexer's source cannot be appended to (Transact needs the log's writer, a *log.Log)")

// Transact runs fn with every view caught up to the log's end and the log's
// appends held: no other entry can come between what the views hold and the
// records fn stages. The records fn stages (Tx.Stage) are applied to the
// views inside their open transactions as fn goes, so that fn's checks
// (Tx.Check) see them; when fn returns nil they are appended to the log in
// one atomic Append, and only then do the views commit — with their since
// at the appended seqs, so the indexer skips those entries when it reads
// them. Transact returns the seq of the first record staged (0 if fn
// staged none).
//
// If fn returns an error, a Stage failed, or the append fails, every view
// rolls back what fn staged and nothing of it is in the log; Transact
// returns that error. If the append succeeds but a view file fails to
// commit, the entries are in the log and Transact succeeds: the file
// recovers and the indexer applies them from the log (a file that cannot
// recover stops the indexer, see Err).
//
// Transact may be called from any goroutine, while Run or SynchronizeUpTo
// runs or not; calls run one at a time. While fn runs, the indexer's
// writers are paused (each commits what it staged first) and every Append
// to the log waits, so keep fn short: catching up a view that lags far
// behind the log happens first, in fn's call, at the speed of ordinary
// batches. fn must not append to the log, call Transact or wait for the
// indexer (WaitFor): those wait for fn. The Indexer's source must be an
// Appender (else ErrNotAppendable).
func (ix *Indexer) Transact(ctx context.Context, fn func(tx *Tx) error) (first log.Seq, err error) {
	app, ok := ix.src.(Appender)
	if !ok {
		return 0, ErrNotAppendable
	}
	ix.txMu.Lock()
	defer ix.txMu.Unlock()
	resume, err := ix.pause(ctx)
	if err != nil {
		return 0, fmt.Errorf("index: transact: %w", err)
	}
	defer resume()
	for _, f := range ix.files {
		if err := f.Err(); err != nil {
			return 0, fmt.Errorf("index: transact: %w", err)
		}
	}
	// Catch up with the log as it is, without holding its appends; the
	// rest (what was appended meanwhile) once they are held.
	last, err := ix.src.Last()
	if err != nil {
		return 0, fmt.Errorf("index: transact: %w", err)
	}
	pos := ix.minSince()
	it, err := ix.src.Iter(pos + 1)
	if err != nil {
		return 0, fmt.Errorf("index: transact: read log: %w", err)
	}
	defer it.Close()
	if err := ix.catchUp(ctx, it, &pos, last); err != nil {
		return 0, ix.rollback(err)
	}
	var tx *Tx
	seqs, err := app.AppendFunc(ctx, func(next log.Seq, at time.Time) ([]log.Record, error) {
		if err := ix.catchUp(ctx, it, &pos, next-1); err != nil {
			return nil, err
		}
		// The time as the log stores it (nanoseconds, no monotonic
		// reading), so that views see what they will read from the log.
		tx = &Tx{ix: ix, ctx: ctx, node: app.Node(), next: next, at: time.Unix(0, at.UnixNano())}
		if err := fn(tx); err != nil {
			return nil, err
		}
		if tx.err != nil {
			return nil, tx.err
		}
		return tx.recs, nil
	})
	if err != nil || len(seqs) == 0 {
		if err != nil {
			err = fmt.Errorf("index: transact: %w", err)
		}
		return 0, ix.rollback(err)
	}
	if testHookAppended != nil {
		testHookAppended()
	}
	for _, f := range ix.files {
		if cerr := f.Commit(); cerr != nil {
			// The entries are in the log: the indexer applies them once
			// the file has recovered.
			ix.opts.Logger.Warn("index: transact: a view file failed to commit entries already in the log; recovering it", "file", f.Path(), "err", cerr)
			if rerr := f.Recover(); rerr != nil {
				ix.opts.Logger.Error("index: transact: the view file could not recover", "file", f.Path(), "err", rerr)
			}
		}
	}
	ix.broadcast()
	return seqs[0], nil
}

// testHookAppended, if set (by tests only), runs when a Transact has
// appended its records and not yet committed the views.
var testHookAppended func()

// rollback undoes what is staged in every file and returns cause, joined
// with any failure to roll back.
func (ix *Indexer) rollback(cause error) error {
	errs := []error{cause}
	for _, f := range ix.files {
		if err := f.Rollback(); err != nil {
			errs = append(errs, fmt.Errorf("index: transact: %w", err))
		}
	}
	return errors.Join(errs...)
}

// catchUp applies the entries it yields to every file, in batches each
// committed, until it has passed seq upTo. pos is how far it has read.
func (ix *Indexer) catchUp(ctx context.Context, it log.Iterator, pos *log.Seq, upTo log.Seq) error {
	for *pos < upTo {
		es, _, err := ix.readBatch(it, 0)
		if err != nil {
			return err
		}
		newPos := position(it, es, *pos)
		if newPos == *pos {
			return fmt.Errorf("read log: it ends at seq %d, before seq %d", *pos, upTo)
		}
		for _, f := range ix.files {
			if err := f.Apply(ctx, &view.Batch{Entries: es, From: *pos + 1, To: newPos}); err != nil {
				return err
			}
		}
		*pos = newPos
		ix.broadcast()
	}
	return nil
}

// Tx is what Transact's fn stages records and runs checks with. It is used
// by fn's goroutine only, and only while fn runs.
type Tx struct {
	ix   *Indexer
	ctx  context.Context
	node log.NodeID
	next log.Seq
	at   time.Time
	recs []log.Record
	err  error // a Stage that failed: the Transact fails
}

// Next returns the seq the next record staged will get.
func (tx *Tx) Next() log.Seq { return tx.next }

// Time returns the append time every record of the Transact will carry
// (log.Entry.Time).
func (tx *Tx) Time() time.Time { return tx.at }

// Stage applies recs to every view, inside the open transactions, as the
// entries they will be once appended: seqs from Next on, the Transact's
// Time, the ID of an entry first appended here (or the record's Author).
// Views and checks see them at once; the log gets them when fn returns
// nil. A record with an empty payload or an unknown origin is refused with
// an error and nothing staged. A view failing to apply them fails the
// whole Transact: Stage returns the error, and so does every later Stage
// and Check, and Transact, whatever fn returns.
func (tx *Tx) Stage(recs ...log.Record) error {
	if tx.err != nil {
		return tx.err
	}
	if len(recs) == 0 {
		return nil
	}
	es := make([]log.Entry, len(recs))
	for i, r := range recs {
		seq := tx.next + log.Seq(i)
		if len(r.Payload) == 0 || (r.Origin != log.Local && r.Origin != log.Remote) {
			return fmt.Errorf("index: stage record %d of %d: %w: want a payload and origin local or remote", i+1, len(recs), log.ErrInvalid)
		}
		id := r.Author
		if id.IsZero() {
			id = log.ID{Node: tx.node, Seq: seq}
		}
		es[i] = log.Entry{Seq: seq, Origin: r.Origin, Time: tx.at, Payload: r.Payload, ID: id, Via: r.Via, Scope: r.Scope}
	}
	to := es[len(es)-1].Seq
	for _, f := range tx.ix.files {
		if err := f.Stage(tx.ctx, &view.Batch{Entries: es, From: tx.next, To: to}); err != nil {
			tx.err = fmt.Errorf("index: stage seqs %d..%d: %w", tx.next, to, err)
			return tx.err
		}
	}
	tx.recs = append(tx.recs, recs...)
	tx.next = to + 1
	return nil
}

// HasChecks reports whether any view has checks (view.Checker): whether
// Check can reject anything. With none, fn may stage a task's records after
// handling several, not before each Check.
func (tx *Tx) HasChecks() bool {
	for _, f := range tx.ix.files {
		if f.HasChecks() {
			return true
		}
	}
	return false
}

// Check runs the views' checks (view.Checker: the -- sluice:check KIND
// sections of SQL views) for task t against the views as they are now,
// records staged so far included, and returns the first reason to reject
// it, or "" if no check objects. An error means the checks could not run;
// it does not fail the Transact.
func (tx *Tx) Check(ctx context.Context, t view.CheckTask) (reason string, err error) {
	if tx.err != nil {
		return "", tx.err
	}
	for _, f := range tx.ix.files {
		if reason, err := f.Check(ctx, t); err != nil || reason != "" {
			return reason, err
		}
	}
	return "", nil
}
