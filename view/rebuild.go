package view

import (
	"fmt"
	"strings"
	"time"

	"github.com/sluicedb/sluice/log"
)

// attach registers v in the file: it creates v's tables if the file has no
// record of v, rebuilds them if v's version or schema changed, and opens
// v's writer.
func (f *File) attach(v View) error {
	vs := &viewState{v: v, local: acceptsLocalAhead(v), sandboxed: isSandboxed(v), ahead: map[log.Seq]struct{}{}}
	vs.dec, _ = v.(Decoder)
	f.views = append(f.views, vs)
	m, found, err := f.loadMeta(v.Name())
	if err != nil {
		return err
	}
	fp := viewFingerprint(v)
	switch {
	case !found:
		err = f.create(vs, nil, "new view")
	case m.fingerprint == "":
		reason := m.rebuildReason
		if reason == "" {
			reason = "rebuild requested"
		}
		err = f.create(vs, &m, reason)
	case m.version != v.Version():
		err = f.create(vs, &m, fmt.Sprintf("version changed from %d to %d", m.version, v.Version()))
	case m.fingerprint != fp:
		err = f.create(vs, &m, "schema changed")
	default:
		vs.m = m
		if err := f.loadAhead(vs); err != nil {
			return err
		}
		if m.indexFP != fingerprint(0, v.Indexes()) {
			err = f.dropIndexes(vs)
		} else if m.localAhead != vs.local {
			vs.m.localAhead = vs.local
			err = f.saveMeta(vs.m)
		}
	}
	if err != nil {
		return fmt.Errorf("view %q: %w", v.Name(), err)
	}
	f.publish(vs)
	if err := f.openWriter(vs); err != nil {
		return fmt.Errorf("view %q: open writer: %w", v.Name(), err)
	}
	return nil
}

// openWriter opens the view's writer (in its sandbox, if it has one).
func (f *File) openWriter(vs *viewState) error {
	what := func() string { return fmt.Sprintf("view %q in %s: Open", vs.v.Name(), f.path) }
	return f.as(vs, false, func() error {
		return f.guard(what, func() error {
			w, err := vs.v.Open(f.wc)
			vs.w = w
			return err
		})
	})
}

