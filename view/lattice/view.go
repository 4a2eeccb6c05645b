package lattice

import (
	"context"
	"errors"
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Name is the lattice view's name.
const Name = "lattice"

// View is the built-in lattice view: it merges the lattice deltas of a log
// (entries whose payload is a Delta's JSON) into the tables lattice_fields
// and lattice_set_members, and defines the SQL VIEWs lattice_state,
// lattice_shared and lattice_for_user over them (see the package doc).
// Entries that are not deltas are ignored; a malformed delta is rejected
// (recorded in sluice_rejects with a message naming the key and field) and
// changes nothing.
//
// It accepts local entries ahead of the backlog: every merge is
// commutative, associative and idempotent, so the tables are the same
// whatever order entries are applied in, and however often.
type View struct{}

var (
	_ view.View       = View{}
	_ view.Decoder    = View{}
	_ view.LocalAhead = View{}
)

// Name implements view.View.
func (View) Name() string { return Name }

// Version implements view.View. Bump it when the tables or what goes into
// them change: every lattice view is then rebuilt from the log.
func (View) Version() int { return 1 }

// PageSize asks for 4 KiB pages in a new file (view.PageSizer): few rows
// written in small transactions, whose WAL 16 KiB pages would quadruple.
func (View) PageSize() int { return 4096 }

// Schema implements view.View.
func (View) Schema() []string { return schema }

// Indexes implements view.View: the primary keys serve every lookup by
// namespace (and owner, key, field).
func (View) Indexes() []string { return nil }

// AcceptsLocalAhead implements view.LocalAhead.
func (View) AcceptsLocalAhead() bool { return true }

// Decode implements view.Decoder: it returns the entry's *Delta, nil for an
// entry that is not a delta, or the error that rejects a malformed one.
func (View) Decode(e log.Entry) (any, error) {
	d, err := ParseDelta(e.Payload)
	switch {
	case errors.Is(err, ErrNotDelta):
		return nil, nil
	case err != nil:
		return nil, err
	}
	return d, nil
}

// The writer's upserts: each merges one field of one delta into its row,
// by the rule of the field's kind, so rows come out the same in any order.
const (
	upsertCounter = `INSERT INTO lattice_fields(namespace, owner, key, field, kind, counter) VALUES (?, ?, ?, ?, 'counter', ?)
ON CONFLICT (namespace, owner, key, field) DO UPDATE SET counter = excluded.counter
WHERE excluded.counter > lattice_fields.counter`
	upsertRegister = `INSERT INTO lattice_fields(namespace, owner, key, field, kind, version, value) VALUES (?, ?, ?, ?, 'register', ?, ?)
ON CONFLICT (namespace, owner, key, field) DO UPDATE SET version = excluded.version, value = excluded.value
WHERE (excluded.version, excluded.value) > (lattice_fields.version, lattice_fields.value)`
	insertSet = `INSERT INTO lattice_fields(namespace, owner, key, field, kind) VALUES (?, ?, ?, ?, 'set')
ON CONFLICT (namespace, owner, key, field) DO NOTHING`
	insertMember = `INSERT INTO lattice_set_members(namespace, owner, key, field, member) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (namespace, owner, key, field, member) DO NOTHING`
)

type writer struct {
	counter, register, set, member *view.Stmt
}

// Open implements view.View.
func (View) Open(c *view.Conn) (view.Writer, error) {
	w := &writer{}
	for _, p := range []struct {
		s   **view.Stmt
		sql string
	}{
		{&w.counter, upsertCounter},
		{&w.register, upsertRegister},
		{&w.set, insertSet},
		{&w.member, insertMember},
	} {
		s, err := c.Prepare(p.sql)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.s = s
	}
	return w, nil
}

// Apply implements view.Writer. Items whose Value is nil are not deltas.
func (w *writer) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		d, _ := it.Value.(*Delta)
		if d == nil {
			continue
		}
		w.add(d.Namespace, "", d.Shared)
		for user, dict := range d.Private {
			w.add(d.Namespace, user, dict)
		}
	}
	for _, s := range []*view.Stmt{w.counter, w.register, w.set, w.member} {
		if err := s.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// add appends the rows that merge one owner's dictionary.
func (w *writer) add(ns, owner string, d Dict) {
	for key, fields := range d {
		for field, v := range fields {
			switch x := v.(type) {
			case Counter:
				w.row(w.counter, ns, owner, key, field)
				w.counter.Int(int64(x))
			case Register:
				w.row(w.register, ns, owner, key, field)
				w.register.Int(x.Version)
				w.register.TextBytes(x.Value)
			case Set:
				w.row(w.set, ns, owner, key, field)
				for _, m := range x {
					w.row(w.member, ns, owner, key, field)
					w.member.TextBytes(m)
				}
			}
		}
	}
}

// row appends the four columns that name a field.
func (w *writer) row(s *view.Stmt, ns, owner, key, field string) {
	s.Text(ns)
	s.Text(owner)
	s.Text(key)
	s.Text(field)
}

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range []*view.Stmt{w.counter, w.register, w.set, w.member} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}
