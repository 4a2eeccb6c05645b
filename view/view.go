package view

import (
	"context"
	"fmt"
	"regexp"

	"github.com/sluicedb/sluice/log"
)

// View is a set of tables in a view file, kept up to date from a log. The
// tables can be dropped and rebuilt from the log at any time.
type View interface {
	// Name identifies the view in its file (letters, digits and '_',
	// starting with a letter).
	Name() string
	// Version of the view's code. A change drops the view's tables and
	// rebuilds them from the log.
	Version() int
	// Schema returns the statements that create the view's tables (and
	// the indexes the view needs while it writes, such as UNIQUE ones).
	// Their text is part of the view's fingerprint: editing a statement
	// rebuilds the view.
	Schema() []string
	// Indexes returns CREATE INDEX statements for indexes only readers
	// need. A view indexed from scratch gets them once it has caught up
	// with the log, built in one go rather than row by row; after that
	// SQLite maintains them. Editing them rebuilds only the indexes.
	Indexes() []string
	// Open returns the view's writer on c, after the tables exist. It is
	// called once per open view file.
	Open(c *Conn) (Writer, error)
}

// Writer applies entries to a view's tables. One goroutine uses it.
type Writer interface {
	// Apply applies items, in increasing seq order, inside the
	// transaction tx. Every item is one the view has not applied before:
	// backlog entries in seq order, or (for a view that accepts them) a
	// user's local entries ahead of the backlog. An entry the view cannot
	// index is passed to tx.Reject, not returned as an error; an error
	// rolls the whole transaction back and stops the indexer.
	Apply(ctx context.Context, tx *Tx, items []Item) error
	// Close releases the writer's statements.
	Close() error
}

// IndexBuilder is implemented by Writers that build some of their view's
// secondary indexes with code rather than by running the statement: for
// example to resolve, before creating a unique index, the duplicates that a
// catch-up without the index let in. BuildIndex builds index i of
// View.Indexes (whose text still identifies it), inside the transaction
// that records the objects it creates. Indexes are built one per
// transaction, so a user's local entries can be applied between them. It
// is also where a Writer finishes work it deferred while none of the
// view's indexes were built (see Tx.IndexesDone).
type IndexBuilder interface {
	BuildIndex(tx *Tx, i int) error
}

// Item is an entry handed to Writer.Apply, with what the view's Decoder
// made of it.
type Item struct {
	log.Entry
	// Value is the result of the view's Decoder for this entry, or nil
	// for a view without one.
	Value any
}

// Decoder is implemented by views whose work on an entry starts with
// parsing it. The indexer runs Decode on another goroutine, concurrently
// with Apply of earlier entries, so parsing and SQLite use both cores.
// Decode must not touch the database and must be safe for concurrent use.
type Decoder interface {
	// Decode returns what Apply receives as Item.Value. An error rejects
	// the entry for this view: it is recorded (see Rejects) and never
	// applied.
	Decode(e log.Entry) (any, error)
}

// LocalAhead is implemented by views that accept a user's local entries
// ahead of the backlog, out of seq order. Such a view must end up with the
// same tables whatever the order: indexing a log in seq order and indexing
// it with local entries moved ahead must give identical tables.
type LocalAhead interface {
	AcceptsLocalAhead() bool
}

// PageSizer is implemented by views that want a new file's SQLite page
// size to be other than the default, 16 KiB (fast for bulk indexing). A
// view of few rows written in small transactions, like the task queue,
// asks for 4 KiB: each commit then writes a quarter of the WAL, and the
// checkpoints that fsync it stall the logs' fsyncs on the same disk a
// quarter as often. A file takes the smallest size its views ask for when
// it is created (so keep such views apart from bulk ones, one file each);
// an existing file keeps its own.
type PageSizer interface {
	PageSize() int
}

// defaultPageSize is a new view file's page size unless a view asks for
// another (PageSizer). On the 600k SSB log a catch-up took 4.95 s with 4 KiB
// pages and 3.97 s with 16 KiB (medians of 4 runs; 32 KiB 3.73 s, 64 KiB
// 4.24 s), mostly from fewer WAL frames and page reads in the kernel.
const defaultPageSize = 16384

// pageSize is the page size a new file holding views takes: the smallest
// valid size (a power of two from 512 to 65536) one of them asks for, else
// defaultPageSize.
func pageSize(views []View) int {
	size := defaultPageSize
	for _, v := range views {
		ps, ok := v.(PageSizer)
		if !ok {
			continue
		}
		if n := ps.PageSize(); n >= 512 && n <= 65536 && n&(n-1) == 0 {
			size = min(size, n)
		}
	}
	return size
}

// Fingerprinter is implemented by views whose tables depend on more than
// their Schema, such as the statements that fill them: a change of the text
// Fingerprint returns rebuilds the view, like a change of Schema.
type Fingerprinter interface {
	Fingerprint() string
}

// viewFingerprint is what decides whether a view's tables must be rebuilt.
func viewFingerprint(v View) string {
	stmts := v.Schema()
	if fp, ok := v.(Fingerprinter); ok {
		stmts = append(append([]string(nil), stmts...), "-- fingerprint\n"+fp.Fingerprint())
	}
	return fingerprint(v.Version(), stmts)
}

// acceptsLocalAhead reports whether v declares LocalAhead.
func acceptsLocalAhead(v View) bool {
	la, ok := v.(LocalAhead)
	return ok && la.AcceptsLocalAhead()
}

// Tx is the transaction a Writer applies a batch in.
type Tx struct {
	ctx         context.Context
	conn        *Conn
	view        string
	indexesDone int
	rejects     []Reject
}

// IndexesDone returns how many of the view's secondary indexes
// (View.Indexes, built in order) existed when the transaction began. It is
// 0 while a view catches up from empty (or after its index definitions
// changed): the indexes are built once it has caught up. A Writer that
// implements IndexBuilder may, while it is 0, defer work that readers of a
// view still catching up can do without, as long as BuildIndex(tx, 0)
// completes it.
func (tx *Tx) IndexesDone() int { return tx.indexesDone }

// Conn returns the connection to the view file; the transaction is open on
// it.
func (tx *Tx) Conn() *Conn { return tx.conn }

// Reject records that the view could not index the entry at seq, and why.
// The rejection is stored with the batch (see File.Rejects); the entry
// counts as done.
func (tx *Tx) Reject(seq log.Seq, err error) {
	tx.rejects = append(tx.rejects, Reject{View: tx.view, Seq: seq, Err: err.Error()})
}

// Reject is an entry a view could not index.
type Reject struct {
	View string  `json:"view"`
	Seq  log.Seq `json:"seq"`
	Err  string  `json:"error"`
}

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// CheckName validates a view name: letters, digits and _, starting with a
// letter, at most 63 characters.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid view name %q: use letters, digits and _, starting with a letter", name)
	}
	return nil
}
