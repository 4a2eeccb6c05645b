package ssbtest

import (
	"os"
	"regexp"
	"strconv"
	"testing"
)

// Report holds the counts an ssb-fixtures report.md states (such as
// testdata/ssb/report.md, beside the fixture's log).
type Report struct {
	Total  int
	ByType map[string]int // content.type; "private" for boxed messages
}

var (
	reportTotalRE = regexp.MustCompile(`(?m)^There are (\d+) msgs in total`)
	reportTypeRE  = regexp.MustCompile(`(?m)^- There are (\d+) msgs of type "([^"]*)"$`)
)

// ReadReport parses the report.md at path. It fails tb if the file is
// missing or states no total or no counts per type.
func ReadReport(tb testing.TB, path string) Report {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	m := reportTotalRE.FindSubmatch(b)
	if m == nil {
		tb.Fatalf("%s: no total message count", path)
	}
	r := Report{ByType: map[string]int{}}
	r.Total, _ = strconv.Atoi(string(m[1]))
	for _, m := range reportTypeRE.FindAllSubmatch(b, -1) {
		n, _ := strconv.Atoi(string(m[1]))
		r.ByType[string(m[2])] += n
	}
	if len(r.ByType) == 0 {
		tb.Fatalf("%s: no counts per type", path)
	}
	return r
}
