package view

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
)

// Options configure OpenFile.
type Options struct {
	// Logger receives notices a user should see: a file moved aside, a
	// view rebuilt and why, at level Info. nil means slog.Default().
	Logger *slog.Logger
	// Logf, if set, receives the notices instead of Logger, as text.
	Logf func(format string, args ...any)
	// SkipCheck skips PRAGMA quick_check when opening an existing file.
	// By default the check runs only on a file that was not closed
	// cleanly (see File.Close), or with AlwaysCheck.
	SkipCheck bool
	// AlwaysCheck runs PRAGMA quick_check on every open of an existing
	// file, also one closed cleanly.
	AlwaysCheck bool
	// CacheSizeKiB is SQLite's page cache size for the writer connection;
	// 0 means 64 MiB.
	CacheSizeKiB int
	// OnError says what happens when a view's Writer.Apply fails on an
	// entry: StopOnError (the default) or RejectOnError.
	OnError ErrorPolicy
}

// File is an open view file: a SQLite database (WAL mode) holding one or
// more views and their meta tables. Only one process may write a view file
// at a time; any number may read it, with the sqlite3 shell too.
//
// A File is not safe for concurrent use: the indexer drives it from one
// goroutine. Decode may run concurrently with Apply.
type File struct {
	path string
	opts Options
	// pageSize is the page size the file gets if it is new (PageSizer).
	pageSize int
	conn     *sqlite.Conn
	wc       *Conn // conn, as the views' writers see it
	views    []*viewState
	bulk     bool
	// unsettled: bulk mode wrote pages that may not be on disk yet; the
	// file keeps its dirty mark until Settle.
	unsettled atomic.Bool
	cp        *checkpointer
	inTx      bool            // batches are staged in an open transaction
	err       error           // set when a transaction failed; written holding mu
	sandbox   *sqlite.Sandbox // the policy while a sandboxed view's statements compile

	// mu guards the views' meta and ahead sets for readers on other
	// goroutines (Status, Applied, MinSince); only the goroutine driving
	// the file changes them, holding mu.
	mu sync.RWMutex

	setSince, addAhead, delAhead, addReject *sqlite.Stmt
}

// viewState is a view in an open File. m and ahead are the driving
// goroutine's working state, staged batches included; pub and pubAhead are
// their last committed values, for readers on other goroutines (f.mu).
type viewState struct {
	v     View
	w     Writer
	dec   Decoder
	local bool
	// sandboxed: the view's statements compile in a sandbox (see Sandboxed).
	sandboxed bool
	m         meta
	ahead     map[log.Seq]struct{} // mirrors sluice_ahead for this view

	pub      meta
	pubAhead map[log.Seq]struct{}
}

// OpenFile opens (creating it, and its directory, if needed) the view
// file at path holding views. For each view it checks the stored version and fingerprint and
// rebuilds the view's tables when they changed. A file that is not a
// SQLite database, not a sluice view file, fails PRAGMA quick_check, or was
// written with synchronous=OFF before an OS restart, is moved aside (the
// notice goes to Options.Logf) and a new one is created: views are rebuilt
// from the log, never used half-broken.
func OpenFile(path string, views []View, opts Options) (*File, error) {
	if err := checkViews(views); err != nil {
		return nil, fmt.Errorf("open view file %s: %w", path, err)
	}
	if opts.Logf == nil {
		lg := opts.Logger
		if lg == nil {
			lg = slog.Default()
		}
		opts.Logf = func(format string, args ...any) { lg.Info(fmt.Sprintf(format, args...)) }
	}
	if opts.CacheSizeKiB <= 0 {
		opts.CacheSizeKiB = 64 << 10
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("open view file %s: %w", path, err)
	}
	f := &File{path: path, opts: opts, pageSize: pageSize(views)}
	if err := f.open(); err != nil {
		f.closeConn()
		return nil, fmt.Errorf("open view file %s: %w", path, err)
	}
	for _, v := range views {
		if err := f.attach(v); err != nil {
			f.Close()
			return nil, fmt.Errorf("open view file %s: %w", path, err)
		}
	}
	if err := f.Settle(); err != nil {
		f.Close()
		return nil, fmt.Errorf("open view file %s: %w", path, err)
	}
	return f, nil
}

