//go:build race

package bench

// raceBuild: the tests build the sluice binary with -race too, so that
// make test (which runs with -race) reuses its one build of cgo SQLite.
const raceBuild = true
