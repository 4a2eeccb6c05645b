package replicate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/sluicedb/sluice/log"
)

// Hello is the first frame of a stream: who is sending, from where.
type Hello struct {
	// Node is the server's node id (32 hex digits).
	Node string `json:"node"`
	// After is the seq the stream starts after.
	After log.Seq `json:"after"`
	// Last is the server's last seq when the stream started.
	Last log.Seq `json:"last"`
	// Follow says the stream stays open and delivers new entries.
	Follow bool `json:"follow"`
	// HeartbeatMS is how often, in milliseconds, an idle following stream
	// sends a position frame; a client that hears nothing for a few of
	// them takes the connection for dead.
	HeartbeatMS int64 `json:"heartbeat_ms,omitempty"`
}

// heartbeat returns the interval the hello announces (0 if none).
func (h *Hello) heartbeat() time.Duration { return time.Duration(h.HeartbeatMS) * time.Millisecond }

// pulled is a checked record of a stream, kept in the frame reader's
// arena at off until its batch is appended.
type pulled struct {
	rec     log.StoredRecord // Payload is not used: it moves with the arena
	off, n  int              // the record's bytes in the arena
	payload int              // offset of the payload in the record
}

// event says what a frame did to a streamReader's state.
type event int

const (
	evRecord   event = iota // a record joined the current batch
	evBatch                 // a batch is complete (in ready)
	evHello                 // the hello frame
	evPosition              // a position frame (heartbeat)
	evEnd                   // the end frame: the stream is complete
)

// streamReader reads a stream and checks it: every record's checksum and
// fields (end to end: the bytes are the server's stored record), seqs
// increasing after the start, and every batch (the records of one of the
// server's Appends) complete before it is handed out. Not safe for
// concurrent use.
type streamReader struct {
	fr    *frameReader
	hello Hello
	node  log.NodeID // the server's, from the hello
	saw   bool       // the hello was read

	last     log.Seq // seq of the last record read (or the start)
	pos      log.Seq // every record up to pos is in ready or was filtered out
	peerLast log.Seq // the server's last seq, as last heard
	ended    bool

	pend  []pulled // the current batch, not complete yet
	ready []pulled // complete batches, in order
	ends  []int    // index in ready after the last record of each batch
	bytes int      // bytes of the records in ready
}

func newStreamReader(r io.Reader, maxFrame int) *streamReader {
	return &streamReader{fr: newFrameReader(r, maxFrame)}
}

// streamError is what a bad stream is: where it went wrong and why. The
// client wraps it with the peer.
type streamError struct {
	pos    log.Seq // the position reached: every entry up to it was read whole
	off    int64   // the byte offset in the stream of the bad frame
	reason string
	err    error // an underlying cause, if any
}

func (e *streamError) Error() string {
	return fmt.Sprintf("at position %d (stream byte %d): %s", e.pos, e.off, e.reason)
}

func (e *streamError) Unwrap() error { return e.err }

func (sr *streamReader) fail(off int64, err error, format string, args ...any) error {
	return &streamError{pos: sr.pos, off: off, reason: fmt.Sprintf(format, args...), err: err}
}

