package view_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// typedKV is viewtest.KV with its writer written for view.Typed: the
// same statements, the values as viewtest.Pair without an assertion.
type typedKV struct{ *viewtest.KV }

func (kv typedKV) Open(c *view.Conn) (view.Writer, error) {
	n := kv.ViewName
	set, err := c.Prepare(fmt.Sprintf(`INSERT INTO %s_kv(k, v, seq) VALUES (?, ?, ?)
		ON CONFLICT(k) DO UPDATE SET v = excluded.v, seq = excluded.seq WHERE excluded.seq > seq`, n))
	if err != nil {
		return nil, err
	}
	add, err := c.Prepare(fmt.Sprintf(`INSERT INTO %s_log(seq, k, origin) VALUES (?, ?, ?)`, n))
	if err != nil {
		return nil, err
	}
	return view.Typed[viewtest.Pair](&typedKVWriter{set: set, add: add}), nil
}

type typedKVWriter struct{ set, add *view.Stmt }

func (w *typedKVWriter) Apply(ctx context.Context, tx *view.Tx, items []view.TypedItem[viewtest.Pair]) error {
	for _, it := range items {
		w.set.Text(it.Value.K)
		w.set.Text(it.Value.V)
		w.set.Int(int64(it.Seq))
		w.add.Int(int64(it.Seq))
		w.add.Text(it.Value.K)
		w.add.Text(it.Origin.String())
	}
	if err := w.set.Exec(); err != nil {
		return err
	}
	return w.add.Exec()
}

func (w *typedKVWriter) Close() error {
	w.set.Close()
	w.add.Close()
	return nil
}

// kvEntries are n entries for the KV views: keys k0..k36, some local, and
// every 50th a payload Decode rejects.
func kvEntries(n int) []log.Entry {
	es := make([]log.Entry, n)
	for i := range es {
		es[i] = log.Entry{Seq: log.Seq(i + 1), Origin: log.Remote, Payload: viewtest.Payload(fmt.Sprintf("k%d", i%37), fmt.Sprint(i))}
		if i%7 == 3 {
			es[i].Origin = log.Local
		}
		if i%50 == 49 {
			es[i].Payload = []byte(`{"v":"no key"}`)
		}
	}
	return es
}

// applyAll indexes entries into a new file of views at path, in batches
// of size, and returns the file's dump.
func applyAll(t testing.TB, path string, views []view.View, entries []log.Entry, size int) string {
	t.Helper()
	f, err := view.OpenFile(path, views, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	prev := log.Seq(0)
	for i := 0; i < len(entries); i += size {
		es := entries[i:min(i+size, len(entries))]
		b := &view.Batch{Entries: es, From: prev + 1, To: es[len(es)-1].Seq}
		if err := f.Apply(context.Background(), b); err != nil {
			t.Fatal(err)
		}
		prev = b.To
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := viewtest.Dump(path)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTypedWriterSameTables: a view whose writer goes through view.Typed
// gives the tables (and rejects) of the same writer with the assertion,
// viewtest.KV, and keeps the rebuild-equals-live property.
func TestTypedWriterSameTables(t *testing.T) {
	es := kvEntries(500)
	dir := t.TempDir()
	want := applyAll(t, filepath.Join(dir, "any.db"), []view.View{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}, es, 64)
	got := applyAll(t, filepath.Join(dir, "typed.db"), []view.View{typedKV{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}}, es, 64)
	if got != want {
		t.Fatalf("typed (-) and untyped (+) writers give different files:\n%s", viewtest.Diff(got, want))
	}
	viewtest.RebuildEqualsLive(t, func() []view.View { return []view.View{typedKV{&viewtest.KV{ViewName: "kv", ViewVersion: 1}}} }, es, 0)
}

// wrongType decodes entries as strings; its writer takes ints.
type wrongType struct{}

func (wrongType) Name() string                                                 { return "wrong" }
func (wrongType) Version() int                                                 { return 1 }
func (wrongType) Schema() []string                                             { return []string{`CREATE TABLE wrong(n INTEGER)`} }
func (wrongType) Indexes() []string                                            { return nil }
func (wrongType) Decode(e log.Entry) (any, error)                              { return string(e.Payload), nil }
func (wrongType) Open(c *view.Conn) (view.Writer, error)                       { return view.Typed[int](intWriter{}), nil }
func (intWriter) Apply(context.Context, *view.Tx, []view.TypedItem[int]) error { return nil }
func (intWriter) Close() error                                                 { return nil }

type intWriter struct{}

// TestTypedWrongTypeFails: a Decode whose values are not the writer's T
// fails the batch with an error naming the view, the seq and both types,
// and applies nothing.
func TestTypedWrongTypeFails(t *testing.T) {
	f, err := view.OpenFile(filepath.Join(t.TempDir(), "w.db"), []view.View{wrongType{}}, view.Options{Logf: func(string, ...any) {}})
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	err = f.Apply(context.Background(), &view.Batch{Entries: []log.Entry{{Seq: 1, Payload: []byte("x")}}, From: 1, To: 1})
	if err == nil {
		t.Fatal("Apply of a string to a Typed[int] writer: no error")
	}
	for _, want := range []string{`"wrong"`, "seq 1", "string", "int"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %s", err, want)
		}
	}
	if since := f.MinSince(); since != 0 {
		t.Errorf("since after the failed batch: %d, want 0", since)
	}
}

// builder and checker are TypedWriters with the optional Writer methods.
type (
	plain   struct{ intWriter }
	builder struct {
		intWriter
		built *[]int
	}
	checker     struct{ intWriter }
	builderChkr struct {
		builder
		checker
	}
)

func (b builder) BuildIndex(tx *view.Tx, i int) error { *b.built = append(*b.built, i); return nil }
func (checker) Check(context.Context, view.CheckTask) (string, error) {
	return "checked", nil
}

// Apply and Close resolve the ambiguity of the two embedded writers.
func (builderChkr) Apply(context.Context, *view.Tx, []view.TypedItem[int]) error { return nil }
func (builderChkr) Close() error                                                 { return nil }

// TestTypedKeepsOptionalMethods: the Writer Typed returns is an
// IndexBuilder or a Checker exactly when the TypedWriter is, and calls it.
func TestTypedKeepsOptionalMethods(t *testing.T) {
	var built []int
	for _, tc := range []struct {
		name       string
		w          view.TypedWriter[int]
		ib, checks bool
	}{
		{"plain", plain{}, false, false},
		{"builder", builder{built: &built}, true, false},
		{"checker", checker{}, false, true},
		{"both", builderChkr{builder{built: &built}, checker{}}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := view.Typed(tc.w)
			ib, isIB := w.(view.IndexBuilder)
			ch, isCh := w.(view.Checker)
			if isIB != tc.ib || isCh != tc.checks {
				t.Fatalf("IndexBuilder %v, Checker %v; want %v, %v", isIB, isCh, tc.ib, tc.checks)
			}
			if isIB {
				built = nil
				if err := ib.BuildIndex(nil, 3); err != nil || len(built) != 1 || built[0] != 3 {
					t.Fatalf("BuildIndex(3) reached %v, %v", built, err)
				}
			}
			if isCh {
				if r, err := ch.Check(context.Background(), view.CheckTask{}); r != "checked" || err != nil {
					t.Fatalf("Check: %q, %v", r, err)
				}
			}
		})
	}
}
