package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

// viewInfo is one line of sluice views.
type viewInfo struct {
	Name          string  `json:"name"`
	File          string  `json:"file"`
	Version       int     `json:"version"`
	Since         log.Seq `json:"since"`
	Ahead         int     `json:"ahead"`
	Lag           *int64  `json:"lag"` // entries behind the log; negative: ahead of it; null: no log to compare with
	Rejects       int     `json:"rejects"`
	IndexesBuilt  bool    `json:"indexes_built"`
	RebuiltAt     string  `json:"rebuilt_at"`
	RebuildReason string  `json:"rebuild_reason"`
}

func newViewsCmd(e *env) *cobra.Command {
	var src sourceFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "views [--json]",
		Short: "List the views: file, version, progress and lag behind the log",
		Long: `List every view in DIR/views: its file, version, since (every entry up to it
is applied), local entries applied ahead, how far it lags behind the log,
entries it rejected, whether its secondary indexes are built, and when and why
it was last (re)built. The lag is measured against DIR/log, or --log/--ssb;
a negative lag means the view is ahead of the log (the log lost entries or
was replaced), and a note on stderr says so.`,
		Example: `  sluice views
  sluice views --ssb ~/.ssb --json`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			infos, err := listViews(c.Context(), e, &src)
			if err != nil {
				return err
			}
			for _, v := range infos {
				if v.Lag != nil && *v.Lag < 0 {
					e.notef("view %s is %d entries ahead of the log: it shows entries up to seq %d, the log ends at seq %d (the log lost entries or was replaced)",
						v.Name, -*v.Lag, v.Since, int64(v.Since)+*v.Lag)
				}
			}
			if asJSON {
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(infos)
			}
			tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VIEW\tFILE\tVERSION\tSINCE\tAHEAD\tLAG\tREJECTS\tINDEXES\tREBUILT")
			for _, v := range infos {
				lag := "?"
				if v.Lag != nil {
					lag = strconv.FormatInt(*v.Lag, 10)
					if *v.Lag < 0 {
						lag += " (ahead)"
					}
				}
				idx := "pending"
				if v.IndexesBuilt {
					idx = "built"
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%s\t%d\t%s\t%s (%s)\n", v.Name, v.File, v.Version, v.Since, v.Ahead, lag, v.Rejects, idx, v.RebuiltAt, v.RebuildReason)
			}
			return tw.Flush()
		},
	}
	src.add(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the list as JSON")
	return c
}

func listViews(ctx context.Context, e *env, sf *sourceFlags) ([]viewInfo, error) {
	db, err := query.OpenDir(e.viewsDir(), query.Options{})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var last *log.Seq
	if src, closer, _, err := sf.open(e); err == nil {
		if l, err := src.Last(); err == nil {
			last = &l
		} else {
			e.notef("cannot measure the views' lag: %v", err)
		}
		closer.Close()
	} else if sf.logPath != "" || sf.ssbPath != "" {
		return nil, err
	} else if !errors.Is(err, errNoLog) {
		e.notef("cannot measure the views' lag: %v", err)
	}
	var out []viewInfo
	for _, f := range db.Files() {
		q := fmt.Sprintf(`SELECT name, version, since, indexes_built, rebuilt_at, rebuild_reason,
			(SELECT count(*) FROM %[1]s.sluice_ahead a WHERE a.view = v.name),
			(SELECT count(*) FROM %[1]s.sluice_rejects r WHERE r.view = v.name)
			FROM %[1]s.sluice_views v ORDER BY name`, strconv.Quote(f.Name))
		rows, err := db.SQL().QueryContext(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Path, err)
		}
		for rows.Next() {
			v := viewInfo{File: f.Path}
			if err := rows.Scan(&v.Name, &v.Version, &v.Since, &v.IndexesBuilt, &v.RebuiltAt, &v.RebuildReason, &v.Ahead, &v.Rejects); err != nil {
				rows.Close()
				return nil, err
			}
			if last != nil {
				lag := int64(*last) - int64(v.Since)
				v.Lag = &lag
			}
			out = append(out, v)
		}
		rows.Close()
	}
	return out, nil
}
