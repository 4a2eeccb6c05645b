// Package sqlite is a small cgo binding to the SQLite library that
// github.com/mattn/go-sqlite3 compiles into the binary. sluice's view writers
// use it on their hot path: the statements of a connection collect rows of
// parameters in Go memory, in one queue, and the next Exec runs them all, in
// the order they were appended, in one C call, with no database/sql or
// driver.Value conversions per row. Readers use database/sql as usual.
//
// A Conn and its Stmts are not safe for concurrent use.
package sqlite

/*
#cgo CFLAGS: -O2
#include <stdlib.h>
#include <string.h>

// The sqlite3 library itself is compiled into the binary by
// github.com/mattn/go-sqlite3 (imported below); these are the prototypes of
// the few functions this package calls.
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long sqlite3_int64;
int sqlite3_open_v2(const char *filename, sqlite3 **ppDb, int flags, const char *zVfs);
int sqlite3_close_v2(sqlite3*);
int sqlite3_exec(sqlite3*, const char *sql, int (*callback)(void*,int,char**,char**), void *, char **errmsg);
void sqlite3_free(void*);
const char *sqlite3_errmsg(sqlite3*);
int sqlite3_extended_errcode(sqlite3*);
int sqlite3_system_errno(sqlite3*);
int sqlite3_busy_timeout(sqlite3*, int ms);
int sqlite3_prepare_v2(sqlite3 *db, const char *zSql, int nByte, sqlite3_stmt **ppStmt, const char **pzTail);
int sqlite3_finalize(sqlite3_stmt *pStmt);
int sqlite3_reset(sqlite3_stmt *pStmt);
int sqlite3_clear_bindings(sqlite3_stmt*);
int sqlite3_step(sqlite3_stmt*);
int sqlite3_bind_parameter_count(sqlite3_stmt*);
const char *sqlite3_bind_parameter_name(sqlite3_stmt*, int);
int sqlite3_bind_null(sqlite3_stmt*, int);
int sqlite3_bind_int64(sqlite3_stmt*, int, sqlite3_int64);
int sqlite3_bind_double(sqlite3_stmt*, int, double);
int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, void(*)(void*));
int sqlite3_bind_blob(sqlite3_stmt*, int, const void*, int, void(*)(void*));
int sqlite3_column_count(sqlite3_stmt*);
int sqlite3_column_type(sqlite3_stmt*, int);
sqlite3_int64 sqlite3_column_int64(sqlite3_stmt*, int);
double sqlite3_column_double(sqlite3_stmt*, int);
const unsigned char *sqlite3_column_text(sqlite3_stmt*, int);
int sqlite3_column_bytes(sqlite3_stmt*, int);
const char *sqlite3_column_name(sqlite3_stmt*, int);
int sqlite3_stmt_readonly(sqlite3_stmt*);
const char *sqlite3_sql(sqlite3_stmt*);
sqlite3_int64 sqlite3_changes64(sqlite3*);
int sqlite3_complete(const char *sql);
void *sqlite3_wal_hook(sqlite3*, int(*)(void *,sqlite3*,const char*,int), void*);

// sluice_wal_frames records, in the int its argument points to, how many
// frames the WAL holds after each commit.
static int sluice_wal_frames(void *arg, sqlite3 *db, const char *name, int frames) {
	*(int*)arg = frames;
	return 0;
}
static void sluice_track_wal(sqlite3 *db, int *frames) {
	sqlite3_wal_hook(db, sluice_wal_frames, frames);
}

// Bind copies of the bytes (SQLITE_TRANSIENT).
static int sluice_bind_text_copy(sqlite3_stmt *s, int i, const char *p, int n) {
	return sqlite3_bind_text(s, i, p, n, (void(*)(void*))-1);
}
static int sluice_bind_blob_copy(sqlite3_stmt *s, int i, const void *p, int n) {
	return sqlite3_bind_blob(s, i, p, n, (void(*)(void*))-1);
}

*/
import "C"

import (
	"errors"
	"fmt"
	"math"
	"runtime/cgo"
	"syscall"
	"time"
	"unsafe"

	// The SQLite library this package calls is the one go-sqlite3
	// compiles into the binary.
	_ "github.com/mattn/go-sqlite3"
)

