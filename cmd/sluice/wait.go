package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
)

// waitVisible opens DIR/views and waits until its views show the entry at
// seq; it returns the open views. Views an indexer has not created yet are
// waited for too: the directory may hold no view file yet, or files with
// no view in them. before, if not nil, is called once the views are open,
// before the wait; an error from it ends the wait.
//
// The views waited for are those named, else those the running sluice
// index maintains (a view file no indexer writes, left from another run,
// would never show seq), else all of them (an indexer may be starting).
// A timeout says which views do not show seq, and whether an indexer runs.
func waitVisible(ctx context.Context, e *env, seq log.Seq, views []string, timeout time.Duration, before func(*query.DB) error) (*query.DB, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	t := time.NewTicker(newViewsPoll)
	defer t.Stop()
	db, err := query.OpenDir(e.viewsDir(), query.Options{})
	if errors.Is(err, query.ErrNoViews) && waitingForViews != nil {
		waitingForViews()
	}
	for errors.Is(err, query.ErrNoViews) {
		select {
		case <-t.C:
			db, err = query.OpenDir(e.viewsDir(), query.Options{})
		case <-ctx.Done():
			return nil, waitError(e, fmt.Errorf("%w: %w", err, ctx.Err()), seq, timeout, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	if before != nil {
		if err := before(db); err != nil {
			db.Close()
			return nil, err
		}
	}
	wdb := db
	if ix := e.runningIndexer(); len(views) == 0 && ix != nil {
		views = ix.names()
		if wdb, err = query.Open(ix.files(), query.Options{}); err != nil {
			db.Close()
			return nil, err
		}
		defer wdb.Close()
	}
	if err := wdb.WaitFor(ctx, seq, views...); err != nil {
		err = waitError(e, err, seq, timeout, func() []string { return notShowing(wdb, seq, views) })
		db.Close()
		return nil, err
	}
	return db, nil
}

// checkWaitViews refuses, before anything is written, view names that no
// view in DIR/views has and the running indexer does not maintain either —
// as far as that can be known: while no view file exists yet, or a file
// holds no view yet (an indexer is starting), every name is accepted, and
// the wait names what is missing.
func checkWaitViews(ctx context.Context, e *env, names []string) error {
	if len(names) == 0 {
		return nil
	}
	known := map[string]bool{}
	if ix := e.runningIndexer(); ix != nil {
		for _, n := range ix.names() {
			known[n] = true
		}
	}
	db, err := query.OpenDir(e.viewsDir(), query.Options{})
	if err != nil {
		return nil // no views yet: an indexer may create them
	}
	defer db.Close()
	since, err := db.Since(ctx)
	if err != nil {
		return nil // a file without views yet
	}
	for n := range since {
		known[n] = true
	}
	for _, n := range names {
		if !known[n] {
			all := slices.Sorted(maps.Keys(known))
			return usagef("--wait-view %q: no view of that name in %s (its views: %s); nothing was appended", n, e.viewsDir(), strings.Join(all, ", "))
		}
	}
	return nil
}

// waitingForViews, if set, is called when waitVisible found no views and
// starts waiting for an indexer to create them (tests).
var waitingForViews func()

// newViewsPoll is how often waitVisible looks for the first view file.
const newViewsPoll = 10 * time.Millisecond

// waitError explains a wait that ended without seq showing: which views do
// not show it (lagging, if not nil, lists them), why (as WaitFor saw it),
// and whether an indexer runs.
func waitError(e *env, err error, seq log.Seq, timeout time.Duration, lagging func() []string) error {
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	msg := fmt.Sprintf("the views did not show seq %d within %s", seq, timeout)
	if lagging != nil {
		if l := lagging(); len(l) > 0 {
			msg += "; not shown by " + strings.Join(l, ", ")
		}
	}
	if ix := e.runningIndexer(); ix != nil {
		msg += fmt.Sprintf(" (sluice index, pid %d, maintains %s)", ix.PID, strings.Join(ix.names(), ", "))
	} else {
		msg += fmt.Sprintf(" (no sluice index is running on %s: start sluice index --follow)", e.viewsDir())
	}
	if err != context.DeadlineExceeded {
		msg += ": " + err.Error() // why, as WaitFor saw it
	}
	return errors.New(msg)
}

// notShowing lists the views of db (those named, if any) whose since is
// before seq, with their since: "kv (since 3)".
func notShowing(db *query.DB, seq log.Seq, views []string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	since, err := db.Since(ctx)
	if err != nil {
		return nil
	}
	var out []string
	for name, s := range since {
		if s < seq && (len(views) == 0 || slices.Contains(views, name)) {
			out = append(out, fmt.Sprintf("%s (since %d)", name, s))
		}
	}
	sort.Strings(out)
	return out
}
