package log_test

import (
	"context"
	"fmt"
	"os"

	"github.com/sluicedb/sluice/log"
)

func Example() {
	dir, _ := os.MkdirTemp("", "sluice-log")
	defer os.RemoveAll(dir)
	l, err := log.Open(dir, log.Options{Durability: log.SyncAlways})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	ctx := context.Background()
	seqs, _ := l.Append(ctx,
		log.Record{Origin: log.Remote, Payload: []byte(`{"n":1}`)},
		log.Record{Origin: log.Local, Payload: []byte(`{"n":2}`)})
	fmt.Println(seqs)

	it, _ := l.Iter(1)
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		fmt.Println(e.Seq, e.Origin, string(e.Payload))
	}
	// Output:
	// [1 2]
	// 1 remote {"n":1}
	// 2 local {"n":2}
}

// An entry first appended to this log is identified by this log's node and
// its seq; a replicated one keeps the ID it has where it was first
// appended, and may carry the peer it came through and a scope.
func Example_identity() {
	dir, _ := os.MkdirTemp("", "sluice-log")
	defer os.RemoveAll(dir)
	l, err := log.Open(dir, log.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	author, _ := log.ParseNodeID("0123456789abcdef0123456789abcdef")
	peer, _ := log.ParseNodeID("fedcba9876543210fedcba9876543210")
	ctx := context.Background()
	l.Append(ctx, log.Record{Origin: log.Local, Payload: []byte(`{"mine":1}`)})
	l.Append(ctx, log.Record{Payload: []byte(`{"theirs":1}`),
		Author: log.ID{Node: author, Seq: 41}, Via: log.ID{Node: peer, Seq: 7}, Scope: "user:7777"})

	it, _ := l.Iter(1)
	defer it.Close()
	for it.Next() {
		e := it.Entry()
		fmt.Printf("seq %d: ours %v, ID seq %d, via %v, scope %q\n", e.Seq, e.ID.Node == l.Node(), e.ID.Seq, e.Via, e.Scope)
	}
	// Output:
	// seq 1: ours true, ID seq 1, via 00000000000000000000000000000000/0, scope ""
	// seq 2: ours false, ID seq 41, via fedcba9876543210fedcba9876543210/7, scope "user:7777"
}
