package main

import (
	"context"
	"errors"
	"fmt"
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
