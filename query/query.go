package query

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
)

// ErrWrite is returned for a statement that would change a database.
var ErrWrite = errors.New("queries are read-only")

// ErrTransaction is returned for a transaction control statement (BEGIN,
// COMMIT, ROLLBACK, SAVEPOINT, RELEASE): a query runs on a pooled
// connection, and one left inside a transaction would read an old snapshot
// for every later query that lands on it. Each query reads one consistent
// snapshot already; for several, use SQL().BeginTx (its connection is
// released when the transaction ends).
var ErrTransaction = errors.New("transaction control is not allowed in a query")

// ErrNoViews is returned by OpenDir for a directory with no view files.
var ErrNoViews = errors.New("no view files")

// Options configure Open.
type Options struct {
	// PollInterval is how often WaitFor reads the views' progress;
	// default 1 ms.
	PollInterval time.Duration
}

// File is a view file attached to a DB.
type File struct {
	// Name is the schema name it is attached under: its file name without
	// the .db extension.
	Name string
	Path string
}

// DB is a read-only connection pool over a set of view files. It is safe
// for concurrent use.
type DB struct {
	db    *sql.DB
	files []File
	opts  Options
	check *sqlite.Conn // prepares statements to refuse writes; guarded by mu
	// txControl is set by check's authorizer while a statement being
	// checked compiles to transaction control; guarded by mu.
	txControl bool
	mu        chan struct{}
}

// OpenDir opens every view file (*.db) in dir. See Open.
func OpenDir(dir string, opts Options) (*DB, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "*.db"))
	if err != nil {
		return nil, err
	}
	if len(matches) == 0 {
		if _, err := os.Stat(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("open views: %w", err)
		}
		return nil, fmt.Errorf("open views: %w in %s (run sluice index first)", ErrNoViews, dir)
	}
	return Open(matches, opts)
}

// Open opens the view files at paths read-only and attaches each under its
// name (the file name without .db): a table can be named "ssb.messages", or
// just "messages" when no other file has one.
func Open(paths []string, opts Options) (*DB, error) {
	if opts.PollInterval <= 0 {
		opts.PollInterval = time.Millisecond
	}
	var files []File
	seen := map[string]bool{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			return nil, err
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("open views: %w", err)
		}
		name := strings.TrimSuffix(filepath.Base(abs), ".db")
		// Schema names are compared without case, and two are SQLite's.
		key := strings.ToLower(name)
		switch {
		case seen[key]:
			return nil, fmt.Errorf("open views: two files named %q (names that differ only in case are the same to SQLite)", name)
		case key == "main" || key == "temp":
			return nil, fmt.Errorf("open views: %s: a view file cannot be named %s, a schema name SQLite keeps for itself; move it away (and give its view another name)", abs, name)
		}
		seen[key] = true
		files = append(files, File{Name: name, Path: abs})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	c := &connector{files: files, d: &sqlite3.SQLiteDriver{}}
	db := sql.OpenDB(c)
	check, err := sqlite.Open(":memory:", sqlite.OpenReadWrite|sqlite.OpenURI)
	if err == nil {
		err = check.Exec(c.setup())
	}
	if err == nil {
		err = db.Ping()
	}
	if err != nil {
		db.Close()
		if check != nil {
			check.Close()
		}
		return nil, fmt.Errorf("open views: %w", err)
	}
	q := &DB{db: db, files: files, opts: opts, check: check, mu: make(chan struct{}, 1)}
	check.SetAuthorizer(func(action int, _, _, _, _ string) bool {
		if action == sqlite.AuthTransaction || action == sqlite.AuthSavepoint {
			q.txControl = true
		}
		return true
	})
	return q, nil
}

// connector opens connections with every view file attached read-only.
type connector struct {
	files []File
	d     *sqlite3.SQLiteDriver
}

func (c *connector) setup() string {
	var b strings.Builder
	for _, f := range c.files {
		u := url.URL{Scheme: "file", Path: f.Path, RawQuery: "mode=ro"}
		fmt.Fprintf(&b, "ATTACH DATABASE '%s' AS %s;\n", strings.ReplaceAll(u.String(), "'", "''"), quoteIdent(f.Name))
	}
	b.WriteString("PRAGMA busy_timeout = 5000; PRAGMA query_only = ON;")
	return b.String()
}

func (c *connector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.d.Open("file::memory:")
	if err != nil {
		return nil, err
	}
	sc := conn.(*sqlite3.SQLiteConn)
	if _, err := sc.Exec(c.setup(), nil); err != nil {
		conn.Close()
		return nil, err
	}
	// Beside query_only: no statement may attach or detach files.
	sc.RegisterAuthorizer(func(action int, _, _, _ string) int {
		if action == sqlite3.SQLITE_ATTACH || action == sqlite3.SQLITE_DETACH {
			return sqlite3.SQLITE_DENY
		}
		return sqlite3.SQLITE_OK
	})
	return pooledConn{sc}, nil
}

