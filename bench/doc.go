// Package bench holds sluice's end-to-end benchmarks as a library: Config
// structs and Run functions, no mutable globals. The cobra commands in
// cmd/sluice only bind flags to these configs and print what comes back.
//
// The initial-sync benchmark (RunSync) measures `sluice index --ssb LOG`
// from an empty state in child processes (so peak RSS is the kernel's
// count for a real process), beside two floors measured the same way —
// read + decode with no SQLite (FloorDecode) and the SQLite writes with no
// parsing (FloorInsert) — and, optionally, the JavaScript ssb-db@20 stack
// catching up on the same log (bench/js/run.sh). The incremental benchmark
// (RunIncremental) appends batches of synthetic SSB messages to a native
// log whose views have caught up, and times how long the views take to
// show them. The local-first benchmark (RunLocal) indexes a big backlog in
// a child `sluice index --follow` while this process appends one local
// entry every 10 ms, and measures the time from Append to the entry's row
// being readable by another connection to the view file, by phase, with
// and without priority.
//
// Results come back as structs; WriteMarkdown and WriteSVG methods render
// them, and SaveSync and SaveIncremental write them under bench/results.
// See bench/README.md for the commands and the numbers.
package bench
