package view

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/sluicedb/sluice/log"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PayloadCRC is the checksum view files written by earlier versions kept of
// the payload of the last entry applied in seq order (see EntryCRC).
func PayloadCRC(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// EntryCRC is the checksum a view file keeps of the last entry it applied
// in seq order, so the indexer can tell that the log it resumes from is the
// log the view was built from: a crc32c over the entry's seq and append
// time (8 bytes each, big-endian; time in Unix nanoseconds, 0 if the source
// records none), its identity (the node, 16 bytes, and the seq there, 8
// bytes big-endian; zero for sources without one) and its payload. An entry
// lost and appended again at the same seq, even with the same payload, has
// another time; the same entry in another node's log, another identity.
func EntryCRC(e log.Entry) uint32 {
	var head [40]byte
	binary.BigEndian.PutUint64(head[:8], uint64(e.Seq))
	if !e.Time.IsZero() {
		binary.BigEndian.PutUint64(head[8:16], uint64(e.Time.UnixNano()))
	}
	copy(head[16:32], e.ID.Node[:])
	binary.BigEndian.PutUint64(head[32:], uint64(e.ID.Seq))
	crc := crc32.Update(0, castagnoli, head[:])
	return crc32.Update(crc, castagnoli, e.Payload)
}

// Batch is a run of entries for File.Apply.
type Batch struct {
	// Entries in increasing seq order.
	Entries []log.Entry
	// Ahead marks a batch of local entries applied ahead of the backlog:
	// only views that accept them get them, and since does not move.
	Ahead bool
	// From and To bound the part of the log a backlog batch covers: every
	// entry of the source with From <= seq <= To is in Entries (a source
	// may skip seqs, e.g. deleted records). After Apply, a view's since is
	// at least To. Unused for an Ahead batch.
	From, To log.Seq

	values [][]any   // per view of the file that decoded the batch: one value per entry
	errs   [][]error // per view: decode errors
	file   *File     // the file that decoded it
}

// Decode runs the views' Decoders over the batch's entries and keeps the
// results in the batch for Apply. It does not touch the database, so it may
// run on another goroutine, concurrently with Apply of another batch.
func (f *File) Decode(b *Batch) {
	b.file = f
	b.values = make([][]any, len(f.views))
	b.errs = make([][]error, len(f.views))
	for i, vs := range f.views {
		if vs.dec == nil || (b.Ahead && !vs.local) {
			continue
		}
		vals := make([]any, len(b.Entries))
		var errs []error
		for j := 0; j < len(b.Entries); j++ {
			// One recover per run of entries, not per entry: Decode is
			// on the indexer's hot path.
			j = f.decodeFrom(vs, b.Entries, j, vals, &errs)
		}
		b.values[i], b.errs[i] = vals, errs
	}
}

// decodeFrom runs the view's Decoder on entries from j on, filling vals
// and *errs (made when the first error comes). A panic in Decode is the
// entry's error (see PanicError); decodeFrom then returns that entry's
// index, else len(entries).
func (f *File) decodeFrom(vs *viewState, entries []log.Entry, j int, vals []any, errs *[]error) (at int) {
	setErr := func(j int, err error) {
		if *errs == nil {
			*errs = make([]error, len(entries))
		}
		(*errs)[j] = err
	}
	defer func() {
		if v := recover(); v != nil {
			setErr(j, f.panicked(v, fmt.Sprintf("view %q in %s: Decode of entry %d", vs.v.Name(), f.path, entries[j].Seq)))
			at = j
		}
	}()
	for ; j < len(entries); j++ {
		v, err := vs.dec.Decode(entries[j])
		if err != nil {
			setErr(j, err)
			continue
		}
		vals[j] = v
	}
	return j
}

// Apply applies the batch to every view of the file that needs it and
// commits, together with the views' progress, in one transaction. A backlog
// batch must start right after a view's since (or before it: entries a view
// already has are skipped, as are local entries it applied ahead).
func (f *File) Apply(ctx context.Context, b *Batch) error {
	if err := f.Stage(ctx, b); err != nil {
		return err
	}
	return f.Commit()
}

// Stage applies the batch like Apply but leaves the transaction open, so
// that several batches share one commit; Commit ends it. Readers (and
// Status, Applied, MinSince) see staged batches only once committed.
func (f *File) Stage(ctx context.Context, b *Batch) error {
	if f.err != nil {
		return f.err
	}
	if b.file != f {
		f.Decode(b)
	}
	if !f.inTx {
		if err := f.exec("BEGIN IMMEDIATE"); err != nil {
			return fmt.Errorf("apply to %s: %w", f.path, err)
		}
		f.inTx = true
	}
	if err := f.applyTx(ctx, b); err != nil {
		f.fail(err)
		var ae *ApplyError
		if errors.As(err, &ae) {
			return err
		}
		return fmt.Errorf("apply to %s: %w", f.path, err)
	}
	return nil
}

// Commit commits the batches staged since the last commit, if any.
func (f *File) Commit() error {
	if f.err != nil {
		return f.err
	}
	if !f.inTx {
		return nil
	}
	if err := f.exec("COMMIT"); err != nil {
		f.fail(err)
		return fmt.Errorf("apply to %s: commit: %w", f.path, err)
	}
	f.inTx = false
	for _, vs := range f.views {
		f.publish(vs)
	}
	if f.cp != nil {
		switch n := f.conn.WALFrames(); {
		case n >= walRestartFrames && (f.bulk || n >= 4*walRestartFrames):
			// The checkpointer copied most of it, but a WAL restarts only
			// when a checkpoint has caught up when a write begins, which a
			// busy writer never lets happen: copy the rest here. Outside
			// bulk mode this checkpoint fsyncs, so only a WAL that keeps
			// growing gets it (a 1-entry commit after a 10,000-entry one
			// took 10 ms).
			if err := f.exec("PRAGMA wal_checkpoint(PASSIVE)"); err != nil {
				return fmt.Errorf("checkpoint %s: %w", f.path, err)
			}
		case n >= walCheckpointFrames:
			f.cp.poke()
		}
	}
	return nil
}

// Pending reports whether batches are staged but not committed.
func (f *File) Pending() bool { return f.inTx }

// fail rolls back what was staged and makes the file unusable: its
// in-memory state no longer matches the database.
func (f *File) fail(err error) {
	f.conn.Discard()
	if f.inTx {
		f.exec("ROLLBACK")
		f.inTx = false
	}
	f.mu.Lock()
	f.err = fmt.Errorf("%w: %w", ErrFailed, err)
	f.mu.Unlock()
}

// Recover makes a file that failed (Err is set) usable again, for a cause
// that may pass, such as a full disk: it rolls back what was staged,
// reloads every view's progress from the database and gives each view a
// new writer, as reopening the file would. It does nothing to a file that
// has not failed. Like Apply, it must not run concurrently with other
// methods but Status, Applied, MinSince and Err.
func (f *File) Recover() error {
	if f.Err() == nil {
		return nil
	}
	return f.reload("recover")
}

// Rollback undoes the batches staged since the last commit, as if they
// had never been staged: it rolls the transaction back, reloads every
// view's progress from the database and gives each view a new writer (one
// may hold state from what was undone). On a file that failed it is
// Recover. Like Apply, it must not run concurrently with other methods but
// Status, Applied, MinSince and Err.
func (f *File) Rollback() error {
	if !f.inTx && f.Err() == nil {
		return nil
	}
	return f.reload("roll back")
}

// reload rolls back what was staged and reloads the views' progress and
// writers from the database; what names the operation in errors.
func (f *File) reload(what string) error {
	f.conn.Discard()
	f.exec("ROLLBACK") // SQLite may have rolled back already
	f.inTx = false
	for _, vs := range f.views {
		m, found, err := f.loadMeta(vs.v.Name())
		if err == nil && !found {
			err = fmt.Errorf("no record of view %q", vs.v.Name())
		}
		if err != nil {
			return fmt.Errorf("%s %s: %w", what, f.path, err)
		}
		vs.m, vs.ahead = m, map[log.Seq]struct{}{}
		if err := f.loadAhead(vs); err != nil {
			return fmt.Errorf("%s %s: %w", what, f.path, err)
		}
		if vs.w != nil {
			vs.w.Close()
			vs.w = nil
		}
		if err := f.openWriter(vs); err != nil {
			return fmt.Errorf("%s %s: view %q: open writer: %w", what, f.path, vs.v.Name(), err)
		}
		f.publish(vs)
	}
	f.mu.Lock()
	f.err = nil
	f.mu.Unlock()
	return nil
}

func (f *File) applyTx(ctx context.Context, b *Batch) error {
	for i, vs := range f.views {
		if b.Ahead && !vs.local {
			continue
		}
		if !b.Ahead && b.From > log.Seq(vs.m.since)+1 {
			return fmt.Errorf("view %q: batch starts at seq %d but the view has only reached %d", vs.v.Name(), b.From, vs.m.since)
		}
		tx := &Tx{ctx: ctx, conn: f.wc, view: vs.v.Name(), indexesDone: vs.m.indexesDone}
		items := make([]Item, 0, len(b.Entries))
		for j, e := range b.Entries {
			if e.Seq <= log.Seq(vs.m.since) {
				continue
			}
			if _, done := vs.ahead[e.Seq]; done {
				continue
			}
			if b.Ahead && e.Origin != log.Local {
				continue
			}
			if b.errs[i] != nil && b.errs[i][j] != nil {
				// A Decoder's error rejects the entry; its panic is a bug,
				// handled as Apply's errors are.
				var pe *PanicError
				if errors.As(b.errs[i][j], &pe) && f.opts.OnError != RejectOnError {
					return f.applyError(vs, e.Seq, b.errs[i][j], false)
				}
				tx.Reject(e.Seq, b.errs[i][j])
				continue
			}
			it := Item{Entry: e}
			if b.values[i] != nil {
				it.Value = b.values[i][j]
			}
			items = append(items, it)
		}
		if len(items) > 0 {
			if err := f.applyView(ctx, vs, tx, items); err != nil {
				return err
			}
		}
		for _, r := range tx.rejects {
			f.addReject.Text(r.View)
			f.addReject.Int(int64(r.Seq))
			f.addReject.Text(r.Err)
		}
		if err := f.addReject.Exec(); err != nil {
			return err
		}
		if b.Ahead {
			var seqs []log.Seq
			for _, it := range items {
				seqs = append(seqs, it.Seq)
			}
			for _, r := range tx.rejects {
				seqs = append(seqs, r.Seq)
			}
			for _, s := range seqs {
				f.addAhead.Text(vs.v.Name())
				f.addAhead.Int(int64(s))
				vs.ahead[s] = struct{}{}
			}
			if err := f.addAhead.Exec(); err != nil {
				return err
			}
			continue
		}
		if b.To <= log.Seq(vs.m.since) {
			continue
		}
		if n := len(b.Entries); n > 0 {
			last := b.Entries[n-1]
			vs.m.checkSeq, vs.m.checkCRC, vs.m.checkKind = uint64(last.Seq), EntryCRC(last), checkEntry
		}
		vs.m.since = uint64(b.To)
		f.setSince.Int(int64(vs.m.since))
		f.setSince.Int(int64(vs.m.checkSeq))
		f.setSince.Int(int64(vs.m.checkCRC))
		f.setSince.Int(int64(vs.m.checkKind))
		f.setSince.Text(vs.v.Name())
		if err := f.setSince.Exec(); err != nil {
			return err
		}
		if len(vs.ahead) > 0 {
			f.delAhead.Text(vs.v.Name())
			f.delAhead.Int(int64(b.To))
			if err := f.delAhead.Exec(); err != nil {
				return err
			}
			for s := range vs.ahead {
				if s <= b.To {
					delete(vs.ahead, s)
				}
			}
		}
	}
	return nil
}

// publish makes a view's committed state visible to Status, Applied and
// MinSince, which other goroutines call.
func (f *File) publish(vs *viewState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	vs.pub = vs.m
	if len(vs.ahead) == 0 && len(vs.pubAhead) == 0 {
		return
	}
	vs.pubAhead = make(map[log.Seq]struct{}, len(vs.ahead))
	for s := range vs.ahead {
		vs.pubAhead[s] = struct{}{}
	}
}

// Split cuts a backlog batch into batches of at most n entries, in order,
// that together cover what b covers (From to To) and keep what Decode made
// of their entries. Staging them one by one is staging b, with room between
// them for other work. An Ahead batch, or one of at most n entries, comes
// back whole.
func (b *Batch) Split(n int) []*Batch {
	if b.Ahead || n <= 0 || len(b.Entries) <= n {
		return []*Batch{b}
	}
	var out []*Batch
	from := b.From
	for i := 0; i < len(b.Entries); i += n {
		j := min(i+n, len(b.Entries))
		to := b.Entries[j-1].Seq
		if j == len(b.Entries) {
			to = b.To
		}
		part := &Batch{Entries: b.Entries[i:j], From: from, To: to, file: b.file}
		if b.values != nil {
			part.values = make([][]any, len(b.values))
			part.errs = make([][]error, len(b.errs))
			for v := range b.values {
				if b.values[v] != nil {
					part.values[v] = b.values[v][i:j]
				}
				if b.errs[v] != nil {
					part.errs[v] = b.errs[v][i:j]
				}
			}
		}
		out = append(out, part)
		from = to + 1
	}
	return out
}