// next reads one frame and reports what it did. It returns io.EOF when the
// stream ends after its end frame, and a *streamError for anything wrong,
// a cut stream included; what is in ready stays good.
func (sr *streamReader) next() (event, error) {
	off := sr.fr.off
	if off == 0 {
		if err := sr.fr.magic(); err != nil {
			return 0, sr.fail(0, err, "%v", err)
		}
		off = sr.fr.off
	}
	typ, body, err := sr.fr.next()
	switch {
	case err == io.EOF && sr.ended:
		return 0, io.EOF
	case err == io.EOF || errors.Is(err, errCut):
		why := "the stream was cut"
		if sr.ended {
			why = "the stream was cut after its end frame"
		}
		if len(sr.pend) > 0 {
			why += fmt.Sprintf(" inside a batch (its %d records from seq %d are dropped)", len(sr.pend), sr.pend[0].rec.Seq)
		}
		return 0, sr.fail(off, io.ErrUnexpectedEOF, "%s", why)
	case err != nil:
		return 0, sr.fail(off, err, "frame %q: %v", typ, err)
	}
	if !sr.saw && typ != frameHello {
		return 0, sr.fail(off, nil, "the first frame is %q, not a hello", typ)
	}
	if sr.ended {
		return 0, sr.fail(off, nil, "a %q frame after the end frame", typ)
	}
	switch typ {
	case frameHello:
		if sr.saw {
			return 0, sr.fail(off, nil, "a second hello")
		}
		if err := json.Unmarshal(body, &sr.hello); err != nil {
			return 0, sr.fail(off, err, "bad hello: %v", err)
		}
		n, err := log.ParseNodeID(sr.hello.Node)
		if err != nil || n.IsZero() {
			return 0, sr.fail(off, err, "bad hello: node %q", sr.hello.Node)
		}
		sr.node, sr.saw = n, true
		sr.last, sr.pos, sr.peerLast = sr.hello.After, sr.hello.After, sr.hello.Last
		return evHello, nil
	case frameRecord:
		rec, err := log.DecodeRecord(body)
		if err != nil {
			return 0, sr.fail(off, err, "record after seq %d: %v", sr.last, err)
		}
		switch {
		case rec.Lost:
			return 0, sr.fail(off, nil, "record seq %d is a lost-entry placeholder", rec.Seq)
		case rec.Seq <= sr.last:
			return 0, sr.fail(off, nil, "record seq %d after seq %d: seqs must increase", rec.Seq, sr.last)
		}
		if rec.ID.IsZero() {
			rec.ID = log.ID{Node: sr.node, Seq: rec.Seq}
		}
		start := len(sr.fr.arena) - len(body)
		sr.pend = append(sr.pend, pulled{rec: rec, off: start, n: len(body), payload: len(body) - len(rec.Payload)})
		sr.pend[len(sr.pend)-1].rec.Payload = nil
		sr.last = rec.Seq
		if rec.More {
			return evRecord, nil
		}
		sr.complete(rec.Seq)
		return evBatch, nil
	case framePosition, frameEnd:
		pos, last, err := decodePosition(typ, body)
		if err != nil {
			return 0, sr.fail(off, err, "%q frame: %v", typ, err)
		}
		if pos < sr.last {
			return 0, sr.fail(off, nil, "%q frame at seq %d, behind seq %d already read", typ, pos, sr.last)
		}
		sr.last = pos
		if typ == framePosition {
			sr.peerLast = max(last, pos)
		} else {
			sr.ended = true
			sr.peerLast = max(sr.peerLast, pos)
		}
		// The server sends a position only where a batch ends: one whose
		// last record was not for us ends here.
		if len(sr.pend) > 0 {
			sr.complete(pos)
			return evBatch, nil
		}
		sr.pos = pos
		if sr.ended {
			return evEnd, nil
		}
		return evPosition, nil
	case frameError:
		return 0, sr.fail(off, nil, "the server reports: %s", body)
	default:
		return 0, sr.fail(off, nil, "unknown frame type %q", typ)
	}
}

// complete moves the current batch to ready; pos is where it ends.
func (sr *streamReader) complete(pos log.Seq) {
	for _, p := range sr.pend {
		sr.bytes += p.n
	}
	sr.ready = append(sr.ready, sr.pend...)
	sr.ends = append(sr.ends, len(sr.ready))
	sr.pend = sr.pend[:0]
	sr.pos = pos
}

// batchGroup is complete batches taken from a stream, with the arena that
// holds their records, to be appended.
type batchGroup struct {
	recs     []pulled
	ends     []int // index in recs after the last record of each batch
	bytes    int   // the records' bytes
	arena    []byte
	pos      log.Seq // the stream's position once they are appended
	peerLast log.Seq
	caughtUp bool // the stream has delivered what the server held at its start
}

// payload returns the payload of one of the group's records.
func (g *batchGroup) payload(p *pulled) []byte {
	return g.arena[p.off+p.payload : p.off+p.n : p.off+p.n]
}

// take hands out the complete batches read so far with the arena, and
// goes on in spare (an arena to reuse, or nil), moving the current batch's
// records there.
func (sr *streamReader) take(spare []byte) batchGroup {
	g := batchGroup{recs: sr.ready, ends: sr.ends, bytes: sr.bytes, arena: sr.fr.arena, pos: sr.pos, peerLast: sr.peerLast}
	next := spare[:0]
	if len(sr.pend) > 0 {
		start := sr.pend[0].off
		next = append(next, sr.fr.arena[start:]...)
		for i := range sr.pend {
			sr.pend[i].off -= start
		}
	}
	sr.fr.arena = next
	sr.ready, sr.ends, sr.bytes = make([]pulled, 0, len(g.recs)), make([]int, 0, len(g.ends)), 0
	return g
}

// buffered reports whether more of the stream is already read (a next
// would not block on the network).
func (sr *streamReader) buffered() bool { return sr.fr.r.Buffered() > 0 }