// Open flags (the SQLITE_OPEN_* values).
const (
	OpenReadOnly  = 0x00000001
	OpenReadWrite = 0x00000002
	OpenCreate    = 0x00000004
	OpenURI       = 0x00000040
	OpenNoMutex   = 0x00008000
)

// Result codes callers branch on.
const (
	codeRow  = 100
	codeDone = 101
)

// Primary result codes (Error.Code & 0xff).
const (
	CodeError      = 1
	CodeAbort      = 4
	CodeBusy       = 5
	CodeLocked     = 6
	CodeNoMem      = 7
	CodeReadOnly   = 8
	CodeInterrupt  = 9
	CodeIOErr      = 10
	CodeCorrupt    = 11
	CodeFull       = 13
	CodeCantOpen   = 14
	CodeProtocol   = 15
	CodeConstraint = 19
	CodeAuth       = 23
	CodeNotADB     = 26
)

// Error is an SQLite error: its (extended) code and message, the
// statement it came from if any, and the operating system's error number
// behind an I/O error (0 if none).
type Error struct {
	Code  int
	Msg   string
	SQL   string
	Errno syscall.Errno
}

// Primary returns the primary result code (Code & 0xff).
func (e *Error) Primary() int { return e.Code & 0xff }

// Unwrap returns the operating system's error behind an I/O error, if any.
func (e *Error) Unwrap() error {
	if e.Errno != 0 {
		return e.Errno
	}
	return nil
}

// Is makes SQLITE_FULL match syscall.ENOSPC.
func (e *Error) Is(target error) bool { return target == syscall.ENOSPC && e.Primary() == CodeFull }

func (e *Error) Error() string {
	if e.SQL != "" {
		return fmt.Sprintf("sqlite: %s (code %d) in %q", e.Msg, e.Code, e.SQL)
	}
	return fmt.Sprintf("sqlite: %s (code %d)", e.Msg, e.Code)
}

// IsConstraint reports whether err is an SQLite constraint violation.
func IsConstraint(err error) bool { return primary(err) == CodeConstraint }

// IsCorrupt reports whether err says the database file is damaged or is
// not a database (SQLITE_CORRUPT, SQLITE_NOTADB): not for I/O errors, a
// full disk or a file that cannot be opened, which say nothing about the
// file's content.
func IsCorrupt(err error) bool {
	p := primary(err)
	return p == CodeCorrupt || p == CodeNotADB
}

// IsFull reports whether err is a full disk: SQLITE_FULL, or an error
// whose cause is ENOSPC or EDQUOT (SQLite reports some of those, such as
// growing the -shm file, as I/O errors).
func IsFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// IsBusy reports whether err says another connection held a lock on the
// database for longer than the busy timeout (SQLITE_BUSY).
func IsBusy(err error) bool { return primary(err) == CodeBusy }

func primary(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Primary()
	}
	return 0
}

// Complete reports whether sql ends with a complete SQL statement (a
// semicolon outside strings, comments and trigger bodies).
func Complete(sql string) bool {
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	return C.sqlite3_complete(csql) != 0
}

// BusyTimeout is how long a statement waits for a lock another connection
// holds before it fails with SQLITE_BUSY (see IsBusy).
const BusyTimeout = 5 * time.Second

// Conn is an open database connection.
type Conn struct {
	db    *C.sqlite3
	path  string
	stmts []*Stmt
	// walFrames is C memory the WAL hook writes (see TrackWAL); nil until
	// then.
	walFrames *C.int
	q         queue      // rows of parameters waiting for the next Exec
	auth      cgo.Handle // the Authorizer, if set
}

// Open opens the database at path with the given flags (OpenReadWrite |
// OpenCreate to create it) and a busy timeout of BusyTimeout.
func Open(path string, flags int) (*Conn, error) {
	cpath := C.CString(path)
	defer C.free(unsafe.Pointer(cpath))
	var db *C.sqlite3
	rc := C.sqlite3_open_v2(cpath, &db, C.int(flags|OpenNoMutex), nil)
	if rc != 0 {
		err := &Error{Code: int(rc), Msg: "cannot open " + path}
		if db != nil {
			err.Msg = C.GoString(C.sqlite3_errmsg(db))
			C.sqlite3_close_v2(db)
		}
		return nil, err
	}
	C.sqlite3_busy_timeout(db, C.int(BusyTimeout/time.Millisecond))
	return &Conn{db: db, path: path}, nil
}

