package ssbtest

import "github.com/sluicedb/sluice/view/viewtest"

// Dump is viewtest.Dump: every table of a view file, rows sorted.
func Dump(path string) (string, error) { return viewtest.Dump(path) }

// Diff is viewtest.Diff: the first lines where two dumps differ.
func Diff(a, b string) string { return viewtest.Diff(a, b) }
