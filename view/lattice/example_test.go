package lattice_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/index"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
	"github.com/sluicedb/sluice/view/lattice"
)

// seedDeltas are the two backend messages of the chat example in the
// Swindon notes on lattices (seed 003): the rooms' state, then user 7777
// posting to room2 and marking it read in the same delta. (The seed's
// second message has a trailing comma, which JSON does not allow; it is
// left out here.)
var seedDeltas = []string{
	`{"sluice": "lattice", "namespace": "chat.rooms",
	  "shared": {
	    "room1": {"last_message_counter": 123},
	    "room2": {"last_message_counter": 245}},
	  "private": {
	    "7777": {
	      "room1": {"last_seen_counter": 120},
	      "room2": {"last_seen_counter": 245}},
	    "8734": {
	      "room1": {"last_seen_counter": 123},
	      "room2": {"last_seen_counter": 24}}}}`,
	`{"sluice": "lattice", "namespace": "chat.rooms",
	  "shared": {
	    "room2": {"last_message_counter": 246}},
	  "private": {
	    "7777": {
	      "room2": {"last_seen_counter": 246}}}}`,
}

// The seed's chat example: the backend's deltas go into a log, the
// lattice view merges them, and each user reads the merged dictionary of
// the namespace (shared keys and the user's own private keys), in the JSON
// the seed shows a client receiving.
func Example() {
	dir, _ := os.MkdirTemp("", "sluice-lattice")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	l, err := log.Open(filepath.Join(dir, "log"), log.Options{})
	if err != nil {
		panic(err)
	}
	defer l.Close()
	path := filepath.Join(dir, "lattice.db")
	f, err := view.OpenFile(path, []view.View{lattice.View{}}, view.Options{})
	if err != nil {
		panic(err)
	}
	defer f.Close()
	ix, err := index.New(l, []*view.File{f}, index.Options{})
	if err != nil {
		panic(err)
	}
	db, err := query.Open([]string{path}, query.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()

	show := func(user string) {
		d, err := lattice.Get(ctx, db.SQL(), "chat.rooms", user)
		if err != nil {
			panic(err)
		}
		msg, _ := json.Marshal([]any{"lattice", map[string]string{"namespace": "chat.rooms"}, d})
		fmt.Printf("%s: %s\n", user, msg)
	}
	for i, p := range seedDeltas {
		seqs, err := l.Append(ctx, log.Record{Origin: log.Remote, Payload: []byte(p)})
		if err != nil {
			panic(err)
		}
		if err := ix.SynchronizeUpTo(ctx, seqs[0]); err != nil {
			panic(err)
		}
		fmt.Printf("after delta %d\n", i+1)
		show("7777")
		show("8734")
	}

	// What the second delta changes for each user's devices.
	d, err := lattice.ParseDelta([]byte(seedDeltas[1]))
	if err != nil {
		panic(err)
	}
	for _, user := range []string{"7777", "8734"} {
		changed, _ := d.ForUser(user)
		msg, _ := json.Marshal([]any{"lattice", map[string]string{"namespace": d.Namespace}, changed})
		fmt.Printf("delta 2 for %s: %s\n", user, msg)
	}
	// Output:
	// after delta 1
	// 7777: ["lattice",{"namespace":"chat.rooms"},{"room1":{"last_message_counter":123,"last_seen_counter":120},"room2":{"last_message_counter":245,"last_seen_counter":245}}]
	// 8734: ["lattice",{"namespace":"chat.rooms"},{"room1":{"last_message_counter":123,"last_seen_counter":123},"room2":{"last_message_counter":245,"last_seen_counter":24}}]
	// after delta 2
	// 7777: ["lattice",{"namespace":"chat.rooms"},{"room1":{"last_message_counter":123,"last_seen_counter":120},"room2":{"last_message_counter":246,"last_seen_counter":246}}]
	// 8734: ["lattice",{"namespace":"chat.rooms"},{"room1":{"last_message_counter":123,"last_seen_counter":123},"room2":{"last_message_counter":246,"last_seen_counter":24}}]
	// delta 2 for 7777: ["lattice",{"namespace":"chat.rooms"},{"room2":{"last_message_counter":246,"last_seen_counter":246}}]
	// delta 2 for 8734: ["lattice",{"namespace":"chat.rooms"},{"room2":{"last_message_counter":246}}]
}
