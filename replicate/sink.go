package replicate

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"io"
	"time"

	"github.com/sluicedb/sluice/log"
)

// sink writes a stream in one of its two forms. Writes are buffered until
// flush.
type sink interface {
	hello(h Hello) error
	// entry writes an entry; rec is its record as stored (nil if the
	// iterator does not give it, for JSON lines only).
	entry(e log.Entry, rec []byte) error
	position(pos, last log.Seq) error
	end(pos log.Seq) error
	fail(msg string) error
	flush() error
}

// streamBuffer is the size of a stream's write buffer: a slow client costs
// the server this much, plus its iterator's read buffer.
const streamBuffer = 64 << 10

// binarySink writes the binary form (frame.go).
type binarySink struct {
	fw frameWriter
}

func newBinarySink(w io.Writer) *binarySink {
	s := &binarySink{fw: frameWriter{w: bufio.NewWriterSize(w, streamBuffer)}}
	s.fw.w.WriteString(streamMagic)
	return s
}

func (s *binarySink) hello(h Hello) error {
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	return s.fw.frame(frameHello, b)
}

func (s *binarySink) entry(_ log.Entry, rec []byte) error { return s.fw.frame(frameRecord, rec) }

func (s *binarySink) position(pos, last log.Seq) error {
	return s.fw.position(framePosition, pos, last)
}

func (s *binarySink) end(pos log.Seq) error { return s.fw.position(frameEnd, pos, 0) }
func (s *binarySink) fail(msg string) error { return s.fw.frame(frameError, []byte(msg)) }
func (s *binarySink) flush() error          { return s.fw.w.Flush() }

// JSONEntry is an entry as a line of the JSON lines form. A payload that
// is valid JSON is inlined as Payload; any other is PayloadBase64 (standard
// encoding, with padding).
type JSONEntry struct {
	Type          string          `json:"type"` // "entry"
	Seq           log.Seq         `json:"seq"`
	ID            string          `json:"id"`            // NODE/SEQ: the node that first appended it, its seq there
	Via           string          `json:"via,omitempty"` // NODE/SEQ: the peer it was pulled through, its seq there
	Origin        string          `json:"origin"`        // local or remote, in the server's log
	Time          string          `json:"time,omitempty"`
	Scope         string          `json:"scope,omitempty"`
	Payload       json.RawMessage `json:"payload,omitempty"`
	PayloadBase64 string          `json:"payload_base64,omitempty"`
}

// jsonlSink writes JSON lines: one object per line, each with a "type":
// hello, entry, position, end or error.
type jsonlSink struct {
	w   *bufio.Writer
	enc *json.Encoder
}

func newJSONLSink(w io.Writer) *jsonlSink {
	bw := bufio.NewWriterSize(w, streamBuffer)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	return &jsonlSink{w: bw, enc: enc}
}

func (s *jsonlSink) hello(h Hello) error {
	return s.enc.Encode(struct {
		Type string `json:"type"`
		Hello
	}{"hello", h})
}

// ToJSON returns e as a JSONEntry.
func ToJSON(e log.Entry) JSONEntry {
	j := JSONEntry{Type: "entry", Seq: e.Seq, ID: e.ID.String(), Origin: e.Origin.String(), Scope: e.Scope}
	if !e.Via.IsZero() {
		j.Via = e.Via.String()
	}
	if !e.Time.IsZero() {
		j.Time = e.Time.UTC().Format(time.RFC3339Nano)
	}
	if json.Valid(e.Payload) {
		j.Payload = e.Payload
	} else {
		j.PayloadBase64 = base64.StdEncoding.EncodeToString(e.Payload)
	}
	return j
}

func (s *jsonlSink) entry(e log.Entry, _ []byte) error { return s.enc.Encode(ToJSON(e)) }

func (s *jsonlSink) position(pos, last log.Seq) error {
	return s.enc.Encode(struct {
		Type     string  `json:"type"`
		Position log.Seq `json:"position"`
		Last     log.Seq `json:"last"`
	}{"position", pos, last})
}

func (s *jsonlSink) end(pos log.Seq) error {
	return s.enc.Encode(struct {
		Type     string  `json:"type"`
		Position log.Seq `json:"position"`
	}{"end", pos})
}

func (s *jsonlSink) fail(msg string) error {
	return s.enc.Encode(struct {
		Type    string `json:"type"`
		Message string `json:"message"`
	}{"error", msg})
}

func (s *jsonlSink) flush() error { return s.w.Flush() }
