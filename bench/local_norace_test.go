//go:build !race

package bench

// localRace: see local_race_test.go.
const localRace = false
