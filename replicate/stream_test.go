package replicate

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicedb/sluice/log"
)

// rawRecords returns the records of l as stored.
func rawRecords(t *testing.T, l *log.Log) [][]byte {
	t.Helper()
	it, err := l.Iter(1)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out [][]byte
	for it.Next() {
		out = append(out, bytes.Clone(it.(log.RawIterator).Raw()))
	}
	return out
}

func helloBytes(t *testing.T, node log.NodeID, after, last log.Seq) []byte {
	t.Helper()
	b, err := json.Marshal(Hello{Node: node.String(), After: after, Last: last})
	if err != nil {
		t.Fatal(err)
	}
	return frameBytes('h', b)
}

// TestBadStreams: a server sends a stream that is cut or damaged at some
// point. The client appends every batch complete before it and nothing of
// the bad part, and fails with an error naming the peer and the position
// reached (and matching ErrBadStream).
func TestBadStreams(t *testing.T) {
	src := openLog(t)
	appendBatch(t, src, 1, 3, nil) // seqs 1-3: one Append
	appendBatch(t, src, 4, 2, nil) // 4-5
	appendBatch(t, src, 6, 1, nil) // 6
	recs := rawRecords(t, src)
	node := src.Node()
	r := func(i int) []byte { return frameBytes('r', recs[i-1]) }
	flipped := bytes.Clone(recs[3])
	flipped[len(flipped)-2] ^= 0x01
	end := func(pos uint64) []byte { return frameBytes('z', binary.AppendUvarint(nil, pos)) }
	pos := func(p, last uint64) []byte {
		return frameBytes('p', binary.AppendUvarint(binary.AppendUvarint(nil, p), last))
	}
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	magic := []byte(streamMagic)
	hello := helloBytes(t, node, 0, 6)
	all := join(magic, hello, r(1), r(2), r(3), r(4), r(5), r(6))
	cutInR5 := len(join(magic, hello, r(1), r(2), r(3), r(4))) + 5

	cases := []struct {
		name        string
		body        []byte
		contentType string
		appended    int     // entries the device holds after
		position    log.Seq // the error's position
		says        string  // in the error; "" for no error
	}{
		{"intact", join(all, end(6)), "", 6, 6, ""},
		{"cut inside a frame", all[:cutInR5], "", 3, 3, "inside a batch"},
		{"cut inside a batch", join(magic, hello, r(1), r(2), r(3), r(4)), "", 3, 3, "its 1 records from seq 4 are dropped"},
		{"cut without its end frame", all, "", 6, 6, "the stream was cut"},
		{"cut inside the magic line", magic[:5], "", 0, 0, "ends before its first line"},
		{"checksum", join(magic, hello, r(1), r(2), r(3), frameBytes('r', flipped), r(5), r(6), end(6)), "", 3, 3, "checksum mismatch"},
		{"seq going back", join(magic, hello, r(1), r(2), r(3), r(2), r(4)), "", 3, 3, "seqs must increase"},
		{"unknown frame", join(magic, hello, r(1), r(2), r(3), frameBytes('x', []byte("?")), r(4)), "", 3, 3, "unknown frame type 'x'"},
		{"frame too large", join(magic, hello, r(1), r(2), r(3), []byte{'r'}, binary.AppendUvarint(nil, 1<<40)), "", 3, 3, "frame too large"},
		{"no hello", join(magic, r(1), r(2), r(3)), "", 0, 0, "not a hello"},
		{"server error", join(magic, hello, r(1), r(2), r(3), frameBytes('e', []byte("disk on fire")), r(4)), "", 3, 3, "the server reports: disk on fire"},
		{"not a sluice stream", []byte("HTTP/1.1 200 OK, and some text\n"), "", 0, 0, "not a sluice stream"},
		{"hello of another node", join(magic, helloBytes(t, log.NodeID{7}, 0, 6), r(1)), "", 0, 0, "the hello says node"},
		{"bytes after the end frame are not read", join(magic, hello, r(1), r(2), r(3), end(3), r(4)), "", 3, 3, ""},
		{"position going back", join(magic, hello, r(1), r(2), r(3), r(4), r(5), pos(4, 6)), "", 5, 5, "behind seq 5"},
		{"a batch closed by a position", join(magic, hello, r(1), r(2), r(3), r(4), pos(5, 6), end(6)), "", 4, 6, ""},
		{"wrong content type", join(all, end(6)), "text/plain", 0, 0, "not application/x-sluice-stream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/status" {
					json.NewEncoder(w).Encode(Status{Node: node.String(), Last: 6})
					return
				}
				ct := tc.contentType
				if ct == "" {
					ct = ContentTypeStream
				}
				w.Header().Set("Content-Type", ct)
				w.Write(tc.body)
			}))
			dev := openLog(t)
			c := newClient(t, dev, ClientOptions{})
			_, err := c.Pull(context.Background(), Peer{URL: url})
			got := entries(t, dev)
			if len(got) != tc.appended {
				t.Fatalf("the device holds %d entries, want %d (err %v)", len(got), tc.appended, err)
			}
			checkMirror(t, got, entries(t, src)[:tc.appended], node, nil)
			if tc.says == "" {
				if err != nil {
					t.Fatal(err)
				}
				if p := c.Peers()[0].Position; p != tc.position {
					t.Fatalf("position %d, want %d", p, tc.position)
				}
				return
			}
			pe := isPeerError(t, err, url)
			if !errors.Is(err, ErrBadStream) {
				t.Fatalf("err %v does not match ErrBadStream", err)
			}
			if pe.Position != tc.position || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("err %q (position %d), want position %d and %q", err, pe.Position, tc.position, tc.says)
			}
			if !strings.Contains(err.Error(), url) {
				t.Fatalf("err %q does not name the peer", err)
			}
		})
	}
}
