package sqlite

/*
#include <stdint.h>
#include <string.h>

typedef struct sqlite3_stmt sqlite3_stmt;
typedef long long sqlite3_int64;
int sqlite3_reset(sqlite3_stmt *pStmt);
int sqlite3_clear_bindings(sqlite3_stmt*);
int sqlite3_step(sqlite3_stmt*);
int sqlite3_bind_null(sqlite3_stmt*, int);
int sqlite3_bind_int64(sqlite3_stmt*, int, sqlite3_int64);
int sqlite3_bind_double(sqlite3_stmt*, int, double);
int sqlite3_bind_text(sqlite3_stmt*, int, const char*, int, void(*)(void*));
int sqlite3_bind_blob(sqlite3_stmt*, int, const void*, int, void(*)(void*));

// Param kinds in a row spec.
enum { K_NULL = 0, K_INT = 1, K_FLOAT = 2, K_TEXT = 3, K_BLOB = 4 };

// sluice_exec_queue binds and steps nrows rows, each of its own statement.
// A row in spec is: the statement's pointer, its parameter count n, then 3
// int64 per parameter: kind, value (int, float bits, or offset into buf),
// length. Text and blobs are bound as SQLITE_STATIC: buf outlives the steps,
// and a statement's bindings are cleared when the next row is another
// statement's and before returning, so SQLite keeps no pointer into Go
// memory. Returns SQLITE_DONE (101) when all rows ran, or the error code,
// with *failed set to the failing row and *failedStmt to its statement.
static int sluice_exec_queue(const char *buf, const long long *spec, int nrows, int *failed, sqlite3_stmt **failedStmt) {
	const long long *p = spec;
	sqlite3_stmt *prev = 0;
	for (int r = 0; r < nrows; r++) {
		sqlite3_stmt *s = (sqlite3_stmt*)(intptr_t)p[0];
		int nparams = (int)p[1];
		p += 2;
		if (prev && prev != s) sqlite3_clear_bindings(prev);
		prev = s;
		for (int i = 0; i < nparams; i++, p += 3) {
			int rc;
			switch (p[0]) {
			case K_INT: rc = sqlite3_bind_int64(s, i + 1, p[1]); break;
			case K_FLOAT: { double d; memcpy(&d, &p[1], 8); rc = sqlite3_bind_double(s, i + 1, d); break; }
			// A NULL pointer would bind NULL, not '' or an empty blob.
			case K_TEXT: rc = sqlite3_bind_text(s, i + 1, p[2] ? buf + p[1] : "", (int)p[2], (void(*)(void*))0); break;
			case K_BLOB: rc = sqlite3_bind_blob(s, i + 1, p[2] ? buf + p[1] : "", (int)p[2], (void(*)(void*))0); break;
			default: rc = sqlite3_bind_null(s, i + 1);
			}
			if (rc != 0) { *failed = r; *failedStmt = s; sqlite3_clear_bindings(s); return rc; }
		}
		int rc = sqlite3_step(s);
		if (rc != 101 && rc != 100) {
			*failed = r;
			*failedStmt = s;
			sqlite3_reset(s);
			sqlite3_clear_bindings(s);
			return rc;
		}
		sqlite3_reset(s);
	}
	if (prev) sqlite3_clear_bindings(prev);
	return 101;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

const (
	kNull = iota
	kInt
	kFloat
	kText
	kBlob
)

// queue holds the rows of parameters appended to a Conn's statements and
// not run yet, in the order they were completed. One row is built at a
// time: a value for another statement while a row is incomplete is a
// mistake, reported by the next Exec.
type queue struct {
	buf  []byte  // text and blob bytes of the rows
	spec []int64 // per row: statement pointer, parameter count, then 3 per parameter
	rows int     // complete rows

	open      *Stmt // the statement whose row is being appended, if any
	openVals  int   // values it has so far
	openStart int   // index in spec of its row

	last      *Stmt // the statement of the last complete row
	lastStart int   // index in spec of that row

	bad error // a mistake found while appending
}

// add appends one value for s and reports whether it was kept.
func (q *queue) add(s *Stmt, kind, v, n int64) bool {
	if q.open != s && !q.begin(s) {
		return false
	}
	q.spec = append(q.spec, kind, v, n)
	q.openVals++
	if q.openVals == s.nparams {
		q.open = nil
		q.rows++
		q.last, q.lastStart = s, q.openStart
	}
	return true
}

// begin starts a row of s.
func (q *queue) begin(s *Stmt) bool {
	if q.bad != nil {
		return false
	}
	if q.open != nil {
		q.bad = fmt.Errorf("sqlite: a value for %q while a row of %q is incomplete (%d of %d values): append one row at a time", s.sql, q.open.sql, q.openVals, q.open.nparams)
		return false
	}
	if s.s == nil {
		q.bad = fmt.Errorf("sqlite: a value for the closed statement %q", s.sql)
		return false
	}
	q.open, q.openVals, q.openStart = s, 0, len(q.spec)
	q.spec = append(q.spec, int64(uintptr(unsafe.Pointer(s.s))), int64(s.nparams))
	return true
}

// push0 queues one run of s, a statement without parameters.
func (q *queue) push0(s *Stmt) {
	q.spec = append(q.spec, int64(uintptr(unsafe.Pointer(s.s))), 0)
	q.rows++
	q.last, q.lastStart = s, len(q.spec)-2
}

// ok reports whether the queue holds only complete rows and no mistake.
func (q *queue) ok() bool { return q.bad == nil && q.open == nil }

// problem returns the mistake that keeps the queue from running, if any.
func (q *queue) problem() error {
	if q.bad != nil {
		return q.bad
	}
	if q.open != nil {
		s := q.open
		vals := q.openVals
		for i := 0; i < q.openStart; i += 2 + 3*int(q.spec[i+1]) {
			if q.spec[i] == int64(uintptr(unsafe.Pointer(s.s))) {
				vals += s.nparams
			}
		}
		return fmt.Errorf("sqlite: %d parameter values for a statement with %d parameters (%q): its last row is incomplete", vals, s.nparams, s.sql)
	}
	return nil
}

// forget prepares for closing s: it drops an incomplete row of s (a
// mistake reported by the next Exec) and runs the queued rows if s has any.
func (q *queue) forget(s *Stmt) {
	if q.open == s {
		q.spec = q.spec[:q.openStart]
		q.open = nil
		if q.bad == nil {
			q.bad = fmt.Errorf("sqlite: statement %q closed with an incomplete row", s.sql)
		}
	}
	if q.rows == 0 || q.bad != nil {
		return
	}
	for i := 0; i < len(q.spec); {
		if q.spec[i] == int64(uintptr(unsafe.Pointer(s.s))) {
			if err := s.c.flush(); err != nil {
				q.bad = err
			}
			return
		}
		i += 2 + 3*int(q.spec[i+1])
	}
}

func (q *queue) clear() {
	q.buf = q.buf[:0]
	q.spec = q.spec[:0]
	if cap(q.buf) > 16<<20 {
		q.buf = nil
	}
	if cap(q.spec) > 4<<20 {
		q.spec = nil
	}
	q.rows, q.open, q.openVals, q.last, q.bad = 0, nil, 0, nil, nil
}

// flush runs the queued rows and empties the queue.
func (c *Conn) flush() error {
	q := &c.q
	if err := q.problem(); err != nil {
		q.clear()
		return err
	}
	if q.rows == 0 {
		return nil
	}
	err := c.run(q.spec, q.rows)
	q.clear()
	return err
}

// Discard drops the rows waiting on the connection without running them
// (before a rollback).
func (c *Conn) Discard() { c.q.clear() }

// run binds and steps the first nrows rows of spec, whose text and blob
// bytes are in the queue's buf.
func (c *Conn) run(spec []int64, nrows int) error {
	if nrows == 0 {
		return nil
	}
	var bufp *C.char
	if len(c.q.buf) > 0 {
		bufp = (*C.char)(unsafe.Pointer(&c.q.buf[0]))
	}
	var failed C.int
	var failedStmt *C.sqlite3_stmt
	rc := C.sluice_exec_queue(bufp, (*C.longlong)(unsafe.Pointer(&spec[0])), C.int(nrows), &failed, &failedStmt)
	if rc == codeDone {
		return nil
	}
	sql := ""
	for _, s := range c.stmts {
		if s.s == failedStmt {
			sql = s.sql
		}
	}
	err := c.err(rc, sql)
	if nrows > 1 {
		return fmt.Errorf("row %d of %d: %w", int(failed)+1, nrows, err)
	}
	return err
}
