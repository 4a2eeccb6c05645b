package query

import (
	"context"
	"database/sql/driver"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Result is one result of a live query.
type Result struct {
	// Columns are the result's column names.
	Columns []string `json:"columns"`
	// Rows hold the values as the SQLite driver returns them: int64,
	// float64, string, []byte or nil.
	Rows [][]any `json:"rows"`
	// Views says, for each view the query reads (sorted by file and
	// view), which entries the rows reflect: its progress read in the
	// same read transaction as the rows.
	Views []ViewState `json:"views"`
	// N numbers the subscription's results: 1 for the first, then one
	// more for each result delivered (each differs from the one before).
	N uint64 `json:"n"`
	// Time is when the rows had been read.
	Time time.Time `json:"time"`
}

// ViewState is how far a view had got when a result was read.
type ViewState struct {
	// File is the name the view's file is attached under.
	File string `json:"file"`
	View string `json:"view"`
	// Since is the view's since: every entry with a seq up to it is in
	// the rows.
	Since log.Seq `json:"since"`
	// Ahead lists the local entries after Since that are in the rows too
	// (applied ahead of a backlog), in increasing order.
	Ahead []log.Seq `json:"ahead,omitempty"`
}

// Shows reports whether the entry at seq is in the rows as far as the
// named view is concerned: seq is at most its since, or was applied ahead.
// It is false for a view the query does not read.
func (r *Result) Shows(view string, seq log.Seq) bool {
	for _, v := range r.Views {
		if v.View == view {
			_, ahead := slices.BinarySearch(v.Ahead, seq)
			return seq <= v.Since || ahead
		}
	}
	return false
}

// Subscription is a live query started by Live.Subscribe. Next returns
// its results; Close, or the end of the context given to Subscribe, ends
// it. Its methods are safe for concurrent use.
type Subscription struct {
	l     *Live
	query string
	args  []driver.NamedValue
	reads []Read
	files []string            // names of the files read, sorted
	views map[string][]string // file → the views read; nil: all of the file's

	// Guarded by Live.mu: where the subscription is in the re-run queue.
	queued, running, again bool

	// The last result delivered, and how long the last run took. Only
	// the worker running the subscription touches them; Live.mu orders
	// the hand-overs.
	last *Result
	cost time.Duration

	mu        sync.Mutex
	latest    *Result
	taken     uint64        // N of the last result Next returned
	err       error         // why the subscription ended
	ready     chan struct{} // closed, and replaced, when latest or err is set
	stopAfter func() bool   // stops the context.AfterFunc of Subscribe
}

func newSubscription(l *Live, query string, args []driver.NamedValue, reads []Read) *Subscription {
	s := &Subscription{l: l, query: query, args: args, reads: reads, views: map[string][]string{}, ready: make(chan struct{})}
	all := map[string]bool{}
	for _, r := range reads {
		if len(s.files) == 0 || s.files[len(s.files)-1] != r.File {
			s.files = append(s.files, r.File) // reads are sorted by file
		}
		if r.View == "" {
			all[r.File] = true
		} else if !slices.Contains(s.views[r.File], r.View) {
			s.views[r.File] = append(s.views[r.File], r.View)
		}
	}
	for f := range all {
		s.views[f] = nil
	}
	return s
}

// Query returns the subscription's statement.
func (s *Subscription) Query() string { return s.query }

// Reads returns the tables the query reads (see DB.Reads): the view files
// the subscription watches.
func (s *Subscription) Reads() []Read { return slices.Clone(s.reads) }

// Next returns the newest result not returned yet, waiting for one if
// needed. Results are not queued: a result that a newer one replaced
// before Next was called is skipped. Once the subscription has ended,
// Next returns the result still unreturned, if any, then the reason it
// ended: ErrClosed, the error of the context given to Subscribe, or the
// error that stopped the query. It returns ctx's error if ctx ends first.
func (s *Subscription) Next(ctx context.Context) (*Result, error) {
	for {
		s.mu.Lock()
		if s.latest != nil && s.latest.N > s.taken {
			r := s.latest
			s.taken = r.N
			s.mu.Unlock()
			return r, nil
		}
		err, ready := s.err, s.ready
		s.mu.Unlock()
		if err != nil {
			return nil, err
		}
		select {
		case <-ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the subscription. When it was the Live's last, Close returns
// once Live's goroutines have. It is idempotent.
func (s *Subscription) Close() error {
	s.end(ErrClosed)
	return nil
}

// end ends the subscription for the reason why, unless it had ended.
func (s *Subscription) end(why error) {
	if g := s.l.remove(s); g != nil {
		g.wg.Wait()
	}
	s.finish(why)
}

// finish records why the subscription ended and wakes Next.
func (s *Subscription) finish(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopAfter != nil {
		s.stopAfter()
	}
	if s.err == nil {
		s.err = why
		close(s.ready)
		s.ready = make(chan struct{})
	}
}

// deliver makes r the newest result.
func (s *Subscription) deliver(r *Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	s.latest = r
	close(s.ready)
	s.ready = make(chan struct{})
}

// sameRows reports whether two results hold the same columns and values.
func sameRows(a, b *Result) bool {
	if !slices.Equal(a.Columns, b.Columns) || len(a.Rows) != len(b.Rows) {
		return false
	}
	for i := range a.Rows {
		if !slices.EqualFunc(a.Rows[i], b.Rows[i], sameValue) {
			return false
		}
	}
	return true
}

func sameValue(a, b any) bool {
	switch a := a.(type) {
	case []byte:
		b, ok := b.([]byte)
		return ok && string(a) == string(b)
	case float64:
		b, ok := b.(float64)
		return ok && (a == b || math.IsNaN(a) && math.IsNaN(b))
	case time.Time:
		b, ok := b.(time.Time)
		return ok && a.Equal(b)
	}
	return a == b
}
