// Package ssbtest generates synthetic Secure Scuttlebutt messages for tests:
// the field shapes real logs hold (float timestamps, private messages,
// string or object images, branch as string or array, mentions of both
// kinds, indented JSON from old ssb-db versions, copies of a message), from
// a seed, so a test can build logs of any size without npm.
package ssbtest

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
)

// Options shape a generated log.
type Options struct {
	Seed     uint64
	Messages int
	Authors  int
	// Copies is the share (0..1) of messages that repeat an earlier one
	// (same key), as a log fed twice by a careless import would hold.
	Copies float64
	// Indented is the share of messages written as 2-space-indented JSON.
	Indented float64
}

// Generate returns n SSB message payloads.
func Generate(o Options) [][]byte {
	if o.Authors <= 0 {
		o.Authors = 10
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	authors := make([]string, o.Authors)
	for i := range authors {
		authors[i] = "@" + id(rng) + ".ed25519"
	}
	seqs := make([]int64, o.Authors)
	var keys []string
	var out [][]byte
	ts := 1.7e12
	for len(out) < o.Messages {
		if len(out) > 0 && rng.Float64() < o.Copies {
			out = append(out, out[rng.IntN(len(out))])
			continue
		}
		a := rng.IntN(o.Authors)
		seqs[a]++
		ts += float64(rng.IntN(5000)) + 0.001*float64(rng.IntN(1000))
		key := "%" + id(rng) + ".sha256"
		content := randomContent(rng, authors, keys)
		msg := map[string]any{
			"key": key,
			"value": map[string]any{
				"previous": nil, "sequence": seqs[a], "author": authors[a],
				"timestamp": ts, "hash": "sha256", "content": content, "signature": id(rng) + ".sig.ed25519",
			},
			"timestamp": ts + 0.5,
		}
		var b []byte
		if rng.Float64() < o.Indented {
			b, _ = json.MarshalIndent(msg, "", "  ")
		} else {
			b, _ = json.Marshal(msg)
		}
		keys = append(keys, key)
		out = append(out, b)
	}
	return out
}

func id(rng *rand.Rand) string {
	var b [32]byte
	for i := 0; i < 32; i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	return base64.StdEncoding.EncodeToString(b[:])
}

func pick(rng *rand.Rand, list []string) string {
	if len(list) == 0 {
		return "%" + id(rng) + ".sha256"
	}
	return list[rng.IntN(len(list))]
}

func randomContent(rng *rand.Rand, authors, keys []string) any {
	switch r := rng.IntN(100); {
	case r < 10: // private
		return id(rng) + id(rng) + ".box"
	case r < 35:
		c := map[string]any{"type": "post", "text": fmt.Sprintf("post %d \u00e9 \"quoted\"", rng.IntN(1e6))}
		if rng.IntN(3) == 0 {
			c["root"] = pick(rng, keys)
			if rng.IntN(2) == 0 {
				c["branch"] = pick(rng, keys)
			} else {
				c["branch"] = []any{pick(rng, keys), pick(rng, keys), 7}
			}
		}
		if rng.IntN(4) == 0 {
			c["mentions"] = []any{map[string]any{"link": pick(rng, authors), "name": "x"}, pick(rng, keys), map[string]any{"nolink": 1}}
		}
		if rng.IntN(20) == 0 {
			c["fork"] = pick(rng, keys)
		}
		return c
	case r < 65:
		return map[string]any{"type": "vote", "vote": map[string]any{"link": pick(rng, keys), "value": rng.IntN(3) - 1, "expression": "Like"}}
	case r < 85:
		c := map[string]any{"type": "contact", "contact": pick(rng, authors[:min(len(authors), 8)])}
		switch rng.IntN(4) {
		case 0:
			c["following"] = true
		case 1:
			c["following"] = false
		case 2:
			c["blocking"] = rng.IntN(2) == 0
		default:
			c["following"] = rng.IntN(2) == 0
			c["blocking"] = rng.IntN(2) == 0
		}
		return c
	case r < 95:
		c := map[string]any{"type": "about", "about": pick(rng, authors[:min(len(authors), 5)])}
		if rng.IntN(2) == 0 {
			c["name"] = fmt.Sprintf("name-%d", rng.IntN(50))
		}
		if rng.IntN(3) == 0 {
			c["description"] = fmt.Sprintf("desc %d", rng.IntN(50))
		}
		switch rng.IntN(4) {
		case 0:
			c["image"] = "&" + id(rng) + ".sha256"
		case 1:
			c["image"] = map[string]any{"link": "&" + id(rng) + ".sha256", "size": 123}
		}
		return c
	default:
		return map[string]any{"type": "other", "n": rng.IntN(1000), "nested": map[string]any{"a": []any{1, "two", nil}}}
	}
}

// OffsetPayloads reads the payloads of a flumelog-offset file written with
// 4-byte trailers and no deleted records (such as the fixture in
// testdata/ssb), walking the frames itself: tests use it as an oracle that
// shares no code with package log/offset. It fails tb on error.
func OffsetPayloads(tb testing.TB, path string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var out [][]byte
	for off := 0; off+4 <= len(b); {
		n := int(binary.BigEndian.Uint32(b[off:]))
		if off+12+n > len(b) {
			tb.Fatalf("%s: frame at %d runs past the end", path, off)
		}
		out = append(out, b[off+4:off+4+n])
		off += 12 + n
	}
	return out
}
