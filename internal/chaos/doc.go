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
// drops packets would hold them. Every fault injected is counted by kind.
//
// # The harness
//
// Run starts sluice serve and Config.Devices sluice sync --follow
// processes of the binary given (each device in its own directory, behind
// its own listener of the proxy, with a token of its user's scope), and a
// workload: sluice append on the server (entries with no scope or a
// user's) and on every device (local entries, one call in four with
// durability none), and with Config.Tasks sluice task add and cancel on
// the devices. Meanwhile the Schedule's timeline kills the server or a
// device with SIGKILL and restarts it, tears the log tail of what it
// killed (a device, which pulls with durability none, loses records past
// its durable mark, cut mid-record; the server gets a partial record, as
// a write cut short), and partitions devices. The faults end with a kill
// of the server while every device is cut off; then every process runs
// again, and the time each device takes to hold everything it may read is
// measured. Every process is stopped with SIGINT before the checker reads
// the directories.
//
// # The checker
//
// Check judges a History (every node's log and views, and what the
// harness was told: the appends acknowledged, the cancels acknowledged,
// the tears, the processes that exited on their own) by Rules and
// TaskRules, and returns the violations, the first rule broken first. Each
// rule is tested against a hand-made history that breaks it.
//
// # Schedules and replay
//
// A Schedule is drawn from a seed: the timeline of events and, per device,
// the faults of its requests in the order it makes them; the workload is
// drawn from the same seed. A failing run prints the seed, the schedule,
// the first violated rule and what happened when, and make chaos
// CHAOS_SEED=N runs the same schedule again (the processes' timing, and so
// which request draws which fault, is the machine's).
package chaos
