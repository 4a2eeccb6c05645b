package ssb

import (
	"bytes"
	"cmp"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unsafe"
)

// fixturePath is the 3000-message flumelog-offset file of the repository.
var fixturePath = filepath.Join("..", "..", "testdata", "ssb", "flume", "log.offset")

// readFrames returns the payloads of a flumelog-offset file, whose frames are
// [u32 BE length][payload][u32 BE length][u32 BE offset of the next frame].
// A missing file fails tb: the fixture is part of the repository, and tests
// reading it must not pass by skipping.
func readFrames(tb testing.TB, path string) [][]byte {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read the SSB log fixture: %v", err)
	}
	var payloads [][]byte
	for off := 0; off+4 <= len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		if n == 0 { // zero-filled tail
			break
		}
		end := off + 4 + n + 8
		if end > len(data) {
			tb.Fatalf("%s: frame at offset %d runs past the end", path, off)
		}
		if back := int(binary.BigEndian.Uint32(data[off+4+n:])); back != n {
			tb.Fatalf("%s: frame at offset %d: trailing length %d, want %d", path, off, back, n)
		}
		if next := int(binary.BigEndian.Uint32(data[off+4+n+4:])); next != end {
			tb.Fatalf("%s: frame at offset %d: next offset %d, want %d", path, off, next, end)
		}
		payloads = append(payloads, data[off+4:off+4+n])
		off = end
	}
	return payloads
}

// fields is the comparable view of a Message.
type fields struct {
	Key, Author                              string
	Sequence                                 int64
	ClaimedTS, ReceivedTS                    sql.NullFloat64
	Type                                     string
	IsPrivate                                bool
	Content                                  string
	Links                                    []Link // sorted
	Contact, About, Name, Description, Image sql.NullString
	Following, Blocking                      sql.NullBool
}

func fieldsOf(m *Message) fields {
	var links []Link
	if len(m.Links) > 0 {
		links = slices.Clone(m.Links)
		sortLinks(links)
	}
	return fields{
		Key: m.Key, Author: m.Author, Sequence: m.Sequence,
		ClaimedTS: m.ClaimedTS, ReceivedTS: m.ReceivedTS,
		Type: m.Type, IsPrivate: m.IsPrivate, Content: m.Content, Links: links,
		Contact: m.Contact, Following: m.Following, Blocking: m.Blocking,
		About: m.About, Name: m.Name, Description: m.Description, Image: m.Image,
	}
}

func sortLinks(links []Link) {
	slices.SortStableFunc(links, func(a, b Link) int {
		return cmp.Or(cmp.Compare(a.Rel, b.Rel), cmp.Compare(a.To, b.To))
	})
}

// oracleError is what the oracle expects Decode to reject: field is the
// DecodeError.Field ("" for the payload as a whole).
type oracleError struct{ field string }

func (e oracleError) Error() string { return fmt.Sprintf("oracle: bad %q", e.field) }

