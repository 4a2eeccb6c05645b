package main

import (
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/sluicedb/sluice/query"
)

// How sluice query prints values (its --help says the same):
//
//   - NULL is null in JSON, NULL in a table and an empty field in CSV.
//   - A float that is infinite is "Infinity" or "-Infinity" (a string in
//     JSON, which has no such number).
//   - A BLOB is {"$base64": true, "encoded": "..."} in JSON (so it is never
//     taken for text), x'0aff' (SQLite's notation) in a table and in CSV.
//   - Column names that repeat get _2, _3... in JSON and CSV (the first
//     keeps its name; a suffix already taken is skipped), so every object
//     key is unique.
//   - In the table, control characters, bidi controls and bytes that are
//     not UTF-8 are escaped (see tableCell); JSON and CSV keep every byte.
//
// JSON and CSV are complete or absent: they are written to stdout only once
// every row was read, so a query that fails part-way prints no half
// document (the rows wait in memory, then in an unlinked temporary file).
// The table, for people, prints as rows come.

// spillAt is how many bytes of JSON or CSV output are held in memory
// before they move to a temporary file.
var spillAt = 8 << 20

// spool holds output until it is complete: in memory up to spillAt bytes,
// then in an unlinked temporary file.
type spool struct {
	mem  bytes.Buffer
	file *os.File
}

func (s *spool) Write(p []byte) (int, error) {
	if s.file == nil && s.mem.Len()+len(p) > spillAt {
		f, err := os.CreateTemp("", "sluice-query-*")
		if err != nil {
			return 0, fmt.Errorf("hold the output: %w", err)
		}
		os.Remove(f.Name()) // the open file stays readable; nothing stays behind
		s.file = f
		if _, err := s.mem.WriteTo(f); err != nil {
			return 0, fmt.Errorf("hold the output: %w", err)
		}
	}
	if s.file != nil {
		return s.file.Write(p)
	}
	return s.mem.Write(p)
}

// copyTo writes everything held to w.
func (s *spool) copyTo(w io.Writer) error {
	if s.file == nil {
		_, err := s.mem.WriteTo(w)
		return err
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	_, err := io.Copy(w, s.file)
	return err
}

func (s *spool) close() {
	if s.file != nil {
		s.file.Close()
	}
}

// writeComplete runs write into a spool and copies the result to w only if
// write succeeded.
func writeComplete(w io.Writer, write func(io.Writer) error) error {
	var s spool
	defer s.close()
	if err := write(&s); err != nil {
		return err
	}
	return s.copyTo(w)
}

// scanRows calls head with the column names, then row with each row's
// values as database/sql gives them: nil, int64, float64, string (TEXT),
// []byte (BLOB), bool or time.Time.
func scanRows(rows *sql.Rows, head func(cols []string) error, row func(vals []any) error) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if err := head(cols); err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := row(vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// uniqueNames returns cols with repeated names suffixed _2, _3...,
// skipping suffixed names that are taken.
func uniqueNames(cols []string) []string {
	taken := map[string]bool{}
	for _, c := range cols {
		taken[c] = true
	}
	seen := map[string]bool{}
	out := make([]string, len(cols))
	for i, c := range cols {
		name := c
		for n := 2; seen[name]; n++ {
			if name = fmt.Sprintf("%s_%d", c, n); taken[name] {
				name = c // taken by another column: try the next suffix
			}
		}
		seen[name] = true
		out[i] = name
	}
	return out
}

// text renders a value for the table and CSV.
func text(v any) string {
	switch v := v.(type) {
	case nil:
		return "NULL"
	case string:
		return v
	case []byte:
		return "x'" + hex.EncodeToString(v) + "'"
	case float64:
		return formatFloat(v)
	case time.Time:
		return v.Format(time.RFC3339Nano)
	}
	return fmt.Sprint(v)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// jsonValue renders a value as JSON (query.AppendValueJSON); it never
// fails.
func jsonValue(v any) []byte { return query.AppendValueJSON(nil, v) }

// tableCell makes s safe to print in a table cell on a terminal: control
// characters (tab, newline, ESC: C0, DEL and C1) and the Unicode controls
// that reorder text (bidi embeddings, overrides, isolates) are written as
// Go escapes (\t, \n, \x1b, \u202e), and bytes that are not UTF-8 as
// \xff, so no value can move the cursor, color the terminal or break the
// alignment (text/tabwriter treats 0xff as its escape character). Other
// text, backslashes included, is printed as it is; --json and --csv stay
// exact.
func tableCell(s string) string {
	clean := true
	for _, r := range s {
		if r == utf8.RuneError || unsafeRune(r) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case unsafeRune(r) && r < 0x100:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// unsafeRune reports whether r is a control character or a bidi control.
func unsafeRune(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f) || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

func writeTable(w io.Writer, rows *sql.Rows) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	n := 0
	err := scanRows(rows, func(cols []string) error {
		cells := make([]string, len(cols))
		for i, c := range cols {
			cells[i] = tableCell(c)
		}
		_, err := fmt.Fprintln(tw, strings.Join(cells, "\t"))
		return err
	}, func(vals []any) error {
		cells := make([]string, len(vals))
		for i, v := range vals {
			cells[i] = tableCell(text(v))
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
		if n++; n%1000 == 0 {
			return tw.Flush()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return tw.Flush()
}

// writeJSON writes the rows as a JSON array of objects, to w only once
// every row was read.
func writeJSON(w io.Writer, rows *sql.Rows) error {
	return writeComplete(w, func(w io.Writer) error {
		var keys [][]byte
		n := 0
		io.WriteString(w, "[")
		err := scanRows(rows, func(cols []string) error {
			for _, c := range uniqueNames(cols) {
				k, _ := json.Marshal(c)
				keys = append(keys, k)
			}
			return nil
		}, func(vals []any) error {
			if n++; n > 1 {
				io.WriteString(w, ",")
			}
			io.WriteString(w, "\n  {")
			for i, v := range vals {
				if i > 0 {
					io.WriteString(w, ", ")
				}
				w.Write(keys[i])
				io.WriteString(w, ": ")
				w.Write(jsonValue(v))
			}
			_, err := io.WriteString(w, "}")
			return err
		})
		if err != nil {
			return err
		}
		if n > 0 {
			io.WriteString(w, "\n")
		}
		_, err = io.WriteString(w, "]\n")
		return err
	})
}

// writeCSV writes the rows as CSV with a header line, to w only once every
// row was read.
func writeCSV(w io.Writer, rows *sql.Rows) error {
	return writeComplete(w, func(w io.Writer) error {
		cw := csv.NewWriter(w)
		err := scanRows(rows, func(cols []string) error {
			return cw.Write(uniqueNames(cols))
		}, func(vals []any) error {
			rec := make([]string, len(vals))
			for i, v := range vals {
				if v != nil {
					rec[i] = text(v)
				}
			}
			return cw.Write(rec)
		})
		if err != nil {
			return err
		}
		cw.Flush()
		return cw.Error()
	})
}
