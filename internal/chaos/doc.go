// Package chaos is sluice's fault suite for sync: a fault proxy that sits
// between devices and a server on 127.0.0.1, a harness that runs the
// server and the devices as real sluice processes and kills them, and a
// checker that decides, from the logs and views alone, whether the
// guarantees held once the faults stop.
//
// # The proxy
//
// A Proxy forwards HTTP from one loopback listener per device to the
// server. For each request a Decider picks a Fault: pass it through, drop
// the request before the server sees it, let the server apply it and drop
// its answer, delay the request or the answer, answer 500/502/503 itself,
// or reset the connection part-way through the answer (a following stream
// too). Partition cuts one device off for a while: its new requests and
// the bytes of its open streams are held until Heal, as a network that
// drops packets would hold them. Every fault injected is counted by kind
// (Counts).
//
// # Schedules and replay
//
// A Schedule is made from a seed: the timeline of process and network
// events (kill -9 and restart of the server or a device, a torn log tail,
// a partition) and, per device, the stream of per-request faults. The same
// seed gives the same schedule; a failing run prints the seed, the
// schedule and the first violated rule, so it can be run again.
package chaos