func checkViews(views []View) error {
	seen := map[string]bool{}
	for _, v := range views {
		if err := CheckName(v.Name()); err != nil {
			return err
		}
		if seen[v.Name()] {
			return fmt.Errorf("view %q given twice", v.Name())
		}
		seen[v.Name()] = true
	}
	return nil
}

// open opens the connection, moving a damaged or foreign file aside.
func (f *File) open() error {
	reason, err := f.openExisting()
	if err != nil {
		return err
	}
	if reason != "" {
		f.closeConn()
		dest, err := moveAside(f.path, f.opts.Logf)
		if err != nil {
			return fmt.Errorf("move aside (%s): %w", reason, err)
		}
		f.opts.Logf("view file %s %s: moved it to %s and rebuilding its views from the log", f.path, reason, dest)
		if _, err := f.openExisting(); err != nil {
			return err
		}
	}
	return f.initMeta()
}

// openExisting opens the file and returns why it cannot be used as it is,
// if it cannot.
func (f *File) openExisting() (string, error) {
	if reason, err := sniff(f.path); err != nil || reason != "" {
		return reason, err
	}
	c, err := sqlite.Open(f.path, sqlite.OpenReadWrite|sqlite.OpenCreate)
	if err != nil {
		return "", err
	}
	f.conn, f.wc = c, &Conn{c: c}
	c.SetAuthorizer(f.authorize)
	// The page size applies to a new file; an existing one keeps its own.
	if err := c.Exec(fmt.Sprintf("PRAGMA page_size=%d; PRAGMA journal_mode=WAL", f.pageSize)); err != nil {
		return corruption("cannot be opened as a database", err)
	}
	// temp_store=FILE: the sorts that build indexes spill to temporary
	// files, not to memory, so memory does not grow with the log.
	pragmas := fmt.Sprintf("PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d; PRAGMA journal_size_limit=%d; PRAGMA temp_store=FILE",
		f.opts.CacheSizeKiB, 64<<20)
	if err := c.Exec(pragmas); err != nil {
		return "", err
	}
	tables, ours, err := f.inspect()
	if err != nil {
		return corruption("cannot be read", err)
	}
	if tables > 0 && !ours {
		return "is not a sluice view file", nil
	}
	if !ours {
		return "", nil
	}
	clean, err := f.fileValue(closedCleanly)
	if err != nil {
		return corruption("cannot be read", err)
	}
	if !f.opts.SkipCheck && (clean == "" || f.opts.AlwaysCheck) {
		res, err := f.quickCheck()
		if err != nil {
			return corruption("fails PRAGMA quick_check", err)
		}
		if res != "ok" {
			return "fails PRAGMA quick_check (" + res + ")", nil
		}
	}
	if dirty, err := f.fileValue("dirty_boot"); err != nil {
		return "", err
	} else if dirty != "" && dirty != bootID() {
		return "was written with synchronous=OFF and not yet synced when the system went down", nil
	} else if dirty != "" {
		f.unsettled.Store(true) // same boot: the pages are in the OS's cache
	}
	return "", nil
}

// corruption returns why a file must be moved aside when err says it is
// damaged (SQLITE_CORRUPT, SQLITE_NOTADB), and otherwise err itself: an I/O
// error, a full disk, a file that cannot be opened or is locked say nothing
// about the file, which stays where it is.
func corruption(what string, err error) (string, error) {
	if sqlite.IsCorrupt(err) {
		return what + " (" + err.Error() + ")", nil
	}
	return "", fmt.Errorf("%s: %w", strings.TrimPrefix(what, "cannot be "), err)
}

