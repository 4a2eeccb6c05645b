package sqlview_test

import (
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/sqlview"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestRebuildEqualsLive: the SQL views of testdata/views, indexed one entry
// per batch and in one batch, give the same tables and reject the same
// entries.
func TestRebuildEqualsLive(t *testing.T) {
	payloads := ssbtest.Generate(ssbtest.Options{Seed: 8, Messages: 1500, Authors: 6, Copies: 0.02})
	var entries []log.Entry
	for i, p := range payloads {
		if i%250 == 0 {
			entries = append(entries, log.Entry{Payload: []byte(`{"value": not json`)})
		}
		entries = append(entries, log.Entry{Payload: p})
	}
	for i := range entries {
		entries[i].Seq = log.Seq(i + 1)
		entries[i].Time = time.UnixMilli(1.7e12 + int64(i))
	}
	viewtest.RebuildEqualsLive(t, func() []view.View { return exampleViews(t) }, entries, 0)
}

// exampleViews loads the SQL views of testdata/views.
func exampleViews(t *testing.T) []view.View {
	t.Helper()
	var vs []view.View
	for _, name := range []string{"posts", "votes"} {
		v, err := sqlview.Load("../../testdata/views/" + name + ".sql")
		if err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}
