package view

import "github.com/sluicedb/sluice/internal/sqlite"

// Conn is the connection to a view file that a Writer writes through, inside
// the transaction the indexer opened. Statements prepared on it stay valid
// across transactions, until the writer is closed.
//
// Rows of parameters appended to the statements of a Conn wait in one queue
// and run in the order they were appended: the next Exec of any Stmt, or of
// the Conn, runs them all, in one call into SQLite. So a writer may append
// rows to several statements as it goes through its entries and Exec them
// at the end: entries are applied in order, by construction. A Query runs
// the rows before it first, so it sees them.
//
// A Conn is used by one goroutine, the one that applies batches.
type Conn struct {
	c *sqlite.Conn
}

// Prepare compiles one SQL statement. It is finalized by Stmt.Close or when
// the view file closes.
func (c *Conn) Prepare(sql string) (*Stmt, error) {
	s, err := c.c.Prepare(sql)
	if err != nil {
		return nil, err
	}
	return &Stmt{s: s}, nil
}

// Exec runs the rows waiting on the connection, then one or more SQL
// statements that return no rows.
func (c *Conn) Exec(sql string) error { return c.c.Exec(sql) }

// Changes returns the number of rows the last statement run changed.
func (c *Conn) Changes() int64 { return c.c.Changes() }

// Stmt is a statement prepared on a Conn. Append one row of parameters, in
// order, with Int, Float, Text, TextBytes, Blob, Null or Value (positional
// and named parameters alike, in the order they appear); the row joins the
// Conn's queue once it has NumParams values. Append one row at a time: a
// value for another statement while a row is incomplete is an error,
// reported by the next Exec.
type Stmt struct {
	s *sqlite.Stmt
}

// Int appends an integer parameter.
func (s *Stmt) Int(v int64) { s.s.Int(v) }

// Float appends a floating-point parameter.
func (s *Stmt) Float(v float64) { s.s.Float(v) }

// Text appends a text parameter. The string is copied.
func (s *Stmt) Text(v string) { s.s.Text(v) }

// TextBytes appends a text parameter given as bytes. They are copied.
func (s *Stmt) TextBytes(v []byte) { s.s.TextBytes(v) }

// Blob appends a blob parameter. The bytes are copied.
func (s *Stmt) Blob(v []byte) { s.s.Blob(v) }

// Null appends a NULL parameter.
func (s *Stmt) Null() { s.s.Null() }

// Value appends a parameter of a Go type: nil, bool, int, int64, uint64,
// float64, string or []byte (a blob).
func (s *Stmt) Value(v any) error { return s.s.Value(v) }

// Exec runs every row waiting on the Conn, of every statement, in the order
// they were appended — and then, for a statement without parameters, this
// one once. On error it names the statement and the row that failed; the
// rows before it have run, the rest are dropped.
func (s *Stmt) Exec() error { return s.s.Exec() }

// Query runs the rows waiting on the Conn before this statement's row, then
// starts this statement with its row (which must be the last one appended;
// a statement without parameters needs none). Step through the result with
// Rows.Next; Rows.Close ends it early.
func (s *Stmt) Query() (*Rows, error) {
	r, err := s.s.Query()
	if err != nil {
		return nil, err
	}
	return &Rows{r: r}, nil
}

// NumParams returns the number of parameters of a row.
func (s *Stmt) NumParams() int { return s.s.NumParams() }

// ParamName returns the name of parameter i (0-based) with its prefix, such
// as ":seq", or "" for a positional parameter.
func (s *Stmt) ParamName(i int) string { return s.s.ParamName(i) }

// SQL returns the statement's text.
func (s *Stmt) SQL() string { return s.s.SQL() }

// Close finalizes the statement. Rows of it still waiting run first.
func (s *Stmt) Close() { s.s.Close() }

// Rows steps through the result of Stmt.Query.
type Rows struct {
	r *sqlite.Rows
}

// Next advances to the next result row and reports whether there is one.
// After the last row, the statement is reset.
func (r *Rows) Next() bool { return r.r.Next() }

// Err returns the error that ended Next, if any.
func (r *Rows) Err() error { return r.r.Err() }

// Close resets the statement so it can run again. It is idempotent.
func (r *Rows) Close() { r.r.Close() }

// IsNull reports whether column i (0-based) of the current row is NULL.
func (r *Rows) IsNull(i int) bool { return r.r.IsNull(i) }

// Int returns column i of the current row as an integer.
func (r *Rows) Int(i int) int64 { return r.r.Int(i) }

// Float returns column i of the current row as a float.
func (r *Rows) Float(i int) float64 { return r.r.Float(i) }

// Text returns column i of the current row as a string (a copy).
func (r *Rows) Text(i int) string { return r.r.Text(i) }
