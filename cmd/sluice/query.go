package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

func init() { extraCommands = append(extraCommands, newQueryCmd, newViewsCmd, newRebuildCmd) }

type queryOptions struct {
	json, csv bool
	watch     bool // query_watch.go
	verbose   bool
	wait      uint64
	waitViews []string
	timeout   time.Duration
}

func newQueryCmd(e *env) *cobra.Command {
	var o queryOptions
	c := &cobra.Command{
		Use:   "query SQL",
		Short: "Run a read-only SQL query over the views",
		Long: `Run one SQL statement over every view file in DIR/views, each attached under
its view name (ssb, posts, ...) so that views can be joined; a table can be
named without its view when only one view has it. A trailing ; or comment
is fine; a second statement is refused.

Results print as a table, or as JSON (--json, an array of objects) or CSV
(--csv, with a header). JSON and CSV print only once every row was read: a
query that fails part-way prints no half document, only the error. In them,
column names that repeat get _2, _3... (SELECT a.seq, b.seq gives seq and
seq_2). Values: NULL is null in JSON and an empty field in CSV; an infinite
float is "Infinity" or "-Infinity" (a string in JSON); a BLOB is
{"$base64": true, "encoded": "..."} in JSON, x'0aff' in the table and CSV.
The table shows control characters, bidi controls and bytes that are not
UTF-8 escaped (\t, \x1b, \u202e, \xff), so no value acts on the terminal;
JSON and CSV keep every byte.

Queries are read-only: a statement that would write is refused. To change
what views show, append to the log.

With --wait SEQ, sluice first waits until the views show the entry at SEQ
(for example the seq printed by sluice append), for at most --timeout;
--timeout 0 checks once without waiting.

With --watch, sluice prints the result, then the result again each time an
indexer (sluice index --follow, or an app) commits a change to a view the
query reads and the result with it, until Ctrl-C (exit status 0). Commits
that leave the result as it was print nothing. Each result is a table under
a line saying which entries it reflects, or with --json one line: {"n": 1, "time": ..., "columns": [...], "rows": [{...}],
"views": [{"file": ..., "view": ..., "since": SEQ, "ahead": [SEQ...]}]},
where every entry up to since, and each entry in ahead, is in the rows.
--verbose says on stderr when a run left the result as it was.`,
		Example: `  sluice query 'SELECT type, count(*) AS n FROM messages GROUP BY type ORDER BY n DESC'
  sluice query --json 'SELECT feed FROM authors LIMIT 3'
  sluice query --csv 'SELECT * FROM posts.posts' > posts.csv
  sluice query --wait 1042 'SELECT * FROM messages WHERE seq = 1042'
  sluice query --watch "SELECT count(*) AS posts FROM messages WHERE type = 'post'"
  sluice query --watch --json 'SELECT max(seq) FROM messages'`,
		Args: exactArgs(1, "one SQL statement"),
		RunE: func(c *cobra.Command, args []string) error {
			if o.json && o.csv {
				return usagef("--json and --csv exclude each other")
			}
			if o.watch && o.csv {
				return usagef("--watch prints a table or JSON lines (--json), not CSV")
			}
			if err := checkTimeout(o.timeout); err != nil {
				return err
			}
			if o.watch {
				return runQueryWatch(c.Context(), e, args[0], &o)
			}
			return runQuery(c.Context(), e, args[0], &o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.json, "json", false, "print rows as a JSON array of objects")
	f.BoolVar(&o.csv, "csv", false, "print rows as CSV with a header line")
	f.Uint64Var(&o.wait, "wait", 0, "first wait until the views show the entry at this seq")
	f.StringSliceVar(&o.waitViews, "wait-view", nil, "with --wait, wait only for these views (default all)")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --wait, give up after this long (0: check once, do not wait)")
	f.BoolVarP(&o.watch, "watch", "w", false, "print the result again whenever it changes, until Ctrl-C")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "with --watch, say on stderr when a run left the result as it was")
	return c
}

// checkTimeout refuses a negative --timeout.
func checkTimeout(d time.Duration) error {
	if d < 0 {
		return usagef("--timeout %v: want 0 (check once) or a positive duration such as 30s", d)
	}
	return nil
}

func runQuery(ctx context.Context, e *env, q string, o *queryOptions) error {
	db, err := openQuery(ctx, e, q, o)
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	w := bufio.NewWriterSize(e.out, 256<<10)
	defer w.Flush()
	switch {
	case o.json:
		err = writeJSON(w, rows)
	case o.csv:
		err = writeCSV(w, rows)
	default:
		err = writeTable(w, rows)
	}
	if err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return w.Flush()
}

// openQuery opens the views for the statement q, after waiting as
// --wait asks, and checks q: a statement that would write is refused
// (query.ErrWrite) before anything else happens.
func openQuery(ctx context.Context, e *env, q string, o *queryOptions) (*query.DB, error) {
	var db *query.DB
	var err error
	if o.wait > 0 {
		// A statement that would write fails before the wait. Other errors
		// (no such table) may be gone after it: an indexer that has just
		// started creates the tables.
		db, err = waitVisible(ctx, e, log.Seq(o.wait), o.waitViews, o.timeout, func(db *query.DB) error {
			if err := db.Check(q); errors.Is(err, query.ErrWrite) {
				return err
			}
			return nil
		})
	} else {
		db, err = query.OpenDir(e.viewsDir(), query.Options{})
	}
	if err != nil {
		return nil, err
	}
	if err := db.Check(q); err != nil {
		db.Close()
		if errors.Is(err, query.ErrWrite) {
			return nil, err
		}
		return nil, fmt.Errorf("query: %w", err)
	}
	return db, nil
}