// oracle computes what Decode should return for payload with encoding/json
// and straightforward code over map[string]any.
func oracle(payload []byte) (fields, error) {
	var f fields
	if t := bytes.TrimLeft(payload, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return f, oracleError{""}
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(payload, &top); err != nil {
		return f, oracleError{""}
	}
	if err := json.Unmarshal(top["key"], &f.Key); err != nil || !isKind(top["key"], '"') {
		return f, oracleError{"key"}
	}
	f.ReceivedTS = oracleFloat(decodeAny(top["timestamp"]))
	var value map[string]json.RawMessage
	if !isKind(top["value"], '{') {
		return f, oracleError{"value"}
	}
	if err := json.Unmarshal(top["value"], &value); err != nil {
		panic(err) // valid JSON checked above
	}
	a, ok := decodeAny(value["author"]).(string)
	if !ok {
		return f, oracleError{"value.author"}
	}
	f.Author = a
	n, ok := decodeAny(value["sequence"]).(json.Number)
	if !ok {
		return f, oracleError{"value.sequence"}
	}
	if f.Sequence, ok = oracleInt(n); !ok {
		return f, oracleError{"value.sequence"}
	}
	f.ClaimedTS = oracleFloat(decodeAny(value["timestamp"]))

	raw, ok := value["content"]
	if !ok {
		return f, nil
	}
	switch c := decodeAny(raw).(type) {
	case string:
		f.IsPrivate, f.Content = true, c
		return f, nil
	case map[string]any:
		oracleContent(&f, c)
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		panic(err)
	}
	f.Content = buf.String()
	return f, nil
}

func oracleContent(f *fields, c map[string]any) {
	str := func(v any) sql.NullString {
		s, ok := v.(string)
		return sql.NullString{String: s, Valid: ok}
	}
	boolean := func(v any) sql.NullBool {
		b, ok := v.(bool)
		return sql.NullBool{Bool: b, Valid: ok}
	}
	link := func(rel string, v any) {
		if s, ok := v.(string); ok {
			f.Links = append(f.Links, Link{To: s, Rel: rel})
		}
	}
	f.Type, _ = c["type"].(string)
	if vote, ok := c["vote"].(map[string]any); ok {
		link(RelVote, vote["link"])
	}
	link(RelRoot, c["root"])
	link(RelFork, c["fork"])
	link(RelContact, c["contact"])
	link(RelAbout, c["about"])
	switch b := c["branch"].(type) {
	case string:
		link(RelBranch, b)
	case []any:
		for _, e := range b {
			link(RelBranch, e)
		}
	}
	if ms, ok := c["mentions"].([]any); ok {
		for _, e := range ms {
			if o, ok := e.(map[string]any); ok {
				link(RelMention, o["link"])
			} else {
				link(RelMention, e)
			}
		}
	}
	sortLinks(f.Links)
	if f.Type == "contact" {
		f.Contact, f.Following, f.Blocking = str(c["contact"]), boolean(c["following"]), boolean(c["blocking"])
	}
	if f.Type == "about" {
		f.About, f.Name, f.Description = str(c["about"]), str(c["name"]), str(c["description"])
		f.Image = str(c["image"])
		if o, ok := c["image"].(map[string]any); ok {
			f.Image = str(o["link"])
		}
	}
}

func isKind(raw json.RawMessage, c byte) bool { return len(raw) > 0 && raw[0] == c }

// decodeAny decodes a valid JSON value, keeping numbers as json.Number; nil
// (absent) gives nil.
func decodeAny(raw json.RawMessage) any {
	if raw == nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic(err)
	}
	return v
}

func oracleFloat(v any) sql.NullFloat64 {
	n, ok := v.(json.Number)
	if !ok {
		return sql.NullFloat64{}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return sql.NullFloat64{}
	}
	return sql.NullFloat64{Float64: f, Valid: true}
}

func oracleInt(n json.Number) (int64, bool) {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}

// checkAgainstOracle decodes payload with Decode and with the oracle and
// fails when they disagree.
func checkAgainstOracle(t *testing.T, m *Message, payload []byte) {
	t.Helper()
	want, wantErr := oracle(payload)
	err := Decode(payload, m)
	if wantErr != nil {
		var de *DecodeError
		if !errors.As(err, &de) {
			t.Fatalf("Decode(%q) = %v, want a *DecodeError for %v", payload, err, wantErr)
		}
		if de.Field != wantErr.(oracleError).field {
			t.Fatalf("Decode(%q) = %v, want an error for field %q", payload, err, wantErr.(oracleError).field)
		}
		return
	}
	if err != nil {
		t.Fatalf("Decode(%q) = %v, want success", payload, err)
	}
	if got := fieldsOf(m); !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q):\n got %+v\nwant %+v", payload, got, want)
	}
}

// envelope wraps content (JSON text) in an otherwise fixed message.
func envelope(content string) string {
	return `{"key":"%k=.sha256","value":{"previous":null,"sequence":7,"author":"@a=.ed25519",` +
		`"timestamp":1795591671395,"hash":"sha256","content":` + content +
		`,"signature":"s==.sig.ed25519"},"timestamp":1795591671396.001}`
}

// base is what Decode gives for envelope(content), before content.
func base(content string) fields {
	return fields{
		Key: "%k=.sha256", Author: "@a=.ed25519", Sequence: 7,
		ClaimedTS:  sql.NullFloat64{Float64: 1795591671395, Valid: true},
		ReceivedTS: sql.NullFloat64{Float64: 1795591671396.001, Valid: true},
		Content:    content,
	}
}

func str(s string) sql.NullString { return sql.NullString{String: s, Valid: true} }
func boolean(b bool) sql.NullBool { return sql.NullBool{Bool: b, Valid: true} }

