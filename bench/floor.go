package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"time"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/ssb"
)

// FloorKind names one of the floors of the initial sync: the same work
// with a part of it taken away, to show how close the full path is to
// what its parts cost.
type FloorKind string

const (
	// FloorDecode reads the log.offset with the log/offset iterator and
	// decodes every payload with ssb.Decode (into one reused Message), on
	// one goroutine, with no SQLite at all: what the indexer's reader
	// stage cannot go below.
	FloorDecode FloorKind = "decode"
	// FloorInsert writes the same rows into the same tables through the
	// same code — view.OpenFile, index.Indexer.SynchronizeUpTo, the
	// view/ssb writer, the secondary index builds at the end, Close —
	// with no reading or parsing in the timed part: the log's entries and
	// their decoded messages are loaded into memory first, and the view's
	// Decode hands out the message decoded beforehand. The Go garbage
	// collector is off while it is timed (the preloaded log would
	// otherwise be scanned over and over). What the writer stage cannot
	// go below.
	FloorInsert FloorKind = "insert"
)

// FloorConfig configures RunFloor.
type FloorConfig struct {
	Kind FloorKind
	// Log is the flumelog-offset file.
	Log string
	// Dir is, for FloorInsert, the directory that gets the view file, in
	// the layout of sluice --dir: Dir/views/ssb.db.
	Dir string
}

// FloorResult is what RunFloor measured. The sluice bench sync-floor
// child prints it as JSON.
type FloorResult struct {
	Kind FloorKind `json:"floor"`
	// TimedNS is the measured part, in nanoseconds.
	TimedNS int64 `json:"timed_ns"`
	// PrepareNS is the untimed preparation (FloorInsert: reading and
	// decoding the log into memory).
	PrepareNS int64 `json:"prepare_ns"`
	// RowsInNS is, for FloorInsert, when every entry was in the views
	// (polled every 5 ms): the rest of TimedNS went on the secondary
	// index builds, the final checkpoint and close.
	RowsInNS int64 `json:"rows_in_ns,omitempty"`
	// Entries and Bytes count the log's entries and their payload bytes.
	Entries int64 `json:"entries"`
	Bytes   int64 `json:"bytes"`
	// Messages decoded, entries Rejected by the decoder, and the Links
	// of the decoded messages.
	Messages int64 `json:"messages"`
	Rejected int64 `json:"rejected"`
	Links    int64 `json:"links"`
}

// Timed returns TimedNS as a Duration.
func (r FloorResult) Timed() time.Duration { return time.Duration(r.TimedNS) }

// ViewFile is where the SSB view set lives under a sluice --dir directory.
func ViewFile(dir string) string { return filepath.Join(dir, "views", ssb.Name+".db") }

// RunFloor runs one floor in this process. Run it in a process of its own
// (sluice bench sync-floor does) so that its memory and time are its own.
func RunFloor(ctx context.Context, cfg FloorConfig) (FloorResult, error) {
	switch cfg.Kind {
	case FloorDecode:
		return floorDecode(ctx, cfg.Log)
	case FloorInsert:
		if cfg.Dir == "" {
			return FloorResult{}, errors.New("floor insert: no directory for the view file")
		}
		return floorInsert(ctx, cfg.Log, cfg.Dir)
	}
	return FloorResult{}, fmt.Errorf("unknown floor %q (want %s or %s)", cfg.Kind, FloorDecode, FloorInsert)
}

func floorDecode(ctx context.Context, path string) (FloorResult, error) {
	r := FloorResult{Kind: FloorDecode}
	start := time.Now()
	l, err := offset.Open(path)
	if err != nil {
		return r, err
	}
	defer l.Close()
	it, err := l.Iter(1)
	if err != nil {
		return r, err
	}
	defer it.Close()
	var m ssb.Message
	for it.Next() {
		p := it.Entry().Payload
		r.Entries++
		r.Bytes += int64(len(p))
		if err := ssb.Decode(p, &m); err != nil {
			r.Rejected++
			continue
		}
		r.Messages++
		r.Links += int64(len(m.Links))
		if r.Entries%65536 == 0 && ctx.Err() != nil {
			return r, ctx.Err()
		}
	}
	if err := it.Err(); err != nil {
		return r, err
	}
	r.TimedNS = int64(time.Since(start))
	return r, nil
}

