package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view/lattice"
)

type latticeGetOptions struct {
	user                 string
	json, watch, verbose bool
}

func newLatticeGetCmd(e *env) *cobra.Command {
	var o latticeGetOptions
	c := &cobra.Command{
		Use:   "get NAMESPACE [--user U] [--watch] [--json]",
		Short: "Print a user's merged lattice dictionary",
		Long: `Print the dictionary of the lattice NAMESPACE for user U: the shared keys
merged with U's private keys, field by field by each field's suffix (without
--user, the shared keys alone), as the lattice view (DIR/views/lattice.db)
shows it. It prints a table (key, field, value as JSON), or with --json the
dictionary as one JSON object: {"room1": {"last_seen_counter": 120}}.

With --watch it prints the dictionary, then again each time it changes,
until Ctrl-C (exit status 0): each a table under a line with the time, or
with --json one line each. Deltas that leave it as it was (a smaller
counter, another user's private keys) print nothing; --verbose says so on
stderr.`,
		Example: `  sluice lattice get chat.rooms --user 7777
  sluice lattice get chat.rooms --json
  sluice lattice get chat.rooms --user 7777 --watch --json`,
		Args: exactArgs(1, "a namespace"),
		RunE: func(c *cobra.Command, args []string) error {
			return runLatticeGet(c.Context(), e, args[0], &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.user, "user", "", "the user whose private keys are merged in (default: shared keys only)")
	f.BoolVar(&o.json, "json", false, "print the dictionary as JSON (with --watch, one line each)")
	f.BoolVarP(&o.watch, "watch", "w", false, "print the dictionary again whenever it changes, until Ctrl-C")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "with --watch, say on stderr when a change left the dictionary as it was")
	return c
}

// latticeRows reads the rows a user's dictionary is merged from, in a
// fixed order: a live query over them gives a new result exactly when one
// of them changed.
const latticeRows = `SELECT owner, key, field, counter, version, value FROM lattice_fields
 WHERE namespace = ?1 AND owner IN ('', ?2)
UNION ALL
SELECT owner, key, field, NULL, NULL, member FROM lattice_set_members
 WHERE namespace = ?1 AND owner IN ('', ?2)
ORDER BY 1, 2, 3, 6`

func runLatticeGet(ctx context.Context, e *env, namespace string, o *latticeGetOptions) error {
	path := e.viewFilePath(lattice.Name)
	if !fileExists(path) {
		return fmt.Errorf("lattice get: no lattice view in %s: index one with sluice index --view lattice (--follow to keep it indexed)", e.viewsDir())
	}
	db, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		return fmt.Errorf("lattice get: %w", err)
	}
	defer db.Close()
	var last []byte // the canonical JSON of the dictionary printed last
	show := func() error {
		d, err := lattice.Get(ctx, db.SQL(), namespace, o.user)
		if err != nil {
			return err
		}
		b, err := json.Marshal(d)
		if err != nil {
			return err
		}
		if o.watch && last != nil && bytes.Equal(b, last) {
			if o.verbose {
				e.notef("watch: dictionary unchanged")
			}
			return nil
		}
		last = b
		var buf bytes.Buffer
		if o.json {
			buf.Write(b)
			buf.WriteString("\n")
		} else {
			writeDict(&buf, d, o.watch)
		}
		_, err = e.out.Write(buf.Bytes())
		return err
	}
	if !o.watch {
		return show()
	}
	return watchResults(ctx, e, db, o.verbose, latticeRows, []any{namespace, o.user}, func(*query.Result) error { return show() })
}

// writeDict writes d as a table: key, field and value (as JSON), sorted by
// key and field. With stamped, a line with the time comes first and an
// empty line last (the form sluice lattice get --watch prints).
func writeDict(w io.Writer, d lattice.Dict, stamped bool) {
	if stamped {
		fmt.Fprintf(w, "-- %s\n", time.Now().Format("15:04:05.000"))
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "key\tfield\tvalue")
	clean := strings.NewReplacer("\t", " ", "\n", " ")
	for _, k := range slices.Sorted(maps.Keys(d)) {
		for _, f := range slices.Sorted(maps.Keys(d[k])) {
			v, _ := json.Marshal(d[k][f])
			fmt.Fprintf(tw, "%s\t%s\t%s\n", clean.Replace(k), clean.Replace(f), v)
		}
	}
	tw.Flush()
	if stamped {
		io.WriteString(w, "\n")
	}
}
