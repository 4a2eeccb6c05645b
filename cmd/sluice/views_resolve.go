package main

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	sluicedb "github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/ssb"
	"github.com/sluicedb/sluice/view/tasks"
)

// resolveViews turns --view values into views: "ssb" is the built-in SSB
// view set, "lattice" the built-in lattice view, anything else a SQL view
// file.
func resolveViews(specs []string) ([]view.View, error) {
	if len(specs) == 0 {
		specs = []string{ssb.Name}
	}
	var out []view.View
	seen := map[string]string{}
	for _, s := range specs {
		var v view.View
		switch {
		case s == ssb.Name:
			v = ssb.View{}
		case s == tasks.Name:
			v = tasks.View{}
		case s == tasks.HandledName:
			v = tasks.Handled{}
		case s == lattice.Name:
			v = lattice.View{}
		case strings.HasSuffix(s, ".sql") || fileExists(s):
			sv, err := sqlview.Load(s)
			if err != nil {
				return nil, err
			}
			if err := checkSQLViewName(sv); err != nil {
				return nil, err
			}
			v = sv
		default:
			return nil, usagef("--view %q: not a built-in view (ssb, lattice, tasks, handled_tasks) nor a .sql view file", s)
		}
		// Names are compared as SQLite compares the schema names sluice
		// query attaches view files under: without case.
		key := strings.ToLower(v.Name())
		if prev, ok := seen[key]; ok {
			return nil, usagef("--view %q and %q both define a view named %q (view names must differ, also in more than case)", prev, s, v.Name())
		}
		seen[key] = s
		out = append(out, v)
	}
	return out, nil
}

// builtinViews are the names of the built-in views, which no SQL view may
// take: it would share their file and replace them.
var builtinViews = []string{ssb.Name, lattice.Name, tasks.Name, tasks.HandledName}

// checkSQLViewName refuses a SQL view named like a built-in view, like the
// Go views' file (app), or like a schema SQLite keeps for itself (sluice
// query attaches each view file under its view's name); without case.
func checkSQLViewName(v *sqlview.View) error {
	for _, b := range builtinViews {
		if strings.EqualFold(v.Name(), b) {
			return usagef("%s: the view is named %q, the name of a built-in view; give it another name in its -- sluice:view line", v.Path(), v.Name())
		}
	}
	switch strings.ToLower(v.Name()) {
	case sluicedb.AppFile:
		return usagef("%s: the view is named %q, the name of the file Go programs keep their views in (views/%s.db); give it another name in its -- sluice:view line", v.Path(), v.Name(), sluicedb.AppFile)
	case "main", "temp":
		return usagef("%s: the view is named %q, a name SQLite keeps for itself (sluice query could not attach it); give it another name in its -- sluice:view line", v.Path(), v.Name())
	}
	return nil
}

// checkViewFiles refuses to index a view into a file that holds another
// definition of it: a SQL view whose file was indexed from another .sql
// file with other contents (indexing one and then the other would rebuild
// the view each time), the built-in view over a SQL view's file, or a file
// whose name differs from the view's only in case. replace accepts a new
// definition (sluice rebuild --view).
func (e *env) checkViewFiles(views []view.View, replace bool) error {
	files, _ := filepath.Glob(filepath.Join(e.viewsDir(), "*.db"))
	for _, v := range views {
		for _, f := range files {
			if name := strings.TrimSuffix(filepath.Base(f), ".db"); name != v.Name() && strings.EqualFold(name, v.Name()) {
				return fmt.Errorf("view %q: %s holds a view whose name differs only in case, which sluice query cannot attach beside it; rename one of them", v.Name(), f)
			}
		}
		path := e.viewFilePath(v.Name())
		rec := recordedSQLPath(path)
		sv, isSQL := v.(*sqlview.View)
		switch {
		case rec == "" || replace:
		case !isSQL:
			return fmt.Errorf("%s holds the SQL view defined in %s, not the built-in view %s; move the file away to index %s there", path, rec, v.Name(), v.Name())
		default:
			p, _ := filepath.Abs(sv.Path())
			if p == rec || sameDefinition(p, rec) {
				continue
			}
			return fmt.Errorf("two SQL files define the view %q: %s, and %s, which %s was indexed from; indexing one and then the other would rebuild the view each time. Rename the view in one of them, or switch to %s with: sluice rebuild %s --view %s",
				v.Name(), sv.Path(), rec, path, sv.Path(), v.Name(), shellQuote(sv.Path()))
		}
	}
	return nil
}