// sniff checks the file's first bytes: a non-empty file that is not a
// SQLite database is foreign.
func sniff(path string) (string, error) {
	fh, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	defer fh.Close()
	head := make([]byte, 16)
	n, err := io.ReadFull(fh, head)
	if n == 0 {
		return "", nil
	}
	if err != nil || !bytes.Equal(head, []byte("SQLite format 3\x00")) {
		return "is not a SQLite database", nil
	}
	return "", nil
}

// inspect counts the file's schema objects and reports whether it carries
// the sluice format mark.
func (f *File) inspect() (objects int, ours bool, err error) {
	objects, err = f.queryInt(`SELECT count(*) FROM sqlite_master`)
	if err != nil {
		return 0, false, err
	}
	has, err := f.queryInt(`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sluice_file'`)
	if err != nil || has == 0 {
		return objects, false, err
	}
	format, err := f.fileValue("format")
	return objects, format == fileFormat, err
}

// quickChecks counts the PRAGMA quick_check runs (for tests).
var quickChecks atomic.Int64

func (f *File) quickCheck() (string, error) {
	quickChecks.Add(1)
	s, err := f.conn.Prepare(`PRAGMA quick_check(1)`)
	if err != nil {
		return "", err
	}
	defer s.Close()
	rows, err := s.Query()
	if err != nil {
		return "", err
	}
	defer rows.Close()
	res := ""
	if rows.Next() {
		res = rows.Text(0)
	}
	return res, rows.Err()
}

func (f *File) initMeta() error {
	if err := f.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err := f.conn.Exec(metaSchema)
	if err == nil {
		err = f.migrateMeta()
	}
	if err == nil {
		// Open for writing: a crash from now on leaves no mark.
		err = f.exec(`DELETE FROM sluice_file WHERE key = '` + closedCleanly + `'`)
	}
	if err == nil {
		err = f.exec(`INSERT OR IGNORE INTO sluice_file(key, value) VALUES ('format', '` + fileFormat + `')`)
	}
	if err != nil {
		f.exec("ROLLBACK")
		return err
	}
	if err := f.exec("COMMIT"); err != nil {
		return err
	}
	// Checkpoints run on their own connection and goroutine (checkpointer).
	if err := f.exec("PRAGMA wal_autocheckpoint=0"); err != nil {
		return err
	}
	f.conn.TrackWAL()
	cp, err := startCheckpointer(f.path)
	if err != nil {
		return err
	}
	f.cp = cp
	if f.unsettled.Load() {
		cp.setSynced(false)
	}
	for _, p := range []struct {
		s   **sqlite.Stmt
		sql string
	}{
		{&f.setSince, `UPDATE sluice_views SET since = ?, check_seq = ?, check_crc = ?, check_kind = ? WHERE name = ?`},
		{&f.addAhead, `INSERT OR IGNORE INTO sluice_ahead(view, seq) VALUES (?, ?)`},
		{&f.delAhead, `DELETE FROM sluice_ahead WHERE view = ? AND seq <= ?`},
		{&f.addReject, `INSERT OR REPLACE INTO sluice_rejects(view, seq, error) VALUES (?, ?, ?)`},
	} {
		s, err := f.conn.Prepare(p.sql)
		if err != nil {
			return err
		}
		*p.s = s
	}
	return nil
}

// keepBroken is how many files moved aside (NAME.broken-*) are kept per
// view file; older ones are removed when another is moved aside.
const keepBroken = 3