// pooledConn is a connection of the pool. One that is inside a transaction
// when it is given back (a BEGIN run through SQL() directly) is not valid:
// database/sql closes it rather than hand a stale snapshot to the next
// query.
type pooledConn struct{ *sqlite3.SQLiteConn }

// IsValid implements driver.Validator.
func (c pooledConn) IsValid() bool { return c.AutoCommit() }

// sqliteConn returns the SQLite connection of a connection the connector
// made.
func sqliteConn(c driver.Conn) *sqlite3.SQLiteConn {
	if p, ok := c.(pooledConn); ok {
		return p.SQLiteConn
	}
	return c.(*sqlite3.SQLiteConn)
}

func (c *connector) Driver() driver.Driver { return c.d }

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Files returns the attached view files, sorted by name.
func (db *DB) Files() []File { return append([]File(nil), db.files...) }

// SQL returns the underlying pool, for callers that want database/sql
// directly. Its connections are read-only too.
func (db *DB) SQL() *sql.DB { return db.db }

// Close closes the pool.
func (db *DB) Close() error {
	db.mu <- struct{}{}
	if db.check != nil {
		db.check.Close()
		db.check = nil
	}
	<-db.mu
	return db.db.Close()
}

// Check reports whether query is a single statement that does not write,
// and SQLite's error if it does not compile. Semicolons, whitespace and
// comments after the statement are not a second statement.
func (db *DB) Check(query string) error {
	_, err := db.statement(query)
	return err
}

// statement checks query as Check does and returns the statement alone,
// without what follows it.
func (db *DB) statement(query string) (string, error) {
	db.mu <- struct{}{}
	defer func() { <-db.mu }()
	if db.check == nil {
		return "", ErrClosed
	}
	db.txControl = false
	s, err := db.check.Prepare(query)
	if err != nil {
		var se *sqlite.Error
		if errors.As(err, &se) {
			return "", errors.New(se.Msg)
		}
		return "", err
	}
	defer s.Close()
	switch firstWord(query) {
	case "ATTACH", "DETACH":
		// Read-only for SQLite, but they would open (and create) files.
		return "", fmt.Errorf("%w: %s is not allowed; every view file is attached already", ErrWrite, firstWord(query))
	}
	if db.txControl {
		return "", fmt.Errorf("%w (%s): every query reads one consistent snapshot of the views", ErrTransaction, firstWord(query))
	}
	if !s.ReadOnly() {
		return "", fmt.Errorf("%w: this statement would write (%s); views change only through the log", ErrWrite, firstWord(query))
	}
	return s.SQL(), nil
}

func firstWord(q string) string {
	f := strings.Fields(q)
	if len(f) == 0 {
		return ""
	}
	return strings.ToUpper(f[0])
}

// Query runs a read-only statement. Statements that would write are
// refused with ErrWrite before they run.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	stmt, err := db.statement(query)
	if err != nil {
		return nil, err
	}
	return db.db.QueryContext(ctx, stmt, args...)
}

// QueryRow runs a read-only statement expected to return at most one row;
// like database/sql's, errors (ErrWrite among them) are deferred until
// Scan.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *Row {
	if err := db.Check(query); err != nil {
		return &Row{err: err}
	}
	return &Row{row: db.db.QueryRowContext(ctx, query, args...)}
}

// Row is the result of QueryRow.
type Row struct {
	row *sql.Row
	err error
}

// FailedRow returns a Row whose Scan and Err return err: for a wrapper of
// DB.QueryRow that refuses a statement itself.
func FailedRow(err error) *Row { return &Row{err: err} }

// Scan copies the row's columns into dest, as sql.Row.Scan does; it
// returns sql.ErrNoRows if there was no row, or the statement's error.
func (r *Row) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return r.row.Scan(dest...)
}

// Err returns the statement's error, if any, without scanning.
func (r *Row) Err() error {
	if r.err != nil {
		return r.err
	}
	return r.row.Err()
}