// recordedSQLPath returns the .sql file sluice index recorded in the view
// file at path, or "" (no file, not a view file, a built-in view). It only
// reads the file.
func recordedSQLPath(path string) string {
	if !fileExists(path) {
		return ""
	}
	u := url.URL{Scheme: "file", Path: path, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite3", u.String())
	if err != nil {
		return ""
	}
	defer db.Close()
	var rec string
	if db.QueryRow(`SELECT value FROM sluice_file WHERE key = ?`, "info:"+sqlViewInfo).Scan(&rec) != nil {
		return ""
	}
	return rec
}

// sameDefinition reports whether the .sql file a defines what the
// recorded file b did: b holds the same bytes, or is gone (a was moved or
// renamed, and maybe edited since: a new version, not a rival).
func sameDefinition(a, b string) bool {
	x, err := os.ReadFile(a)
	if err != nil {
		return false
	}
	y, err := os.ReadFile(b)
	if errors.Is(err, os.ErrNotExist) {
		return true
	}
	return err == nil && bytes.Equal(x, y)
}

func fileExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir()
}

// viewFilePath is where the view named name is kept: one file per view, so
// that sluice query can attach each under its name.
func (e *env) viewFilePath(name string) string {
	return filepath.Join(e.viewsDir(), name+".db")
}

// lockViews takes the lock that keeps two writers off the view files.
func (e *env) lockViews() (*fsutil.FileLock, error) {
	if err := os.MkdirAll(e.viewsDir(), 0o755); err != nil {
		return nil, err
	}
	l, err := fsutil.Lock(filepath.Join(e.viewsDir(), "LOCK"))
	if errors.Is(err, fsutil.ErrLocked) {
		return nil, e.viewsLocked()
	}
	return l, err
}

// viewsLocked says who holds the views' lock.
func (e *env) viewsLocked() error {
	who := "another sluice process (sluice index or rebuild)"
	if ix := e.runningIndexer(); ix != nil {
		who = fmt.Sprintf("sluice index (pid %d", ix.PID)
		if ix.Follow {
			who += ", --follow"
		}
		who += ")"
	}
	return fmt.Errorf("%s is writing the views in %s; stop it first", who, e.viewsDir())
}

// openViewFiles takes the views' lock, checks the view files (see
// checkViewFiles; replace accepts a new definition), opens one file per
// view in DIR/views and records them for waiters (indexerInfo: follow says
// whether the indexer keeps going). release closes the files, removes the
// record and unlocks.
func (e *env) openViewFiles(views []view.View, replace, follow bool) ([]*view.File, func(), error) {
	lock, err := e.lockViews()
	if err != nil {
		return nil, nil, err
	}
	var files []*view.File
	removeInfo := func() {}
	release := func() {
		removeInfo()
		for _, f := range files {
			f.Close()
		}
		lock.Unlock()
	}
	fail := func(err error) ([]*view.File, func(), error) {
		release()
		return nil, nil, err
	}
	if err := e.checkViewFiles(views, replace); err != nil {
		return fail(err)
	}
	logf := func(format string, args ...any) { e.notef(format, args...) }
	for _, v := range views {
		f, err := view.OpenFile(e.viewFilePath(v.Name()), []view.View{v}, view.Options{Logf: logf})
		if err != nil {
			return fail(err)
		}
		files = append(files, f)
		if err := recordSQLPath(f, views); err != nil {
			return fail(err)
		}
	}
	if removeInfo, err = e.recordIndexer(files, follow); err != nil {
		removeInfo = func() {}
		return fail(err)
	}
	return files, release, nil
}

// recordSQLPath records in the view file f where its SQL view (one of
// views) was loaded from, for sluice rebuild and checkViewFiles.
func recordSQLPath(f *view.File, views []view.View) error {
	for _, v := range views {
		sv, ok := v.(*sqlview.View)
		if !ok || !slices.Contains(f.Names(), v.Name()) {
			continue
		}
		abs, err := filepath.Abs(sv.Path())
		if err == nil {
			err = f.SetInfo(sqlViewInfo, abs)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// recordIndexer records for waiters which views this process indexes, in
// which files (see indexerInfo; follow says whether it keeps going). The
// views' lock must be held; remove removes the record.
func (e *env) recordIndexer(files []*view.File, follow bool) (remove func(), err error) {
	info := &indexerInfo{PID: os.Getpid(), Follow: follow, Started: time.Now().UTC()}
	for _, f := range files {
		abs, err := filepath.Abs(f.Path()) // for waiters in other directories
		if err != nil {
			return nil, err
		}
		for _, name := range f.Names() {
			info.Views = append(info.Views, indexedView{Name: name, File: abs})
		}
	}
	return e.writeIndexerInfo(info)
}