func TestDecodeContent(t *testing.T) {
	tests := []struct {
		name    string
		content string
		want    func(*fields)
	}{
		{"post", `{"type":"post","text":"hi"}`, func(f *fields) { f.Type = "post" }},
		{"no type", `{"text":"hi"}`, func(f *fields) {}},
		{"type not a string", `{"type":7}`, func(f *fields) {}},
		{"type null", `{"type":null}`, func(f *fields) {}},
		{"empty content", `{}`, func(f *fields) {}},
		{"content null", `null`, func(f *fields) {}},
		{"content array", `[1,{"root":"%x"}]`, func(f *fields) {}},
		{"vote", `{"type":"vote","vote":{"link":"%m","value":1,"expression":"y"}}`, func(f *fields) {
			f.Type = "vote"
			f.Links = []Link{{"%m", RelVote}}
		}},
		{"vote link not a string", `{"type":"vote","vote":{"link":5}}`, func(f *fields) { f.Type = "vote" }},
		{"vote not an object", `{"type":"vote","vote":"%m"}`, func(f *fields) { f.Type = "vote" }},
		{"thread", `{"type":"post","root":"%r","branch":"%b","fork":"%f"}`, func(f *fields) {
			f.Type = "post"
			f.Links = []Link{{"%b", RelBranch}, {"%f", RelFork}, {"%r", RelRoot}}
		}},
		{"branch array", `{"branch":["%b1",3,"%b2",null,{"link":"%x"}]}`, func(f *fields) {
			f.Links = []Link{{"%b1", RelBranch}, {"%b2", RelBranch}}
		}},
		{"root not a string", `{"root":{"link":"%r"},"fork":[]}`, func(f *fields) {}},
		{"mentions", `{"mentions":[{"link":"@p","name":"x"},"#chan",{"name":"no link"},{"link":7},42,["@q"],{"link":"&b","size":3}]}`, func(f *fields) {
			f.Links = []Link{{"#chan", RelMention}, {"&b", RelMention}, {"@p", RelMention}}
		}},
		{"mentions odd", `{"mentions":{"link":"@p"}}`, func(f *fields) {}},
		{"mentions empty", `{"mentions":[]}`, func(f *fields) {}},
		{"duplicate references kept", `{"root":"%r","branch":["%r","%r"],"mentions":["%r"]}`, func(f *fields) {
			f.Links = []Link{{"%r", RelBranch}, {"%r", RelBranch}, {"%r", RelMention}, {"%r", RelRoot}}
		}},
		{"contact", `{"type":"contact","contact":"@c","following":true,"blocking":false}`, func(f *fields) {
			f.Type = "contact"
			f.Contact, f.Following, f.Blocking = str("@c"), boolean(true), boolean(false)
			f.Links = []Link{{"@c", RelContact}}
		}},
		{"contact nulls", `{"type":"contact","contact":"@c","following":null,"blocking":"yes"}`, func(f *fields) {
			f.Type = "contact"
			f.Contact = str("@c")
			f.Links = []Link{{"@c", RelContact}}
		}},
		{"contact not a string", `{"type":"contact","contact":["@c"],"following":false}`, func(f *fields) {
			f.Type = "contact"
			f.Following = boolean(false)
		}},
		{"contact link in other type", `{"type":"pub","contact":"@c","following":true}`, func(f *fields) {
			f.Type = "pub"
			f.Links = []Link{{"@c", RelContact}}
		}},
		{"about", `{"type":"about","about":"@a","name":"Al","description":"d","image":"&i"}`, func(f *fields) {
			f.Type = "about"
			f.About, f.Name, f.Description, f.Image = str("@a"), str("Al"), str("d"), str("&i")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"about image object", `{"about":"@a","image":{"size":3,"link":"&i","type":"image/png"},"type":"about"}`, func(f *fields) {
			f.Type = "about"
			f.About, f.Image = str("@a"), str("&i")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"about odd types", `{"type":"about","about":"@a","name":1,"description":null,"image":{"link":2}}`, func(f *fields) {
			f.Type = "about"
			f.About = str("@a")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"about image array", `{"type":"about","about":"@a","image":["&i"]}`, func(f *fields) {
			f.Type = "about"
			f.About = str("@a")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"about fields in other type", `{"type":"post","about":"@a","name":"n"}`, func(f *fields) {
			f.Type = "post"
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"escapes", `{"type":"p\u006fst","root":"%a\/b\"c\\d","name":"x","mentions":["caf\u00e9 \ud83d\ude00 \ud800 \n"]}`, func(f *fields) {
			f.Type = "post"
			f.Links = []Link{{"%a/b\"c\\d", RelRoot}, {"café 😀 \ufffd \n", RelMention}}
		}},
		{"escaped member names", `{"\u0074ype":"about","\u0061bout":"@a"}`, func(f *fields) {
			f.Type = "about"
			f.About = str("@a")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"raw utf-8", `{"type":"about","about":"@a","name":"Zoë 日本"}`, func(f *fields) {
			f.Type = "about"
			f.About, f.Name = str("@a"), str("Zoë 日本")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"invalid utf-8 replaced", "{\"type\":\"about\",\"about\":\"@a\",\"name\":\"a\xffb\xc3\"}", func(f *fields) {
			f.Type = "about"
			f.About, f.Name = str("@a"), str("a\ufffdb\ufffd")
			f.Links = []Link{{"@a", RelAbout}}
		}},
		{"repeated members: last wins", `{"type":"post","root":"%r1","type":"about","root":"%r2","about":"@a","name":"x","name":5}`, func(f *fields) {
			f.Type = "about"
			f.About = str("@a")
			f.Links = []Link{{"%r2", RelRoot}, {"@a", RelAbout}}
		}},
		{"unknown nested fields", `{"type":"post","x":{"y":[1,2,{"root":"%no"}],"z":true},"root":"%r"}`, func(f *fields) {
			f.Type = "post"
			f.Links = []Link{{"%r", RelRoot}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := base(tt.content)
			tt.want(&want)
			sortLinks(want.Links)
			checkDecode(t, envelope(tt.content), want)
			// Indented, the same message decodes the same, content compacted.
			var ind bytes.Buffer
			if err := json.Indent(&ind, []byte(envelope(tt.content)), "", "  "); err != nil {
				t.Fatal(err)
			}
			checkDecode(t, ind.String(), want)
		})
	}
}

func TestDecodePrivate(t *testing.T) {
	const box = "snSof7CU+y/ab==.box"
	want := base(box)
	want.IsPrivate = true
	checkDecode(t, envelope(`"`+box+`"`), want)
	want.Content = "a/b\u00e9.box"
	checkDecode(t, envelope(`"a\/b\u00e9.box"`), want)
}

func TestDecodeEnvelope(t *testing.T) {
	withTS := func(claimed, received string) string {
		return `{"key":"%k","value":{"author":"@a","sequence":1` + claimed + `,"content":{}}` + received + `}`
	}
	ts := func(f float64) sql.NullFloat64 { return sql.NullFloat64{Float64: f, Valid: true} }
	tests := []struct {
		name              string
		payload           string
		claimed, received sql.NullFloat64
		wantSeq           int64
	}{
		{"integers", withTS(`,"timestamp":1795591671395`, `,"timestamp":1795591671396`), ts(1795591671395), ts(1795591671396), 1},
		{"floats", withTS(`,"timestamp":1795591671403.001`, `,"timestamp":1795591671403.0012`), ts(1795591671403.001), ts(1795591671403.0012), 1},
		{"exponents", withTS(`,"timestamp":1.795591671403001e12`, `,"timestamp":17955916714030E-1`), ts(1795591671403.001), ts(1795591671403), 1},
		{"long mantissa", withTS(`,"timestamp":1795591671403.0010000001`, `,"timestamp":-0.000001e-300`), ts(1795591671403.0010000001), ts(-0.000001e-300), 1},
		{"missing", withTS(``, ``), sql.NullFloat64{}, sql.NullFloat64{}, 1},
		{"null", withTS(`,"timestamp":null`, `,"timestamp":null`), sql.NullFloat64{}, sql.NullFloat64{}, 1},
		{"not numbers", withTS(`,"timestamp":"1795591671395"`, `,"timestamp":[1]`), sql.NullFloat64{}, sql.NullFloat64{}, 1},
		{"out of range", withTS(`,"timestamp":1e400`, `,"timestamp":-1e309`), sql.NullFloat64{}, sql.NullFloat64{}, 1},
		{"sequence as float", `{"key":"%k","value":{"author":"@a","sequence":12.0e0}}`, sql.NullFloat64{}, sql.NullFloat64{}, 12},
		{"big sequence", `{"key":"%k","value":{"author":"@a","sequence":9223372036854775807}}`, sql.NullFloat64{}, sql.NullFloat64{}, math.MaxInt64},
		{"extra fields and whitespace", " \r\n{\"x\":[{}],\"key\" : \"%k\",\t\"value\":{\"y\":null,\"author\":\"@a\",\"sequence\":-3 } }\n", sql.NullFloat64{}, sql.NullFloat64{}, -3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m Message
			if err := Decode([]byte(tt.payload), &m); err != nil {
				t.Fatalf("Decode(%s) = %v", tt.payload, err)
			}
			if m.ClaimedTS != tt.claimed || m.ReceivedTS != tt.received || m.Sequence != tt.wantSeq {
				t.Errorf("Decode(%s): claimed %v received %v sequence %d, want %v %v %d",
					tt.payload, m.ClaimedTS, m.ReceivedTS, m.Sequence, tt.claimed, tt.received, tt.wantSeq)
			}
			if m.Key != "%k" || m.Author != "@a" {
				t.Errorf("Decode(%s): key %q author %q", tt.payload, m.Key, m.Author)
			}
			checkAgainstOracle(t, &m, []byte(tt.payload))
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	good := envelope(`{"type":"post","text":"hi"}`)
	tests := []struct {
		name    string
		payload string
		field   string
		reason  string // substring of the error text
	}{
		{"empty", ``, "", "invalid JSON: unexpected end of input"},
		{"spaces", "  \n", "", "invalid JSON: unexpected end of input"},
		{"not JSON", `hello`, "", "invalid JSON: invalid character 'h'"},
		{"array", `[1,2]`, "", "want object, got array"},
		{"string", `"x"`, "", "want object, got string"},
		{"null", `null`, "", "want object, got null"},
		{"truncated", good[:len(good)-1], "", "invalid JSON: unexpected end of input at offset"},
		{"truncated in string", good[:20], "", "unexpected end of input"},
		{"truncated in content", good[:140], "", "unexpected end of input"},
		{"trailing data", good + `{}`, "", `invalid character '{' after top-level value`},
		{"trailing comma", `{"key":"%k",}`, "", "looking for beginning of object key string"},
		{"missing colon", `{"key" "%k"}`, "", "after object key"},
		{"bad escape", `{"key":"%\k"}`, "", "in string escape code"},
		{"bad unicode escape", `{"key":"\u12x4"}`, "", "hexadecimal character escape"},
		{"control character", "{\"key\":\"a\nb\"}", "", "in string literal"},
		{"bad number", `{"key":"%k","timestamp":01}`, "", "after object key:value pair"},
		{"bad exponent", `{"key":"%k","timestamp":1e}`, "", "in exponent of numeric literal"},
		{"bad literal", `{"key":"%k","x":nul}`, "", "in literal null"},
		{"bad skipped content", envelope(`{"type":"post","x":[1,,2]}`), "", "looking for beginning of value"},
		{"too deep", `{"key":"%k","x":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`, "", "exceeded max depth"},
		{"missing key", `{"value":{"author":"@a","sequence":1}}`, "key", "missing"},
		{"key not a string", `{"key":5,"value":{"author":"@a","sequence":1}}`, "key", "want string, got number"},
		{"missing value", `{"key":"%k"}`, "value", "missing"},
		{"value not an object", `{"key":"%k","value":"x"}`, "value", "want object, got string"},
		{"missing author", `{"key":"%k","value":{"sequence":1}}`, "value.author", "missing"},
		{"author null", `{"key":"%k","value":{"author":null,"sequence":1}}`, "value.author", "want string, got null"},
		{"missing sequence", `{"key":"%k","value":{"author":"@a"}}`, "value.sequence", "missing"},
		{"sequence string", `{"key":"%k","value":{"author":"@a","sequence":"1"}}`, "value.sequence", "want number, got string"},
		{"sequence fraction", `{"key":"%k","value":{"author":"@a","sequence":1.5}}`, "value.sequence", "want an integer, got 1.5"},
		{"sequence too big", `{"key":"%k","value":{"author":"@a","sequence":1e19}}`, "value.sequence", "want an integer, got 1e19"},
		{"repeated value: last wins", `{"key":"%k","value":{"author":"@a","sequence":1},"value":{"author":"@a"}}`, "value.sequence", "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Message{Key: "stale", Links: []Link{{"x", "y"}}}
			err := Decode([]byte(tt.payload), &m)
			var de *DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("Decode(%.60q) = %v, want a *DecodeError", tt.payload, err)
			}
			if de.Field != tt.field || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("Decode(%.60q) = %q (field %q), want field %q and %q", tt.payload, err, de.Field, tt.field, tt.reason)
			}
			if tt.field != "" && !strings.HasPrefix(err.Error(), fmt.Sprintf("ssb message: %q: ", tt.field)) {
				t.Errorf("error %q does not start by naming the field", err)
			}
			if !reflect.DeepEqual(fieldsOf(&m), fields{}) {
				t.Errorf("after an error, m = %+v, want it reset", fieldsOf(&m))
			}
			checkAgainstOracle(t, &m, []byte(tt.payload))
		})
	}
}

func TestDecodeErrorMessage(t *testing.T) {
	var m Message
	err := Decode([]byte(`{"key":"%k","value":{"author":"@a","sequence":"1"}}`), &m)
	const want = `ssb message: "value.sequence": want number, got string`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

// TestDecodeAliasing checks which strings alias the payload, and that Clone
// and a reused Message keep earlier results intact.
func TestDecodeAliasing(t *testing.T) {
	payload := []byte(envelope(`{"type":"post","root":"%r","text":"t"}`))
	var m Message
	if err := Decode(payload, &m); err != nil {
		t.Fatal(err)
	}
	if !aliases(m.Key, payload) || !aliases(m.Content, payload) || !aliases(m.Links[0].To, payload) {
		t.Errorf("compact payload: key, content and links should alias the payload")
	}
	c := m.Clone()
	if aliases(c.Key, payload) || aliases(c.Content, payload) || aliases(c.Links[0].To, payload) {
		t.Errorf("Clone shares memory with the payload")
	}
	before := fieldsOf(c)
	if err := Decode([]byte(envelope(`"other.box"`)), &m); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fieldsOf(c), before) {
		t.Errorf("clone changed after a Decode into the original")
	}
	if len(m.Links) != 0 || !m.IsPrivate || m.Content != "other.box" {
		t.Errorf("reused Message kept old fields: %+v", fieldsOf(&m))
	}
}

// aliases reports whether s points into b.
func aliases(s string, b []byte) bool {
	if len(s) == 0 || len(b) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	lo := uintptr(unsafe.Pointer(&b[0]))
	return lo <= p && p < lo+uintptr(len(b))
}

// TestDecodeFixture checks Decode against the oracle on every message of the
// repository's SSB log, compact and re-indented.
func TestDecodeFixture(t *testing.T) {
	payloads := readFrames(t, fixturePath)
	if len(payloads) < 1000 {
		t.Fatalf("%s: only %d messages", fixturePath, len(payloads))
	}
	var m Message
	types := map[string]int{}
	for i, p := range payloads {
		checkAgainstOracle(t, &m, p)
		types[m.Type]++
		want := fieldsOf(&m)
		var ind bytes.Buffer
		if err := json.Indent(&ind, p, "", "  "); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if err := Decode(ind.Bytes(), &m); err != nil {
			t.Fatalf("message %d indented: %v", i, err)
		}
		if got := fieldsOf(&m); !reflect.DeepEqual(got, want) {
			t.Fatalf("message %d indented:\n got %+v\nwant %+v", i, got, want)
		}
	}
	t.Logf("%d messages, by type: %v", len(payloads), types)
}

func checkDecode(t *testing.T, payload string, want fields) {
	t.Helper()
	var m Message
	if err := Decode([]byte(payload), &m); err != nil {
		t.Fatalf("Decode(%s) = %v", payload, err)
	}
	if got := fieldsOf(&m); !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%s):\n got %+v\nwant %+v", payload, got, want)
	}
	checkAgainstOracle(t, &m, []byte(payload))
}

// TestDecodeDepth checks the nesting limit against encoding/json's.
func TestDecodeDepth(t *testing.T) {
	for _, arrays := range []int{9998, 9999, 10000} {
		payload := `{"key":"%k","value":{"author":"@a","sequence":1},"x":` +
			strings.Repeat("[", arrays) + strings.Repeat("]", arrays) + `}`
		var m Message
		checkAgainstOracle(t, &m, []byte(payload))
	}
}

// TestDecodeStringScan puts escapes, control bytes, non-ASCII and invalid
// UTF-8 at every position of strings of every length up to past the fast
// paths' limits, inside the payload and at its very end.
func TestDecodeStringScan(t *testing.T) {
	specials := []string{``, `\n`, `\"`, `\u00e9`, "\x01", "é", "\xff", `"`, `\`}
	var m Message
	for n := 0; n <= 90; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, sp := range specials {
				s := strings.Repeat("a", pos) + sp + strings.Repeat("b", n-pos)
				checkAgainstOracle(t, &m, []byte(`{"value":{"author":"@a","sequence":1,"content":{"type":"`+s+`"}},"key":"`+s+`"}`))
			}
		}
	}
	// A long string, as private messages have, with one special byte.
	long := strings.Repeat("x", 1500)
	for _, pos := range []int{0, 7, 8, 63, 64, 65, 700, 1492, 1499} {
		for _, sp := range specials {
			s := long[:pos] + sp + long[pos:]
			checkAgainstOracle(t, &m, []byte(`{"key":"%k","value":{"author":"@a","sequence":1,"content":"`+s+`"}}`))
		}
	}
}

// TestDecodeAllocs checks that a reused Message decodes without allocating.
func TestDecodeAllocs(t *testing.T) {
	payloads := readFrames(t, fixturePath)
	var ind bytes.Buffer
	if err := json.Indent(&ind, payloads[0], "", "  "); err != nil {
		t.Fatal(err)
	}
	payloads = append(payloads, ind.Bytes(), []byte(envelope(`{"type":"about","about":"@\u00e9","name":"\"n\""}`)))
	var m Message
	allocs := testing.AllocsPerRun(3, func() {
		for _, p := range payloads {
			if err := Decode(p, &m); err != nil {
				t.Fatal(err)
			}
		}
	})
	if allocs != 0 {
		t.Errorf("decoding %d messages: %v allocations, want 0", len(payloads), allocs)
	}
}

func ExampleDecode() {
	payload := []byte(`{"key":"%Msg=.sha256","value":{"previous":null,"sequence":2,` +
		`"author":"@Al=.ed25519","timestamp":1795591671395,"hash":"sha256",` +
		`"content":{"type":"post","text":"hi","root":"%Root=.sha256","mentions":["@Bo=.ed25519"]},` +
		`"signature":"sig.sig.ed25519"},"timestamp":1795591671396.001}`)
	var m Message // reuse one Message for a whole log
	if err := Decode(payload, &m); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Key, m.Author, m.Sequence, m.Type)
	fmt.Printf("%.3f\n", m.ReceivedTS.Float64)
	for _, l := range m.Links {
		fmt.Println(l.Rel, l.To)
	}
	fmt.Println(m.Content)

	err := Decode([]byte(`{"key":"%Msg=.sha256","value":{"author":"@Al=.ed25519","sequence":"2"}}`), &m)
	fmt.Println(err)
	// Output:
	// %Msg=.sha256 @Al=.ed25519 2 post
	// 1795591671396.001
	// root %Root=.sha256
	// mention @Bo=.ed25519
	// {"type":"post","text":"hi","root":"%Root=.sha256","mentions":["@Bo=.ed25519"]}
	// ssb message: "value.sequence": want number, got string
}

// TestDecodeCompact checks that content written with whitespace is handed
// out compacted, strings (with escaped quotes and backslashes) untouched.
func TestDecodeCompact(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{ "type" : "post" }`, `{"type":"post"}`},
		{"{\n\t\"a\" :\r\n [ 1 , 2.5e3 , true , null , { } , [ ] ]\n}", `{"a":[1,2.5e3,true,null,{},[]]}`},
		{`{"a":"x\\" , "b" : "\"  \" ", "c":"\\\" y" }`, `{"a":"x\\","b":"\"  \" ","c":"\\\" y"}`},
		{`{"text" : "  spaced  \n  out  " }`, `{"text":"  spaced  \n  out  "}`},
		{` [ "not" , "an object" ] `, `["not","an object"]`},
	}
	for _, tt := range tests {
		payload := []byte(envelope(tt.in))
		var m Message
		if err := Decode(payload, &m); err != nil {
			t.Fatalf("Decode(%s) = %v", payload, err)
		}
		if m.Content != tt.want {
			t.Errorf("content %s: got %s, want %s", tt.in, m.Content, tt.want)
		}
		checkAgainstOracle(t, &m, payload)
	}
}
