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
