package view_test

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// panicking is viewtest.KV whose Decode (inDecode) or writer's Apply
// panics, with a runtime error, on the entry at seq bad.
type panicking struct {
	viewtest.KV
	bad      log.Seq
	inDecode bool
}

func (v *panicking) Decode(e log.Entry) (any, error) {
	if v.inDecode && e.Seq == v.bad {
		var m map[string]int
		m["boom"]++ // a nil map: panics
	}
	return v.KV.Decode(e)
}

func (v *panicking) Open(c *view.Conn) (view.Writer, error) {
	w, err := v.KV.Open(c)
	return &panickingWriter{Writer: w, v: v}, err
}

type panickingWriter struct {
	view.Writer
	v *panicking
}

func (w *panickingWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		if !w.v.inDecode && it.Seq == w.v.bad {
			var m map[string]int
			m["boom"]++
		}
	}
	return w.Writer.Apply(ctx, tx, items)
}

// TestPanicInViewCodeIsAnApplyError: a panic in a view's Apply or Decode
// does not kill the program: it is recovered into a *view.PanicError (the
// value and the stack, which also goes to the file's notices) and handled
// like an Apply error: under StopOnError an *ApplyError naming the view
// and the entry, nothing of the batch committed; under RejectOnError the
// entry is rejected and the others applied. (Before the fix the panic
// took the test binary down.)
func TestPanicInViewCodeIsAnApplyError(t *testing.T) {
	const bad = 7
	for _, inDecode := range []bool{false, true} {
		for _, policy := range []view.ErrorPolicy{view.StopOnError, view.RejectOnError} {
			where := map[bool]string{false: "Apply", true: "Decode"}[inDecode]
			t.Run(where+"/"+policy.String(), func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "v.db")
				var n notices
				v := &panicking{KV: viewtest.KV{ViewName: "a", ViewVersion: 1}, bad: bad, inDecode: inDecode}
				f, err := view.OpenFile(path, []view.View{v}, view.Options{Logf: n.logf, OnError: policy})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				err = f.Apply(context.Background(), backlog(1, 10))
				db := readDB(t, path)
				if policy == view.RejectOnError {
					if err != nil {
						t.Fatalf("Apply: %v", err)
					}
					if got := queryInt(t, db, `SELECT count(*) FROM a_log WHERE seq != ?`, bad); got != 9 {
						t.Errorf("a_log holds %d of the 9 entries that did not panic", got)
					}
					if got := queryInt(t, db, `SELECT count(*) FROM sluice_rejects WHERE view = 'a' AND seq = ? AND error LIKE '%panic: %nil map%'`, bad); got != 1 {
						t.Errorf("entry %d not rejected with the panic", bad)
					}
				} else {
					var ae *view.ApplyError
					var pe *view.PanicError
					var re runtime.Error
					if !errors.As(err, &ae) || ae.View != "a" || ae.Seq != bad || !errors.As(err, &pe) || !errors.As(err, &re) {
						t.Fatalf("Apply: %v, want an ApplyError for view a at seq %d holding a PanicError of a runtime error", err, bad)
					}
					if !strings.Contains(string(pe.Stack), "panic_test.go") {
						t.Errorf("PanicError.Stack does not show where it panicked:\n%s", pe.Stack)
					}
					if got := queryInt(t, db, `SELECT count(*) FROM a_log`); got != 0 {
						t.Errorf("a_log holds %d entries of the failed batch, want 0", got)
					}
				}
				n.has(t, where)
				n.has(t, "panic_test.go")
			})
		}
	}
}
