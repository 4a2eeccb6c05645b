package log

import "context"

// Source is the reading side of a log: the native log (*Log, *Reader) and
// foreign formats such as flumelog-offset files (package log/offset) all
// implement it, so the indexer runs over any of them.
//
// All methods are safe for concurrent use.
type Source interface {
	// Last returns the highest seq present in the source now, 0 if it is
	// empty.
	Last() (Seq, error)
	// Iter returns an iterator over the entries with seq >= from, in seq
	// order. from 0 or 1 means from the start.
	Iter(from Seq) (Iterator, error)
	// Wait blocks until the source holds an entry with seq > after, then
	// returns Last. It returns ctx.Err() when ctx ends first.
	Wait(ctx context.Context, after Seq) (Seq, error)
}

// Iterator walks the entries of a Source in seq order. An Iterator is not
// safe for concurrent use; open one per goroutine.
//
//	it, err := src.Iter(1)
//	...
//	defer it.Close()
//	for it.Next() {
//		e := it.Entry()
//		...
//	}
//	if err := it.Err(); err != nil { ... }
//
// When Next returns false and Err is nil, the iterator has reached the end
// of what the source held; it stays usable, and a later Next returns the
// entries appended since (so a follower calls Source.Wait and then Next
// again).
type Iterator interface {
	// Next advances to the next entry and reports whether there is one.
	Next() bool
	// Entry returns the current entry. Its Payload stays valid after
	// Next and Close but must not be modified.
	Entry() Entry
	// Err returns the error that stopped Next, if any. A corrupt record
	// yields an error naming its seq; it is never skipped silently.
	Err() error
	// Close releases the iterator's resources. It is idempotent.
	Close() error
}

// Positioner is implemented by iterators of sources that may skip seqs
// (such as deleted records in a flumelog-offset file).
type Positioner interface {
	// Position returns the highest seq the iterator has passed: every
	// entry at or below it has been yielded, or does not exist.
	Position() Seq
}
