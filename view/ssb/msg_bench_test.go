package ssb

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

var benchData struct {
	once     sync.Once
	payloads [][]byte
	path     string
	checked  bool // decodeStd was checked against Decode
}

// benchPayloads returns the messages to benchmark: the log named by
// $SLUICE_BENCH_LOG, else the 100k-message log that bench/ssbgen/gen.sh
// 100000 250 sluice generates, else the repository's 3000-message fixture.
// The result is shared: callers must not modify it.
func benchPayloads(b *testing.B) [][]byte {
	b.Helper()
	benchData.once.Do(func() {
		path := os.Getenv("SLUICE_BENCH_LOG")
		if path == "" {
			path = filepath.Join("..", "..", "bench", ".data", "ssb-100000-250-sluice", "flume", "log.offset")
			if _, err := os.Stat(path); err != nil {
				path = fixturePath
			}
		}
		benchData.path = path
		benchData.payloads = readFrames(b, path)
	})
	if benchData.payloads == nil {
		b.Skipf("no SSB log at %s", benchData.path)
	}
	b.Logf("%d messages from %s", len(benchData.payloads), benchData.path)
	return benchData.payloads
}

// runDecodeBench runs decode over payloads, one message per op, reporting
// throughput in bytes of payload.
func runDecodeBench(b *testing.B, payloads [][]byte, decode func([]byte, *Message) error) {
	b.Helper()
	var m Message
	total := 0
	for _, p := range payloads {
		total += len(p)
	}
	b.SetBytes(int64(total / len(payloads)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := decode(payloads[i%len(payloads)], &m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	runDecodeBench(b, benchPayloads(b), Decode)
}

// BenchmarkDecodeIndented decodes the same messages written as older ssb-db
// versions did, with JSON.stringify(msg, null, 2).
func BenchmarkDecodeIndented(b *testing.B) {
	compact := benchPayloads(b)
	payloads := make([][]byte, len(compact))
	for i, p := range compact {
		var buf bytes.Buffer
		if err := json.Indent(&buf, p, "", "  "); err != nil {
			b.Fatal(err)
		}
		payloads[i] = buf.Bytes()
	}
	runDecodeBench(b, payloads, Decode)
}

// BenchmarkDecodeEncodingJSON is the baseline: the same fields extracted
// with encoding/json into structs.
func BenchmarkDecodeEncodingJSON(b *testing.B) {
	payloads := benchPayloads(b)
	if !benchData.checked {
		checkSameAsDecode(b, payloads, decodeStd)
		benchData.checked = true
	}
	runDecodeBench(b, payloads, decodeStd)
}

// checkSameAsDecode makes sure a benchmarked alternative computes what Decode
// does on the benchmark's messages.
func checkSameAsDecode(b *testing.B, payloads [][]byte, decode func([]byte, *Message) error) {
	b.Helper()
	var m1, m2 Message
	for i, p := range payloads {
		if err := Decode(p, &m1); err != nil {
			b.Fatalf("message %d: Decode: %v", i, err)
		}
		if err := decode(p, &m2); err != nil {
			b.Fatalf("message %d: %v", i, err)
		}
		if f1, f2 := fieldsOf(&m1), fieldsOf(&m2); !reflect.DeepEqual(f1, f2) {
			b.Fatalf("message %d:\nDecode: %+v\n other: %+v", i, f1, f2)
		}
	}
}

// stdEnvelope and stdContent are how one would decode a message with
// encoding/json: fields of varying type as json.RawMessage.
type stdEnvelope struct {
	Key   string `json:"key"`
	Value struct {
		Author    string          `json:"author"`
		Sequence  int64           `json:"sequence"`
		Timestamp *float64        `json:"timestamp"`
		Content   json.RawMessage `json:"content"`
	} `json:"value"`
	Timestamp *float64 `json:"timestamp"`
}

type stdContent struct {
	Type        json.RawMessage `json:"type"`
	Vote        json.RawMessage `json:"vote"`
	Root        json.RawMessage `json:"root"`
	Branch      json.RawMessage `json:"branch"`
	Fork        json.RawMessage `json:"fork"`
	Mentions    json.RawMessage `json:"mentions"`
	Contact     json.RawMessage `json:"contact"`
	About       json.RawMessage `json:"about"`
	Following   *bool           `json:"following"`
	Blocking    *bool           `json:"blocking"`
	Name        json.RawMessage `json:"name"`
	Description json.RawMessage `json:"description"`
	Image       json.RawMessage `json:"image"`
}

func decodeStd(payload []byte, m *Message) error {
	var env stdEnvelope
	if err := json.Unmarshal(payload, &env); err != nil {
		return err
	}
	m.reset()
	m.Key, m.Author, m.Sequence = env.Key, env.Value.Author, env.Value.Sequence
	if env.Value.Timestamp != nil {
		m.ClaimedTS = sql.NullFloat64{Float64: *env.Value.Timestamp, Valid: true}
	}
	if env.Timestamp != nil {
		m.ReceivedTS = sql.NullFloat64{Float64: *env.Timestamp, Valid: true}
	}
	raw := env.Value.Content
	if len(raw) == 0 {
		return nil
	}
	if raw[0] == '"' {
		m.IsPrivate = true
		return json.Unmarshal(raw, &m.Content)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		return err
	}
	m.Content = buf.String()
	if raw[0] != '{' {
		return nil
	}
	var c stdContent
	if err := json.Unmarshal(raw, &c); err != nil {
		return err
	}
	str := func(raw json.RawMessage) sql.NullString {
		var s sql.NullString
		if len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s.String) == nil {
			s.Valid = true
		}
		return s
	}
	link := func(raw json.RawMessage, rel string) {
		if s := str(raw); s.Valid {
			m.Links = append(m.Links, Link{To: s.String, Rel: rel})
		}
	}
	m.Type = str(c.Type).String
	var obj struct {
		Link json.RawMessage `json:"link"`
	}
	if len(c.Vote) > 0 && c.Vote[0] == '{' && json.Unmarshal(c.Vote, &obj) == nil {
		link(obj.Link, RelVote)
	}
	link(c.Root, RelRoot)
	link(c.Fork, RelFork)
	link(c.Contact, RelContact)
	link(c.About, RelAbout)
	var elems []json.RawMessage
	if len(c.Branch) > 0 && c.Branch[0] == '[' && json.Unmarshal(c.Branch, &elems) == nil {
		for _, e := range elems {
			link(e, RelBranch)
		}
	} else {
		link(c.Branch, RelBranch)
	}
	if len(c.Mentions) > 0 && c.Mentions[0] == '[' && json.Unmarshal(c.Mentions, &elems) == nil {
		for _, e := range elems {
			if len(e) > 0 && e[0] == '{' {
				obj.Link = nil
				if json.Unmarshal(e, &obj) == nil {
					link(obj.Link, RelMention)
				}
			} else {
				link(e, RelMention)
			}
		}
	}
	nullBool := func(p *bool) sql.NullBool {
		if p == nil {
			return sql.NullBool{}
		}
		return sql.NullBool{Bool: *p, Valid: true}
	}
	switch m.Type {
	case "contact":
		m.Contact, m.Following, m.Blocking = str(c.Contact), nullBool(c.Following), nullBool(c.Blocking)
	case "about":
		m.About, m.Name, m.Description, m.Image = str(c.About), str(c.Name), str(c.Description), str(c.Image)
		if len(c.Image) > 0 && c.Image[0] == '{' {
			obj.Link = nil
			if json.Unmarshal(c.Image, &obj) == nil {
				m.Image = str(obj.Link)
			}
		}
	}
	return nil
}
