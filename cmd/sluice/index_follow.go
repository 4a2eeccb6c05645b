package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	sluicedb "github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// openFollowing opens the views of sluice index --follow with package
// sluice, as a Go program embeds sluice: one DB whose indexer follows src
// from Open to Close, which stops it and closes the files, then the lock,
// in order. src is read only (sluice append and sync write the log
// meanwhile): Options.Source. close removes the record for waiters and
// closes the DB; it is idempotent.
//
// Without --follow, sluice index (and rebuild) opens the files and the
// indexer itself (openViewFiles): it indexes up to the log's end once,
// builds the secondary indexes and exits (index.Indexer.SynchronizeUpTo),
// which a DB, following its log for as long as it is open, does not do.
func (e *env) openFollowing(views []view.View, src log.Source, replace bool, iopts index.Options) (db *sluicedb.DB, close func() error, err error) {
	// Check the files under the views' lock, as openViewFiles does, before
	// any is opened (opening a rival definition would rebuild the view);
	// the DB takes the lock again.
	lock, err := e.lockViews()
	if err != nil {
		return nil, nil, err
	}
	err = e.checkViewFiles(views, replace)
	lock.Unlock()
	if err != nil {
		return nil, nil, err
	}
	db, err = sluicedb.Open(e.dir, sluicedb.Options{
		Views:       views,
		FilePerView: true,
		Source:      src,
		PrepareFile: func(f *view.File) error { return recordSQLPath(f, views) },
		Index:       iopts,
		Logger:      slog.New(noticeHandler{e: e}),
	})
	if errors.Is(err, sluicedb.ErrLocked) {
		return nil, nil, e.viewsLocked()
	}
	if err != nil {
		if inner := errors.Unwrap(err); inner != nil {
			err = inner // the command's messages name the directory where it matters
		}
		return nil, nil, err
	}
	removeInfo, err := e.recordIndexer(db.Files(), true)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	var closed bool
	var closeErr error
	return db, func() error {
		if !closed {
			closed = true
			removeInfo()
			closeErr = db.Close()
		}
		return closeErr
	}, nil
}

// follow waits until ctx ends (then it returns nil) or db's indexing
// stops with an error, which it returns.
func follow(ctx context.Context, db *sluicedb.DB) error {
	select {
	case <-ctx.Done():
	case <-db.Done():
	}
	return db.Err()
}

// noticeHandler prints a DB's notices (a view rebuilt and why, a full disk
// waited out) as the command prints its own: "sluice: MESSAGE", then the
// record's attributes. It drops records of level Error: the failures the
// command returns, and prints, itself (the DB's "indexing stopped" is the
// error its indexer returned).
type noticeHandler struct {
	e     *env
	attrs []slog.Attr
}

func (h noticeHandler) Enabled(_ context.Context, l slog.Level) bool {
	return l >= slog.LevelInfo && l < slog.LevelError
}

func (h noticeHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	h.e.notef("%s", b.String())
	return nil
}

func (h noticeHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return noticeHandler{e: h.e, attrs: append(append([]slog.Attr(nil), h.attrs...), attrs...)}
}

// WithGroup ignores groups: no notice uses them.
func (h noticeHandler) WithGroup(string) slog.Handler { return h }