func floorInsert(ctx context.Context, path, dir string) (FloorResult, error) {
	r := FloorResult{Kind: FloorInsert}
	start := time.Now()
	src, values, err := preload(ctx, path, &r)
	if err != nil {
		return r, err
	}
	r.PrepareNS = int64(time.Since(start))

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(ms.HeapAlloc) + 4<<30))

	start = time.Now()
	if err := os.MkdirAll(filepath.Dir(ViewFile(dir)), 0o755); err != nil {
		return r, err
	}
	f, err := view.OpenFile(ViewFile(dir), []view.View{preDecodedSSB{values: values}}, view.Options{})
	if err != nil {
		return r, err
	}
	ix, err := index.New(src, []*view.File{f}, index.Options{})
	if err == nil {
		stop, polled := make(chan struct{}), make(chan struct{})
		go func() {
			defer close(polled)
			t := time.NewTicker(5 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if ix.Progress().Since >= src.last {
						r.RowsInNS = int64(time.Since(start))
						return
					}
				}
			}
		}()
		err = ix.SynchronizeUpTo(ctx, 0)
		close(stop)
		<-polled
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return r, err
	}
	r.TimedNS = int64(time.Since(start))
	return r, nil
}

// preload reads the whole log into memory and decodes every entry into a
// Message of its own: values[seq-1] is the *ssb.Message, or the decode
// error. The payloads stay in the iterator's read chunks, which the
// messages' strings point into.
func preload(ctx context.Context, path string, r *FloorResult) (*memSource, []any, error) {
	l, err := offset.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	last, err := l.Last()
	if err != nil {
		return nil, nil, err
	}
	it, err := l.Iter(1)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	src := &memSource{last: last, entries: make([]log.Entry, 0, last)}
	values := make([]any, last)
	for it.Next() {
		e := it.Entry()
		if e.Seq == 0 || e.Seq > last {
			return nil, nil, fmt.Errorf("preload %s: entry seq %d outside 1..%d", path, e.Seq, last)
		}
		src.entries = append(src.entries, e)
		r.Entries++
		r.Bytes += int64(len(e.Payload))
		m := new(ssb.Message)
		if err := ssb.Decode(e.Payload, m); err != nil {
			values[e.Seq-1] = err
			r.Rejected++
		} else {
			values[e.Seq-1] = m
			r.Messages++
			r.Links += int64(len(m.Links))
		}
		if r.Entries%65536 == 0 && ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	return src, values, nil
}

// preDecodedSSB is the SSB view set whose Decode does no parsing: it
// returns what preload decoded for the entry's seq. Everything else —
// name, version, schema, writer, index builds — is ssb.View's.
type preDecodedSSB struct {
	ssb.View
	values []any // by seq-1: *ssb.Message or error
}

var _ view.Decoder = preDecodedSSB{}

// Decode implements view.Decoder.
func (v preDecodedSSB) Decode(e log.Entry) (any, error) {
	if e.Seq == 0 || int(e.Seq) > len(v.values) {
		return nil, fmt.Errorf("no preloaded message for seq %d", e.Seq)
	}
	switch x := v.values[e.Seq-1].(type) {
	case *ssb.Message:
		return x, nil
	case error:
		return nil, x
	}
	return nil, fmt.Errorf("no preloaded message for seq %d", e.Seq)
}

// memSource is a log.Source over entries held in memory, in seq order.
type memSource struct {
	entries []log.Entry
	last    log.Seq // the source's last seq (deleted entries may follow the last one held)
}

var _ log.Source = (*memSource)(nil)

func (s *memSource) Last() (log.Seq, error) { return s.last, nil }

func (s *memSource) Iter(from log.Seq) (log.Iterator, error) {
	i := sort.Search(len(s.entries), func(i int) bool { return s.entries[i].Seq >= from })
	return &memIter{s: s, next: i}, nil
}

func (s *memSource) Wait(ctx context.Context, after log.Seq) (log.Seq, error) {
	if s.last > after {
		return s.last, nil
	}
	<-ctx.Done()
	return s.last, ctx.Err()
}

// memIter iterates a memSource.
type memIter struct {
	s    *memSource
	next int
	cur  log.Entry
}

var _ log.Positioner = (*memIter)(nil)

func (it *memIter) Next() bool {
	if it.next >= len(it.s.entries) {
		return false
	}
	it.cur = it.s.entries[it.next]
	it.next++
	return true
}

func (it *memIter) Entry() log.Entry { return it.cur }
func (it *memIter) Err() error       { return nil }
func (it *memIter) Close() error     { return nil }

// Position implements log.Positioner: every seq below the next entry held
// has been yielded or does not exist.
func (it *memIter) Position() log.Seq {
	if it.next >= len(it.s.entries) {
		return it.s.last
	}
	return it.s.entries[it.next].Seq - 1
}
