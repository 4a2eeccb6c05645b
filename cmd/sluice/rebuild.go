package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
)

// sqlViewInfo is the key under which sluice index records, in a SQL view's
// file, the path of the .sql file it was loaded from.
const sqlViewInfo = "sql-view-path"

func newRebuildCmd(e *env) *cobra.Command {
	var o indexOptions
	c := &cobra.Command{
		Use:   "rebuild VIEW",
		Short: "Drop a view's tables and index it again from the log",
		Long: `Drop the tables of VIEW (ssb, or the name of a SQL view) and index it again
from the log, from the first entry. The SQL file of a SQL view is the one
sluice index last loaded it from; give --view FILE to use another.

A view a Go program keeps in a file of its own with other views (package
sluice keeps them in views/app.db) has its tables dropped; the program
rebuilds it from the log when it next opens the file.

No sluice index may be running on DIR/views meanwhile.`,
		Example: `  sluice rebuild ssb --ssb ~/.ssb/flume/log.offset
  sluice rebuild posts --view testdata/views/posts.sql`,
		Args: exactArgs(1, "the name of one view"),
		RunE: func(c *cobra.Command, args []string) error {
			return runRebuild(c.Context(), e, args[0], &o)
		},
	}
	f := c.Flags()
	o.src.add(f)
	f.StringArrayVar(&o.views, "view", nil, "the SQL view file defining VIEW (default: where sluice index loaded it from)")
	return c
}

func runRebuild(ctx context.Context, e *env, name string, o *indexOptions) error {
	path := e.viewFilePath(name)
	if !fileExists(path) {
		return rebuildInAppFile(ctx, e, name)
	}
	o.replace = len(o.views) > 0 // the definition given replaces the recorded one
	if len(o.views) == 0 {
		def := name
		if !slices.Contains(builtinViews, name) {
			var err error
			def, err = recordedDefinition(path)
			if err != nil {
				return err
			}
			if def == "" {
				return usagef("view %q: no SQL file recorded for it; give it with --view FILE", name)
			}
		}
		o.views = []string{def}
	}
	views, err := resolveViews(o.views)
	if err != nil {
		return err
	}
	if len(views) != 1 || views[0].Name() != name {
		return usagef("--view must define the view %q (it defines %q)", name, views[0].Name())
	}
	lock, err := e.lockViews()
	if err != nil {
		return err
	}
	if err := e.checkViewFiles(views, o.replace); err != nil {
		lock.Unlock()
		return err
	}
	err = view.MarkRebuild(path, name, "rebuild requested with sluice rebuild")
	lock.Unlock()
	if err != nil {
		return err
	}
	return runIndex(ctx, e, o)
}

// rebuildInAppFile marks for rebuild a view kept in a file with another
// name, such as views/app.db, where a Go program (package sluice) keeps its
// views: the program rebuilds it from the log when it next opens the file.
func rebuildInAppFile(ctx context.Context, e *env, name string) error {
	views, err := listViews(ctx, e, &sourceFlags{})
	if err != nil && !errors.Is(err, query.ErrNoViews) {
		return err
	}
	for _, v := range views {
		if v.Name != name {
			continue
		}
		lock, err := e.lockViews()
		if err != nil {
			return err
		}
		defer lock.Unlock()
		if err := view.MarkRebuild(v.File, name, "rebuild requested with sluice rebuild"); err != nil {
			return err
		}
		e.notef("view %q in %s: its tables are dropped; the program that keeps %s rebuilds it from the log when it next opens the file", name, v.File, filepath.Base(v.File))
		return nil
	}
	return fmt.Errorf("no view %q in %s (sluice views lists the views)", name, e.viewsDir())
}

// recordedDefinition returns the SQL file sluice index loaded a view from.
func recordedDefinition(path string) (string, error) {
	f, err := view.OpenFile(path, nil, view.Options{SkipCheck: true})
	if err != nil {
		return "", err
	}
	defer f.Close()
	return f.Info(sqlViewInfo)
}
