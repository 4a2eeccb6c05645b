package view

import (
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// Sandboxed is implemented by views whose SQL comes from outside the
// program, such as views declared in SQL files (package view/sqlview). A
// view file compiles such a view's statements — its schema, its indexes
// and its writer's — in a sandbox: they may read any table, but write,
// create, alter and drop only the view's own objects, and may not attach
// or detach files, create temporary objects, begin or end transactions,
// run PRAGMAs that change the file, or call load_extension. A statement
// that tries fails, with an error naming it and what it tried.
//
// Views written in Go are not sandboxed: their code can do anything the
// program can.
type Sandboxed interface {
	Sandboxed() bool
}

// isSandboxed reports whether v declares Sandboxed.
func isSandboxed(v View) bool {
	s, ok := v.(Sandboxed)
	return ok && s.Sandboxed()
}

// authorize is the authorizer of the file's connection: everything is
// allowed but while a sandboxed view's statements compile (see as).
func (f *File) authorize(action int, arg1, arg2, db, trigger string) bool {
	if f.sandbox == nil {
		return true
	}
	return f.sandbox.Authorize(action, arg1, arg2, db, trigger)
}

// as runs fn, which compiles or runs statements of vs's view, in the
// view's sandbox if it is sandboxed; create allows creating tables (the
// schema). A refused statement's error says why.
func (f *File) as(vs *viewState, create bool, fn func() error) error {
	if !vs.sandboxed {
		return fn()
	}
	own := map[string]bool{}
	for _, o := range append(append([]string(nil), vs.m.objects...), vs.m.indexObjects...) {
		if _, name, ok := strings.Cut(o, " "); ok {
			own[strings.ToLower(name)] = true
		}
	}
	sb := &sqlite.Sandbox{Own: own, Create: create, Reserved: []string{"sluice_"}}
	f.sandbox = sb
	err := fn()
	f.sandbox = nil
	if err != nil && sb.Denied != "" {
		err = fmt.Errorf("%w: %s", err, sb.Denied)
	}
	return err
}
