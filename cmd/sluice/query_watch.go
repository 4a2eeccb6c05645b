package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sluicedb/sluice/query"
)

// runQueryWatch runs q as a live query (sluice query --watch): it prints
// the first result, then each result that differs from the one before,
// until ctx ends (Ctrl-C or SIGTERM: not an error) or the query fails.
func runQueryWatch(ctx context.Context, e *env, q string, o *queryOptions) error {
	db, err := openQuery(ctx, e, q, o)
	if err != nil {
		return err
	}
	defer db.Close()
	var buf bytes.Buffer
	return watchResults(ctx, e, db, o.verbose, q, nil, func(r *query.Result) error {
		buf.Reset()
		if o.json {
			writeResultJSON(&buf, r)
		} else {
			writeResultTable(&buf, r)
		}
		_, err := e.out.Write(buf.Bytes())
		return err
	})
}

// watchResults subscribes to q with args over db and calls each with every
// result, until ctx ends (then it returns nil: Ctrl-C or SIGTERM ends a
// watch normally), the query fails or each returns an error. With verbose,
// a run whose result was not delivered (it had not changed) is noted on
// stderr.
func watchResults(ctx context.Context, e *env, db *query.DB, verbose bool, q string, args []any, each func(*query.Result) error) error {
	var opts query.LiveOptions
	if verbose {
		var mu sync.Mutex // OnRun runs on the Live's worker
		opts.OnRun = func(_ *query.Subscription, r *query.Result, delivered bool) {
			if !delivered {
				mu.Lock()
				e.notef("watch: result unchanged at %s", viewsLine(r.Views))
				mu.Unlock()
			}
		}
	}
	live, err := query.NewLive(db, opts)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer live.Close()
	sub, err := live.Subscribe(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer sub.Close()
	for {
		r, err := sub.Next(ctx)
		if err == nil {
			err = each(r)
		}
		if ctx.Err() != nil {
			return nil // asked to stop
		}
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
	}
}

// viewsLine says which entries a result reflects: "kv since 3, posts
// since 2 and 5 7". A view whose file is named otherwise is file.view.
func viewsLine(vs []query.ViewState) string {
	if len(vs) == 0 {
		return "no view"
	}
	parts := make([]string, len(vs))
	for i, v := range vs {
		name := v.View
		if v.File != v.View {
			name = v.File + "." + v.View
		}
		parts[i] = fmt.Sprintf("%s since %d", name, v.Since)
		if len(v.Ahead) > 0 {
			parts[i] += " and " + strings.Trim(fmt.Sprint(v.Ahead), "[]")
		}
	}
	return strings.Join(parts, ", ")
}

// writeResultTable writes r for people: a line saying which result it is,
// when it was read and which entries it reflects, the table, and an empty
// line.
func writeResultTable(w io.Writer, r *query.Result) {
	fmt.Fprintf(w, "-- result %d at %s: %s\n", r.N, r.Time.Local().Format("15:04:05.000"), viewsLine(r.Views))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	fmt.Fprintln(tw, strings.Join(r.Columns, "\t"))
	for _, row := range r.Rows {
		for i, v := range row {
			if i > 0 {
				io.WriteString(tw, "\t")
			}
			io.WriteString(tw, clean.Replace(text(v)))
		}
		io.WriteString(tw, "\n")
	}
	tw.Flush()
	io.WriteString(w, "\n")
}

// writeResultJSON writes r as one line of JSON: its number, time, column
// names, rows as objects (names made unique and values written as sluice
// query --json writes them) and the views' progress.
func writeResultJSON(w *bytes.Buffer, r *query.Result) {
	cols, _ := json.Marshal(r.Columns)
	views, _ := json.Marshal(r.Views)
	fmt.Fprintf(w, `{"n": %d, "time": %q, "columns": %s, "rows": [`, r.N, r.Time.UTC().Format(time.RFC3339Nano), cols)
	keys := uniqueNames(r.Columns)
	for i, row := range r.Rows {
		if i > 0 {
			w.WriteString(", ")
		}
		w.WriteString("{")
		for j, v := range row {
			if j > 0 {
				w.WriteString(", ")
			}
			k, _ := json.Marshal(keys[j])
			w.Write(k)
			w.WriteString(": ")
			w.Write(jsonValue(v))
		}
		w.WriteString("}")
	}
	fmt.Fprintf(w, `], "views": %s}`+"\n", views)
}