// Since returns each view's since, by view name, across the files.
func (db *DB) Since(ctx context.Context) (map[string]log.Seq, error) {
	out := map[string]log.Seq{}
	for _, f := range db.files {
		rows, err := db.db.QueryContext(ctx, fmt.Sprintf(`SELECT name, since FROM %s.sluice_views`, quoteIdent(f.Name)))
		if err != nil {
			return nil, fmt.Errorf("read progress of %s: %w", f.Path, err)
		}
		for rows.Next() {
			var name string
			var since int64
			if err := rows.Scan(&name, &since); err != nil {
				rows.Close()
				return nil, err
			}
			out[name] = log.Seq(since)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// shows reports whether the entry at seq shows in the view name of file f.
func (db *DB) shows(ctx context.Context, conn *sql.Conn, f File, name string, seq log.Seq) (bool, error) {
	var since int64
	var ahead int
	q := fmt.Sprintf(`SELECT since, EXISTS (SELECT 1 FROM %[1]s.sluice_ahead WHERE view = ?1 AND seq = ?2) FROM %[1]s.sluice_views WHERE name = ?1`, quoteIdent(f.Name))
	err := conn.QueryRowContext(ctx, q, name, int64(seq)).Scan(&since, &ahead)
	if err != nil {
		return false, err
	}
	return log.Seq(since) >= seq || ahead == 1, nil
}

// WaitFor blocks until the entry at seq shows in the named views (all views
// of all files if none is named), or ctx ends. An entry shows in a view once
// the view's since reaches it, or once it was applied ahead of the backlog
// (local entries, in views that accept them). It reads the views' meta
// tables every Options.PollInterval, so it works whichever process indexes.
//
// A file that holds no view yet (an indexer that has just created it) is
// waited for too. Once every file holds its views, a named view none of
// them has is an error at once.
//
// WaitFor always looks once, even if ctx has ended already: with a context
// that has no time left it reports whether seq shows now (nil) or not
// (ctx's error).
func (db *DB) WaitFor(ctx context.Context, seq log.Seq, views ...string) error {
	look := context.WithoutCancel(ctx) // until the first sleep
	conn, err := db.db.Conn(look)
	if err != nil {
		return err
	}
	defer conn.Close()
	t := time.NewTicker(db.opts.PollInterval)
	defer t.Stop()
	sleep := func(why error) error {
		look = ctx
		select {
		case <-t.C:
			return nil
		case <-ctx.Done():
			if why != nil {
				return fmt.Errorf("%w: %w", why, ctx.Err())
			}
			return ctx.Err()
		}
	}
	var targets []waitTarget
	var why error // why the last look found the views not ready
	for {
		ts, notReady, err := db.waitTargets(look, conn, views)
		if err != nil && ctx.Err() != nil {
			// Ended during the look: an error, saying why the views
			// were not ready if a look found out (sleep could return
			// nil here, if its ticker won the select).
			if why != nil {
				return fmt.Errorf("%w: %w", why, ctx.Err())
			}
			return ctx.Err()
		}
		if err != nil {
			return fmt.Errorf("wait for seq %d: %w", seq, err)
		}
		if notReady == nil {
			targets = ts
			break
		}
		why = notReady
		if err := sleep(why); err != nil {
			return err
		}
	}
	for _, v := range views {
		found := false
		for _, t := range targets {
			found = found || t.name == v
		}
		if !found {
			return fmt.Errorf("wait for seq %d: no view named %q", seq, v)
		}
	}
	for len(targets) > 0 {
		ok, err := db.shows(look, conn, targets[0].f, targets[0].name, seq)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("wait for seq %d: %w", seq, err)
		}
		if ok {
			targets = targets[1:]
			continue
		}
		if err := sleep(nil); err != nil {
			return err
		}
	}
	return nil
}

// waitTarget is a view WaitFor waits for.
type waitTarget struct {
	f    File
	name string
}

// waitTargets lists the views of the files, those named if any are. While
// a file holds no view yet, notReady says which.
func (db *DB) waitTargets(ctx context.Context, conn *sql.Conn, views []string) (targets []waitTarget, notReady, err error) {
	for _, f := range db.files {
		var meta int
		q := fmt.Sprintf(`SELECT count(*) FROM %s.sqlite_master WHERE type = 'table' AND name = 'sluice_views'`, quoteIdent(f.Name))
		if err := conn.QueryRowContext(ctx, q).Scan(&meta); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		n := 0
		if meta > 0 {
			rows, err := conn.QueryContext(ctx, fmt.Sprintf(`SELECT name FROM %s.sluice_views`, quoteIdent(f.Name)))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
			}
			for rows.Next() {
				var name string
				if err := rows.Scan(&name); err != nil {
					rows.Close()
					return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
				}
				n++
				if len(views) == 0 || contains(views, name) {
					targets = append(targets, waitTarget{f, name})
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", f.Path, err)
			}
		}
		if n == 0 && notReady == nil {
			notReady = fmt.Errorf("%s holds no sluice view yet", f.Path)
		}
	}
	return targets, notReady, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
