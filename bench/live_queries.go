package bench

import (
	"fmt"
	"slices"

	"github.com/sluicedb/sluice/log/offset"
	"github.com/sluicedb/sluice/view/ssb"
)

// liveQuery is a query the live benchmark keeps open.
type liveQuery struct {
	Kind string
	SQL  string
	Args []any
}

// liveKinds are the queries an SSB app could keep live, in the mix the
// benchmark opens (round robin). During an initial sync the views have no
// secondary index yet: "feed" and "thread" scan their table on every run
// until the indexes are built; // "latest" (newest by claimed time) reads as many rows of the type as
// there are; "followers" reads contacts, which fill only at the end of a
// catch-up;
// "name" is a primary-key lookup.
var liveKinds = []liveKind{
	{"feed", `SELECT count(*), max(sequence) FROM messages WHERE author_id = (SELECT id FROM authors WHERE feed = ?)`},
	{"thread", `SELECT count(*) FROM links WHERE to_key = ? AND rel = 'root'`},
	{"latest", `SELECT seq, key FROM messages WHERE type = ? ORDER BY claimed_ts DESC LIMIT 10`},
	{"followers", `SELECT count(*) FROM contacts WHERE contact = ? AND following = 1`},
	{"name", `SELECT name FROM abouts WHERE about = ?1 AND author_id = (SELECT id FROM authors WHERE feed = ?1)`},
}

type liveKind struct{ name, sql string }

// liveMeasured is the query whose latency the benchmark measures: the
// local author's message count and latest sequence, which every append
// changes.
func liveMeasured() liveQuery {
	return liveQuery{Kind: liveKinds[0].name, SQL: liveKinds[0].sql, Args: []any{localAuthor}}
}

// liveMix returns n queries of the kinds named (all if none) in turn,
// with feeds and keys of the source log as arguments.
func liveMix(n int, names []string, feeds, keys []string) ([]liveQuery, error) {
	kinds := liveKinds
	if len(names) > 0 {
		kinds = nil
		for _, name := range names {
			i := slices.IndexFunc(liveKinds, func(k liveKind) bool { return k.name == name })
			if i < 0 {
				return nil, fmt.Errorf("no live query kind %q (want feed, thread, latest, followers or name)", name)
			}
			kinds = append(kinds, liveKinds[i])
		}
	}
	types := []string{"post", "vote", "contact", "about"}
	out := make([]liveQuery, n)
	for i := range out {
		k := kinds[i%len(kinds)]
		var arg string
		switch k.name {
		case "thread":
			arg = keys[i%len(keys)]
		case "latest":
			arg = types[i/len(kinds)%len(types)]
		default:
			arg = feeds[i%len(feeds)]
		}
		out[i] = liveQuery{Kind: k.name, SQL: k.sql, Args: []any{arg}}
	}
	return out, nil
}

// liveArgs reads the SSB log at path until it has seen n feeds, and
// returns them with the keys of the messages read (at most n).
func liveArgs(path string, n int) (feeds, keys []string, err error) {
	l, err := offset.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer l.Close()
	it, err := l.Iter(1)
	if err != nil {
		return nil, nil, err
	}
	defer it.Close()
	seen := map[string]bool{}
	var m ssb.Message
	for len(feeds) < n && it.Next() {
		if ssb.Decode(it.Entry().Payload, &m) != nil {
			continue
		}
		if len(keys) < n {
			keys = append(keys, m.Key)
		}
		if !seen[m.Author] {
			seen[m.Author] = true
			feeds = append(feeds, m.Author)
		}
	}
	if err := it.Err(); err != nil {
		return nil, nil, err
	}
	if len(feeds) == 0 {
		return nil, nil, fmt.Errorf("%s holds no SSB message", path)
	}
	return feeds, keys, nil
}