// Path returns the file name the connection was opened with.
func (c *Conn) Path() string { return c.path }

// TrackWAL makes the connection count the frames in its WAL after each
// commit (see WALFrames). It replaces SQLite's automatic checkpoints, which
// use the same hook: set wal_autocheckpoint to 0 and checkpoint yourself.
func (c *Conn) TrackWAL() {
	if c.walFrames == nil {
		c.walFrames = (*C.int)(C.malloc(C.size_t(unsafe.Sizeof(C.int(0)))))
		*c.walFrames = 0
	}
	C.sluice_track_wal(c.db, c.walFrames)
}

// WALFrames returns how many frames the WAL held after the last commit, if
// TrackWAL was called.
func (c *Conn) WALFrames() int {
	if c.walFrames == nil {
		return 0
	}
	return int(*c.walFrames)
}

// Close finalizes the connection's statements and closes it. It is
// idempotent.
func (c *Conn) Close() error {
	if c.db == nil {
		return nil
	}
	for _, s := range c.stmts {
		s.finalize()
	}
	c.stmts = nil
	c.q.clear()
	rc := C.sqlite3_close_v2(c.db)
	c.db = nil
	if c.auth != 0 {
		c.auth.Delete()
		c.auth = 0
	}
	if c.walFrames != nil {
		C.free(unsafe.Pointer(c.walFrames))
		c.walFrames = nil
	}
	if rc != 0 {
		return &Error{Code: int(rc), Msg: "close " + c.path}
	}
	return nil
}

func (c *Conn) err(rc C.int, sql string) error {
	return c.newError(C.GoString(C.sqlite3_errmsg(c.db)), sql)
}

// newError describes the connection's last error.
func (c *Conn) newError(msg, sql string) *Error {
	e := &Error{Code: int(C.sqlite3_extended_errcode(c.db)), Msg: msg, SQL: sql}
	switch e.Primary() {
	case CodeIOErr, CodeFull, CodeCantOpen:
		e.Errno = syscall.Errno(C.sqlite3_system_errno(c.db))
	}
	return e
}

// Exec runs the rows of parameters waiting on the connection (see
// Stmt.Exec), then one or more SQL statements that return no rows.
func (c *Conn) Exec(sql string) error {
	if err := c.flush(); err != nil {
		return err
	}
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	var errmsg *C.char
	rc := C.sqlite3_exec(c.db, csql, nil, nil, &errmsg)
	if rc != 0 {
		msg := C.GoString(errmsg)
		C.sqlite3_free(unsafe.Pointer(errmsg))
		return c.newError(msg, sql)
	}
	return nil
}

// Changes returns the number of rows the last statement changed.
func (c *Conn) Changes() int64 { return int64(C.sqlite3_changes64(c.db)) }

// Prepare compiles one SQL statement. Statements are finalized by Close, or
// earlier by Stmt.Close.
func (c *Conn) Prepare(sql string) (*Stmt, error) {
	csql := C.CString(sql)
	defer C.free(unsafe.Pointer(csql))
	var s *C.sqlite3_stmt
	var tail *C.char
	rc := C.sqlite3_prepare_v2(c.db, csql, C.int(len(sql)+1), &s, &tail)
	if rc != 0 {
		return nil, c.err(rc, sql)
	}
	if s == nil {
		return nil, &Error{Code: 1, Msg: "no statement", SQL: sql}
	}
	if !c.onlyComments(tail) {
		C.sqlite3_finalize(s)
		return nil, &Error{Code: 1, Msg: "more than one statement (give one at a time)", SQL: sql}
	}
	n := uintptr(unsafe.Pointer(tail)) - uintptr(unsafe.Pointer(csql))
	st := &Stmt{c: c, s: s, sql: sql[:n], nparams: int(C.sqlite3_bind_parameter_count(s))}
	c.stmts = append(c.stmts, st)
	return st, nil
}

// onlyComments reports whether the SQL text at tail holds no statement:
// only whitespace, comments and semicolons, as SQLite's parser sees them.
func (c *Conn) onlyComments(tail *C.char) bool {
	for *tail != 0 {
		var s *C.sqlite3_stmt
		var next *C.char
		// A tail that does not compile (SQL after the statement, garbage)
		// is more than comments too.
		if rc := C.sqlite3_prepare_v2(c.db, tail, -1, &s, &next); rc != 0 || s != nil {
			C.sqlite3_finalize(s)
			return false
		}
		if next == tail {
			return true
		}
		tail = next
	}
	return true
}

