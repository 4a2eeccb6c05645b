package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sluicedb/sluice/internal/fsutil"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/ssb"
)

// resolveViews turns --view values into views: "ssb" is the built-in SSB
// view set, anything else a SQL view file.
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
		case strings.HasSuffix(s, ".sql") || fileExists(s):
			sv, err := sqlview.Load(s)
			if err != nil {
				return nil, err
			}
			v = sv
		default:
			return nil, usagef("--view %q: not a built-in view (ssb) nor a .sql view file", s)
		}
		if prev, ok := seen[v.Name()]; ok {
			return nil, usagef("--view %q and %q both define a view named %q", prev, s, v.Name())
		}
		seen[v.Name()] = s
		out = append(out, v)
	}
	return out, nil
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
		return nil, fmt.Errorf("another sluice process is writing the views in %s (sluice index or rebuild); stop it first", e.viewsDir())
	}
	return l, err
}
