package view

import (
	"context"
	"fmt"
	"reflect"

	"github.com/sluicedb/sluice/log"
)

// TypedItem is an entry handed to a TypedWriter, with what the view's
// Decoder made of it as a T. The entry is the batch's: it is valid during
// Apply, and must not be modified or kept.
type TypedItem[T any] struct {
	*log.Entry
	// Value is the Decoder's result for this entry; T's zero value when
	// the Decoder returned nil (or the view has no Decoder).
	Value T
}

// TypedWriter is a Writer of a view whose Decoder returns T values: its
// Apply gets them typed, with no type assertion to write. Typed makes a
// Writer of it. The contract is Writer's.
type TypedWriter[T any] interface {
	// Apply is Writer.Apply, with each item's value as a T.
	Apply(ctx context.Context, tx *Tx, items []TypedItem[T]) error
	// Close releases the writer's statements.
	Close() error
}

// Typed returns the Writer a view's Open returns for w: its Apply hands
// w the items with their values as T. The view's Decode must return T
// values (or nil, handed on as T's zero value); any other type fails the
// batch with an error naming both types, which stops the indexer like a
// failed Apply. If w is also an IndexBuilder or a Checker, so is the
// Writer, calling w's. Like any Writer it is used by one goroutine at a
// time: it reuses one slice of items from batch to batch.
func Typed[T any](w TypedWriter[T]) Writer {
	t := &typedWriter[T]{w: w}
	ib, isIB := w.(IndexBuilder)
	ch, isCh := w.(Checker)
	switch {
	case isIB && isCh:
		return struct {
			*typedWriter[T]
			IndexBuilder
			Checker
		}{t, ib, ch}
	case isIB:
		return struct {
			*typedWriter[T]
			IndexBuilder
		}{t, ib}
	case isCh:
		return struct {
			*typedWriter[T]
			Checker
		}{t, ch}
	}
	return t
}

// typedWriter is the Writer Typed returns, without w's optional methods.
type typedWriter[T any] struct {
	w     TypedWriter[T]
	items []TypedItem[T]
}

func (t *typedWriter[T]) Apply(ctx context.Context, tx *Tx, items []Item) error {
	t.items = t.items[:0]
	for i := range items {
		it := &items[i]
		ti := TypedItem[T]{Entry: &it.Entry}
		if it.Value != nil {
			v, ok := it.Value.(T)
			if !ok {
				return fmt.Errorf("view %q: seq %d: Decode returned a %T, and the view's writer takes a %v (view.Typed)", tx.view, it.Seq, it.Value, reflect.TypeFor[T]())
			}
			ti.Value = v
		}
		t.items = append(t.items, ti)
	}
	err := t.w.Apply(ctx, tx, t.items)
	clear(t.items) // hold no payloads or values until the next batch
	return err
}

func (t *typedWriter[T]) Close() error { return t.w.Close() }