// moveAside renames path (and its -wal and -shm files) out of the way and
// returns the new name. Of the copies moved aside before, the newest
// keepBroken-1 are kept and older ones removed, each with a notice.
func moveAside(path string, logf func(string, ...any)) (string, error) {
	dest := path + ".broken-" + time.Now().UTC().Format("20060102T150405.000000000")
	if err := os.Rename(path, dest); err != nil {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Rename(path+suffix, dest+suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return dest, err
		}
	}
	old, err := filepath.Glob(globEscape(path) + ".broken-*")
	if err != nil {
		return dest, nil
	}
	var copies []string
	for _, o := range old {
		if !strings.HasSuffix(o, "-wal") && !strings.HasSuffix(o, "-shm") {
			copies = append(copies, o)
		}
	}
	sort.Strings(copies) // the time in the names sorts them oldest first
	for _, o := range copies[:max(0, len(copies)-keepBroken)] {
		for _, p := range []string{o, o + "-wal", o + "-shm"} {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				logf("view file %s: could not remove the old copy %s: %v", path, p, err)
			}
		}
		logf("view file %s: removed %s, the oldest of the damaged copies moved aside (the newest %d are kept)", path, o, keepBroken)
	}
	return dest, nil
}

// globEscape escapes the characters filepath.Glob treats specially.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Path returns the file's path.
func (f *File) Path() string { return f.path }

func (f *File) exec(sql string) error { return f.conn.Exec(sql) }

func (f *File) queryInt(sql string, args ...any) (int, error) {
	s, err := f.conn.Prepare(sql)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	for _, a := range args {
		if err := s.Value(a); err != nil {
			return 0, err
		}
	}
	rows, err := s.Query()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	if rows.Next() {
		n = int(rows.Int(0))
	}
	return n, rows.Err()
}

func (f *File) fileValue(key string) (string, error) {
	s, err := f.conn.Prepare(`SELECT value FROM sluice_file WHERE key = ?`)
	if err != nil {
		return "", err
	}
	defer s.Close()
	s.Text(key)
	rows, err := s.Query()
	if err != nil {
		return "", err
	}
	defer rows.Close()
	v := ""
	if rows.Next() {
		v = rows.Text(0)
	}
	return v, rows.Err()
}

// closedCleanly is the key of sluice_file that Close sets, as its last
// write, and OpenFile removes: a file without it was not closed cleanly,
// and OpenFile checks it (PRAGMA quick_check).
const closedCleanly = "closed_cleanly"

// Close closes the writers and the file. A file in bulk mode is made
// durable first. Closing marks the file as closed cleanly (unless it
// failed), so the next OpenFile skips the integrity check. It is
// idempotent.
func (f *File) Close() error {
	if f.conn == nil {
		return nil
	}
	var first error
	if f.Err() == nil { // a failed file has nothing to commit
		first = f.Commit()
	}
	if f.bulk && f.err == nil {
		first = f.SetBulk(false)
	}
	if f.cp != nil {
		if err := f.cp.close(); err != nil && first == nil {
			first = err
		}
		f.cp = nil
	}
	if f.unsettled.Load() {
		// Closing checkpoints: without an fsync while the file is not
		// settled (see Settle; the next OpenFile settles it).
		f.exec("PRAGMA synchronous=OFF")
	}
	for _, vs := range f.views {
		if vs.w != nil {
			if err := vs.w.Close(); err != nil && first == nil {
				first = err
			}
			vs.w = nil
		}
	}
	if first == nil && f.Err() == nil {
		// The last write: the next OpenFile may skip PRAGMA quick_check.
		first = f.exec(`INSERT OR REPLACE INTO sluice_file(key, value) VALUES ('` + closedCleanly + `', '` + time.Now().UTC().Format(time.RFC3339Nano) + `')`)
	}
	if err := f.closeConn(); err != nil && first == nil {
		first = err
	}
	if first != nil {
		return fmt.Errorf("close view file %s: %w", f.path, first)
	}
	return nil
}

func (f *File) closeConn() error {
	if f.cp != nil {
		f.cp.close()
		f.cp = nil
	}
	if f.conn == nil {
		return nil
	}
	err := f.conn.Close()
	f.conn, f.wc = nil, nil
	return err
}