// Rebuild drops the named view's tables and creates them empty, so the
// indexer applies the whole log again. reason is recorded in the meta.
func (f *File) Rebuild(name, reason string) error {
	vs := f.view(name)
	if vs == nil {
		return fmt.Errorf("rebuild: no view %q in %s", name, f.path)
	}
	if err := f.Commit(); err != nil {
		return err
	}
	if vs.w != nil {
		if err := vs.w.Close(); err != nil {
			return err
		}
		vs.w = nil
	}
	old := vs.m
	if err := f.create(vs, &old, reason); err != nil {
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	if err := f.openWriter(vs); err != nil {
		return fmt.Errorf("rebuild view %q: open writer: %w", name, err)
	}
	return nil
}

// create drops the objects of the view's old incarnation (if old is set)
// and runs its schema, all in one transaction: a broken statement leaves
// the file as it was.
func (f *File) create(vs *viewState, old *meta, reason string) error {
	v := vs.v
	if err := f.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	m, err := f.createTx(vs, old, reason)
	if err != nil {
		f.exec("ROLLBACK")
		return err
	}
	if err := f.exec("COMMIT"); err != nil {
		return err
	}
	vs.m = m
	vs.ahead = map[log.Seq]struct{}{}
	f.publish(vs)
	if old != nil {
		f.opts.Logf("view %q in %s: %s; rebuilding it from the log", v.Name(), f.path, reason)
	}
	return nil
}

func (f *File) createTx(vs *viewState, old *meta, reason string) (meta, error) {
	v := vs.v
	if old != nil {
		if err := f.dropObjects(append(old.indexObjects, old.objects...)); err != nil {
			return meta{}, err
		}
	}
	before, err := f.objectNames()
	if err != nil {
		return meta{}, err
	}
	err = f.as(vs, true, func() error {
		for i, stmt := range v.Schema() {
			if err := f.exec(stmt); err != nil {
				return fmt.Errorf("schema statement %d (%s): %w", i+1, abbrev(stmt), err)
			}
		}
		return nil
	})
	if err != nil {
		return meta{}, err
	}
	objects, err := f.newObjects(before)
	if err != nil {
		return meta{}, err
	}
	m := meta{
		name: v.Name(), version: v.Version(), fingerprint: viewFingerprint(v),
		indexFP: fingerprint(0, v.Indexes()), objects: objects, localAhead: vs.local,
		rebuiltAt: time.Now().UTC().Format(time.RFC3339), rebuildReason: reason,
	}
	if err := f.saveMeta(m); err != nil {
		return meta{}, err
	}
	for _, q := range []string{`DELETE FROM sluice_ahead WHERE view = ?`, `DELETE FROM sluice_rejects WHERE view = ?`} {
		if err := f.execArgs(q, v.Name()); err != nil {
			return meta{}, err
		}
	}
	return m, nil
}

// BuildIndexes creates the secondary indexes (View.Indexes) of every view
// that does not have them yet, one index per transaction. The indexer calls
// BuildIndexStep instead, to apply local entries between the steps.
func (f *File) BuildIndexes() error {
	for {
		more, err := f.BuildIndexStep()
		if err != nil || !more {
			return err
		}
	}
}

// BuildIndexStep creates the next missing secondary index of the file's
// views, in its own transaction, and reports whether any is left to build.
func (f *File) BuildIndexStep() (bool, error) {
	if err := f.Commit(); err != nil {
		return false, err
	}
	for _, vs := range f.views {
		if vs.m.indexesBuilt {
			continue
		}
		if err := f.buildIndex(vs); err != nil {
			return false, fmt.Errorf("view %q: build indexes: %w", vs.v.Name(), err)
		}
		return true, nil
	}
	return false, nil
}

// IndexesPending reports whether some view lacks secondary indexes.
func (f *File) IndexesPending() bool {
	for _, vs := range f.views {
		if !vs.m.indexesBuilt {
			return true
		}
	}
	return false
}

// sortPragmas tune index builds: SQLite's sorter keeps runs as big as the
// page cache and merges linked lists, so with a small cache the runs fit
// the CPU caches and two threads sort them (measured on the 600k SSB log:
// CREATE UNIQUE INDEX messages_key 740 -> 340 ms, links_to_key 900 -> 420
// ms). restorePragmas puts the writer's page cache back.
const sortPragmas = "PRAGMA cache_size=-2000; PRAGMA threads=2"

func (f *File) restorePragmas() error {
	return f.exec(fmt.Sprintf("PRAGMA cache_size=-%d; PRAGMA threads=0", f.opts.CacheSizeKiB))
}

// buildIndex builds the view's next missing index (or, if it has none
// left, just records that its indexes are built).
func (f *File) buildIndex(vs *viewState) error {
	if err := f.exec(sortPragmas); err != nil {
		return err
	}
	defer f.restorePragmas()
	if err := f.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	m := vs.m
	err := func() error {
		stmts := vs.v.Indexes()
		if i := m.indexesDone; i < len(stmts) {
			before, err := f.objectNames()
			if err != nil {
				return err
			}
			err = f.as(vs, false, func() error {
				if ib, ok := vs.w.(IndexBuilder); ok {
					return ib.BuildIndex(&Tx{conn: f.wc, view: vs.v.Name(), indexesDone: i}, i)
				}
				return f.exec(stmts[i])
			})
			if err != nil {
				return fmt.Errorf("index statement %d (%s): %w", i+1, abbrev(stmts[i]), err)
			}
			objs, err := f.newObjects(before)
			if err != nil {
				return err
			}
			m.indexObjects = append(append([]string(nil), m.indexObjects...), objs...)
			m.indexesDone++
		}
		m.indexesBuilt = m.indexesDone >= len(stmts)
		m.indexFP = fingerprint(0, stmts)
		return f.saveMeta(m)
	}()
	if err != nil {
		f.exec("ROLLBACK")
		return err
	}
	if err := f.exec("COMMIT"); err != nil {
		return err
	}
	vs.m = m
	f.publish(vs)
	return nil
}

// dropIndexes drops a view's secondary indexes (their definition changed);
// BuildIndexes makes them again.
func (f *File) dropIndexes(vs *viewState) error {
	if err := f.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	m := vs.m
	err := f.dropObjects(m.indexObjects)
	if err == nil {
		m.indexObjects, m.indexesBuilt, m.indexesDone, m.indexFP, m.localAhead = nil, false, 0, fingerprint(0, vs.v.Indexes()), vs.local
		err = f.saveMeta(m)
	}
	if err != nil {
		f.exec("ROLLBACK")
		return err
	}
	if err := f.exec("COMMIT"); err != nil {
		return err
	}
	vs.m = m
	f.publish(vs)
	return nil
}

// objectNames returns "type name" for every schema object but SQLite's own.
func (f *File) objectNames() (map[string]bool, error) {
	s, err := f.conn.Prepare(`SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite\_%' ESCAPE '\'`)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows, err := s.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names := map[string]bool{}
	for rows.Next() {
		names[rows.Text(0)+" "+rows.Text(1)] = true
	}
	return names, rows.Err()
}

func (f *File) newObjects(before map[string]bool) ([]string, error) {
	after, err := f.objectNames()
	if err != nil {
		return nil, err
	}
	var objs []string
	for o := range after {
		if !before[o] {
			objs = append(objs, o)
		}
	}
	sortObjects(objs)
	return objs, nil
}

// sortObjects orders objects so that dropping them in order works:
// triggers, views and indexes before tables.
func sortObjects(objs []string) {
	rank := func(o string) int {
		switch {
		case strings.HasPrefix(o, "trigger "):
			return 0
		case strings.HasPrefix(o, "view "):
			return 1
		case strings.HasPrefix(o, "index "):
			return 2
		}
		return 3
	}
	for i := 1; i < len(objs); i++ {
		for j := i; j > 0 && (rank(objs[j]) < rank(objs[j-1]) || rank(objs[j]) == rank(objs[j-1]) && objs[j] < objs[j-1]); j-- {
			objs[j], objs[j-1] = objs[j-1], objs[j]
		}
	}
}

func (f *File) dropObjects(objs []string) error {
	objs = append([]string(nil), objs...)
	sortObjects(objs)
	for _, o := range objs {
		typ, name, ok := strings.Cut(o, " ")
		if !ok {
			continue
		}
		stmt := fmt.Sprintf(`DROP %s IF EXISTS "%s"`, strings.ToUpper(typ), strings.ReplaceAll(name, `"`, `""`))
		if err := f.exec(stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	return nil
}

func abbrev(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
