//go:build race

package bench

// localRace: the tests build the sluice binary with -race too, so that its
// packages come from the build cache the test binary filled.
const localRace = true
