package offset_test

import (
	"encoding/json"
	"fmt"

	"github.com/sluicedb/sluice/log/offset"
)

// Example reads the SSB log in testdata and counts its messages by type.
func Example() {
	l, err := offset.Open("../../testdata/ssb/flume/log.offset")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	it, err := l.Iter(1)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer it.Close()
	var posts, total int
	for it.Next() {
		var msg struct {
			Value struct {
				Content struct{ Type string }
			}
		}
		// Private messages have a string as content: they decode with
		// an error and an empty type.
		_ = json.Unmarshal(it.Entry().Payload, &msg)
		if msg.Value.Content.Type == "post" {
			posts++
		}
		total++
	}
	if err := it.Err(); err != nil {
		fmt.Println(err)
		return
	}
	last, _ := l.Last()
	fmt.Println("messages:", total, "posts:", posts, "last seq:", last)
	// Output: messages: 3000 posts: 734 last seq: 3000
}