// Stmt is a prepared statement. Parameters are appended in order with Int,
// Float, Text, TextBytes, Blob, Null and Value; every NumParams values make a
// row. Rows of all the statements of a Conn wait in one queue, in the order
// they were completed, and the next Exec (of any statement, or of the Conn)
// runs them all in that order, in one C call: a writer that appends rows to
// several statements and executes them at the end applies them in the
// order it appended them.
type Stmt struct {
	c       *Conn
	s       *C.sqlite3_stmt
	sql     string
	nparams int
}

// SQL returns the statement's text: what Prepare was given, without the
// semicolons, whitespace and comments that may follow the statement.
func (s *Stmt) SQL() string { return s.sql }

// NumParams returns the number of parameters a row has.
func (s *Stmt) NumParams() int { return s.nparams }

// ParamName returns the name of parameter i (0-based), with its prefix
// (":seq"), or "" for a positional one.
func (s *Stmt) ParamName(i int) string {
	return C.GoString(C.sqlite3_bind_parameter_name(s.s, C.int(i+1)))
}

// ReadOnly reports whether the statement makes no direct change to the
// database.
func (s *Stmt) ReadOnly() bool { return C.sqlite3_stmt_readonly(s.s) != 0 }

// Int appends an integer parameter.
func (s *Stmt) Int(v int64) { s.c.q.add(s, kInt, v, 0) }

// Float appends a floating-point parameter.
func (s *Stmt) Float(v float64) { s.c.q.add(s, kFloat, int64(math.Float64bits(v)), 0) }

// Null appends a NULL parameter.
func (s *Stmt) Null() { s.c.q.add(s, kNull, 0, 0) }

// Text appends a text parameter.
func (s *Stmt) Text(v string) {
	q := &s.c.q
	if q.add(s, kText, int64(len(q.buf)), int64(len(v))) {
		q.buf = append(q.buf, v...)
	}
}

// TextBytes appends a text parameter given as bytes.
func (s *Stmt) TextBytes(v []byte) {
	q := &s.c.q
	if q.add(s, kText, int64(len(q.buf)), int64(len(v))) {
		q.buf = append(q.buf, v...)
	}
}

// Blob appends a blob parameter.
func (s *Stmt) Blob(v []byte) {
	q := &s.c.q
	if q.add(s, kBlob, int64(len(q.buf)), int64(len(v))) {
		q.buf = append(q.buf, v...)
	}
}

// Value appends a parameter of a Go type: nil, bool, int, int64, uint64,
// float64, string or []byte.
func (s *Stmt) Value(v any) error {
	switch v := v.(type) {
	case nil:
		s.Null()
	case bool:
		if v {
			s.Int(1)
		} else {
			s.Int(0)
		}
	case int:
		s.Int(int64(v))
	case int64:
		s.Int(v)
	case uint64:
		s.Int(int64(v))
	case float64:
		s.Float(v)
	case string:
		s.Text(v)
	case []byte:
		s.Blob(v)
	default:
		return fmt.Errorf("sqlite: cannot bind %T", v)
	}
	return nil
}

// Pending returns the number of complete rows waiting on the statement's
// connection, of every statement.
func (s *Stmt) Pending() int { return s.c.q.rows }

// Exec runs every row waiting on the connection, of every statement, in
// the order they were appended (and then, for a statement without
// parameters, this one once), and empties the queue. On error it reports
// which row failed and the statement it belongs to; rows before it have
// run, the rest are dropped.
func (s *Stmt) Exec() error {
	if s.nparams == 0 && s.c.q.ok() {
		s.c.q.push0(s)
	}
	return s.c.flush()
}

