package bench

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
)

// synthGen makes synthetic SSB messages shaped like ssb-fixtures' (the
// same fields, in the same order): a few fresh authors each writing their
// feed from sequence 1, with posts, votes, contacts, abouts, other and
// private messages linking to keys and feeds of the base log and to
// earlier synthetic messages. Keys are unique: a hash of the seed and a
// counter.
type synthGen struct {
	rng     *rand.Rand
	seed    uint64
	n       uint64
	ts      float64
	authors []synthAuthor
	keys    []string // message keys to link to
	feeds   []string // feeds to follow and mention
}

type synthAuthor struct {
	id   string
	seq  int64
	prev string
}

// newSynthGen returns a generator with nAuthors fresh authors. keys and
// feeds (of the base log) are linked to; either may be empty.
func newSynthGen(seed uint64, nAuthors int, keys, feeds []string, startTS float64) *synthGen {
	g := &synthGen{rng: rand.New(rand.NewPCG(seed, 0x5eed)), seed: seed, ts: startTS}
	for i := range max(nAuthors, 1) {
		h := sha256.Sum256(fmt.Appendf(nil, "sluice bench author %d %d", seed, i))
		g.authors = append(g.authors, synthAuthor{id: "@" + base64.StdEncoding.EncodeToString(h[:]) + ".ed25519"})
	}
	g.keys = append([]string(nil), keys...)
	g.feeds = append([]string(nil), feeds...)
	for _, a := range g.authors {
		g.feeds = append(g.feeds, a.id)
	}
	return g
}

// synthValue is value of an SSB message, fields in ssb's order.
type synthValue struct {
	Previous  *string         `json:"previous"`
	Sequence  int64           `json:"sequence"`
	Author    string          `json:"author"`
	Timestamp float64         `json:"timestamp"`
	Hash      string          `json:"hash"`
	Content   json.RawMessage `json:"content"`
	Signature string          `json:"signature"`
}

type synthMessage struct {
	Key       string     `json:"key"`
	Value     synthValue `json:"value"`
	Timestamp float64    `json:"timestamp"`
}

var synthWords = strings.Fields("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua sluice flume log view index")

// next returns the payload of the next message.
func (g *synthGen) next() []byte {
	g.n++
	var nb [16]byte
	binary.BigEndian.PutUint64(nb[:8], g.seed)
	binary.BigEndian.PutUint64(nb[8:], g.n)
	kh := sha256.Sum256(append([]byte("sluice bench message"), nb[:]...))
	key := "%" + base64.StdEncoding.EncodeToString(kh[:]) + ".sha256"
	a := &g.authors[g.rng.IntN(len(g.authors))]
	a.seq++
	g.ts += 1 + float64(g.rng.IntN(1000))
	var prev *string
	if a.prev != "" {
		p := a.prev
		prev = &p
	}
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(g.rng.UintN(256))
	}
	m := synthMessage{
		Key: key,
		Value: synthValue{
			Previous: prev, Sequence: a.seq, Author: a.id, Timestamp: g.ts, Hash: "sha256",
			Content:   g.content(a.id),
			Signature: base64.StdEncoding.EncodeToString(sig) + ".sig.ed25519",
		},
		Timestamp: g.ts + 0.001,
	}
	a.prev = key
	g.keys = append(g.keys, key)
	if len(g.keys) > 4096 {
		g.keys = g.keys[len(g.keys)-2048:]
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain structs of strings and numbers
	}
	return b
}

func (g *synthGen) key() string {
	if len(g.keys) == 0 {
		return "%" + strings.Repeat("A", 43) + "=.sha256"
	}
	return g.keys[g.rng.IntN(len(g.keys))]
}

func (g *synthGen) feed() string { return g.feeds[g.rng.IntN(len(g.feeds))] }

func (g *synthGen) text(min, max int) string {
	n := min + g.rng.IntN(max-min+1)
	var b strings.Builder
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(synthWords[g.rng.IntN(len(synthWords))])
	}
	return b.String()
}

// content returns the content of a message by author: 30% posts, 40%
// votes, 10% contacts, 5% abouts, 5% other, 10% private.
func (g *synthGen) content(author string) json.RawMessage {
	var v any
	switch r := g.rng.IntN(100); {
	case r < 30:
		type mention struct {
			Link string `json:"link"`
			Name string `json:"name"`
		}
		p := struct {
			Type     string    `json:"type"`
			Text     string    `json:"text"`
			Root     string    `json:"root,omitempty"`
			Branch   string    `json:"branch,omitempty"`
			Mentions []mention `json:"mentions,omitempty"`
		}{Type: "post", Text: g.text(20, 400)}
		if g.rng.IntN(3) == 0 {
			p.Root, p.Branch = g.key(), g.key()
		}
		if g.rng.IntN(4) == 0 {
			p.Mentions = []mention{{Link: g.feed(), Name: g.text(3, 10)}}
		}
		v = p
	case r < 70:
		type vote struct {
			Link       string `json:"link"`
			Value      int    `json:"value"`
			Expression string `json:"expression"`
		}
		v = struct {
			Type string `json:"type"`
			Vote vote   `json:"vote"`
		}{"vote", vote{g.key(), 1, "Like"}}
	case r < 80:
		v = struct {
			Type      string `json:"type"`
			Contact   string `json:"contact"`
			Following bool   `json:"following"`
		}{"contact", g.feed(), g.rng.IntN(5) != 0}
	case r < 85:
		v = struct {
			Type  string `json:"type"`
			About string `json:"about"`
			Name  string `json:"name"`
		}{"about", author, g.text(3, 20)}
	case r < 90:
		v = struct {
			Type   string `json:"type"`
			Number int    `json:"number"`
			Etc    string `json:"etc"`
		}{"other", g.rng.IntN(1000), "Does not matter"}
	default:
		box := make([]byte, 120+g.rng.IntN(400))
		for i := range box {
			box[i] = byte(g.rng.UintN(256))
		}
		v = base64.StdEncoding.EncodeToString(box) + ".box"
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
