package ssb_test

import (
	"testing"
	"time"

	"github.com/sluicedb/sluice/internal/ssbtest"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/viewtest"
)

// TestRebuildEqualsLive: the SSB view set and the SQL examples of
// testdata/views, indexed one entry per batch and in big batches, give the
// same tables (copies of messages, indented JSON and local entries
// included).
func TestRebuildEqualsLive(t *testing.T) {
	payloads := ssbtest.Generate(ssbtest.Options{Seed: 5, Messages: 2500, Authors: 9, Copies: 0.03, Indented: 0.05})
	payloads = append(payloads, []byte(`{"not":"an ssb message"}`), []byte(`[1,2`))
	entries := make([]log.Entry, len(payloads))
	for i, p := range payloads {
		o := log.Remote
		if i%9 == 0 {
			o = log.Local
		}
		entries[i] = log.Entry{Seq: log.Seq(i + 1), Origin: o, Time: time.UnixMilli(1.7e12 + int64(i)), Payload: p}
	}
	for _, batch := range []int{0, 700} {
		viewtest.RebuildEqualsLive(t, func() []view.View { return allViews(t) }, entries, batch)
	}
}