// Query runs the rows waiting on the connection before this statement's
// last one (see Exec), binds that last row, which must be the most recent
// row appended, and starts stepping through the result rows with Next. A
// statement without parameters needs no row.
func (s *Stmt) Query() (*Rows, error) {
	q := &s.c.q
	if s.nparams == 0 {
		if err := s.c.flush(); err != nil {
			return nil, err
		}
		C.sqlite3_reset(s.s)
		return &Rows{s: s}, nil
	}
	if !q.ok() || q.rows == 0 || q.last != s {
		err := q.problem()
		if err == nil {
			err = fmt.Errorf("sqlite: query %q: append one row of its %d parameters first", s.sql, s.nparams)
		}
		q.clear()
		return nil, err
	}
	row, buf := q.spec[q.lastStart+2:], q.buf
	if err := s.c.run(q.spec[:q.lastStart], q.rows-1); err != nil {
		q.clear()
		return nil, err
	}
	C.sqlite3_reset(s.s)
	for i := 0; i < s.nparams; i++ {
		p := row[3*i:]
		var rc C.int
		switch p[0] {
		case kInt:
			rc = C.sqlite3_bind_int64(s.s, C.int(i+1), C.sqlite3_int64(p[1]))
		case kFloat:
			rc = C.sqlite3_bind_double(s.s, C.int(i+1), C.double(math.Float64frombits(uint64(p[1]))))
		case kText, kBlob:
			var p0 *C.char
			if p[2] > 0 {
				p0 = (*C.char)(unsafe.Pointer(&buf[p[1]]))
			} else {
				p0 = (*C.char)(unsafe.Pointer(&emptyText[0]))
			}
			if p[0] == kText {
				rc = C.sluice_bind_text_copy(s.s, C.int(i+1), p0, C.int(p[2]))
			} else {
				rc = C.sluice_bind_blob_copy(s.s, C.int(i+1), unsafe.Pointer(p0), C.int(p[2]))
			}
		default:
			rc = C.sqlite3_bind_null(s.s, C.int(i+1))
		}
		if rc != 0 {
			q.clear()
			return nil, s.c.err(rc, s.sql)
		}
	}
	q.clear()
	return &Rows{s: s}, nil
}

// Close finalizes the statement. Rows waiting on the connection run first
// if one of them is the statement's (an error is reported by the next
// Exec); an incomplete row of it is dropped, and reported by the next Exec.
func (s *Stmt) Close() {
	if s.s == nil {
		return
	}
	s.c.q.forget(s)
	s.finalize()
	for i, o := range s.c.stmts {
		if o == s {
			s.c.stmts = append(s.c.stmts[:i], s.c.stmts[i+1:]...)
			break
		}
	}
}

func (s *Stmt) finalize() {
	if s.s != nil {
		C.sqlite3_finalize(s.s)
		s.s = nil
	}
}

// emptyText gives a non-NULL pointer for an empty string, which SQLite binds
// as an empty value (a NULL pointer would bind NULL).
var emptyText = []byte{0}

// Rows steps through a query's results.
type Rows struct {
	s   *Stmt
	err error
}

// Next advances to the next result row.
func (r *Rows) Next() bool {
	if r.err != nil || r.s == nil {
		return false
	}
	rc := C.sqlite3_step(r.s.s)
	switch rc {
	case codeRow:
		return true
	case codeDone:
	default:
		r.err = r.s.c.err(rc, r.s.sql)
	}
	r.Close()
	return false
}

// Err returns the error that ended Next, if any.
func (r *Rows) Err() error { return r.err }

// Close resets the statement so it can run again. It is idempotent.
func (r *Rows) Close() {
	if r.s != nil {
		C.sqlite3_reset(r.s.s)
		C.sqlite3_clear_bindings(r.s.s)
		r.s = nil
	}
}

// IsNull reports whether column i of the current row is NULL.
func (r *Rows) IsNull(i int) bool { return C.sqlite3_column_type(r.s.s, C.int(i)) == 5 }

// Int returns column i of the current row as an integer.
func (r *Rows) Int(i int) int64 { return int64(C.sqlite3_column_int64(r.s.s, C.int(i))) }

// Float returns column i of the current row as a float.
func (r *Rows) Float(i int) float64 { return float64(C.sqlite3_column_double(r.s.s, C.int(i))) }

// Text returns column i of the current row as a string.
func (r *Rows) Text(i int) string {
	p := C.sqlite3_column_text(r.s.s, C.int(i))
	n := C.sqlite3_column_bytes(r.s.s, C.int(i))
	if p == nil {
		return ""
	}
	return C.GoStringN((*C.char)(unsafe.Pointer(p)), n)
}
