package main

import (
	"strings"
	"testing"
	"time"
)

// TestFlagValues: invalid flag values are usage errors (exit 2) that name
// the flag; --timeout 0 means "check once": it succeeds when the seq is
// visible and fails at once when it is not. (Before: a negative --timeout
// and --backlog-share NaN were accepted, and --timeout 0 failed even when
// the seq was visible.)
func TestFlagValues(t *testing.T) {
	dir := kvDir(t, `{"k":"a","v":"x"}`, `{"k":"b","v":"y"}`)
	for _, c := range []struct {
		flag string
		args []string
	}{
		{"--timeout", []string{"query", "--wait", "1", "--timeout", "-1s", "SELECT 1"}},
		{"--timeout", []string{"append", "--wait", "--timeout", "-5ms", "--json", "1"}},
		{"--backlog-share", []string{"index", "--backlog-share", "NaN"}},
		{"--backlog-share", []string{"index", "--backlog-share", "-Inf"}},
		{"--batch", []string{"import", "--batch", "0", "-"}},
	} {
		r := sluice(t, dir, "", c.args...)
		if r.code != 2 || !strings.Contains(r.err, c.flag) {
			t.Errorf("sluice %s: exit %d, %q; want a usage error naming %s", strings.Join(c.args, " "), r.code, r.err, c.flag)
		}
	}
	if got := ok(t, dir, "", "query", "--csv", "--wait", "2", "--timeout", "0", "SELECT count(*) FROM kv"); got != "count(*)\n2\n" {
		t.Errorf("query --wait 2 --timeout 0 printed %q", got)
	}
	start := time.Now()
	r := sluice(t, dir, "", "query", "--wait", "3", "--timeout", "0", "SELECT 1")
	if r.code != 1 || !strings.Contains(r.err, "did not show seq 3 within 0s") || r.out != "" {
		t.Errorf("query --wait 3 --timeout 0 beyond the log: %+v", r)
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("query --wait --timeout 0 took %s", el)
	}
}
