package ssb

import (
	"bytes"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Values of Link.Rel: the content field a reference was found in.
const (
	RelVote    = "vote"    // content.vote.link
	RelRoot    = "root"    // content.root
	RelBranch  = "branch"  // content.branch, or each string in the content.branch array
	RelFork    = "fork"    // content.fork
	RelMention = "mention" // each content.mentions[i].link, or each string content.mentions[i]
	RelContact = "contact" // content.contact, whatever the message type
	RelAbout   = "about"   // content.about, whatever the message type
)

// Link is one reference from a message's content to another SSB id.
type Link struct {
	// To is the referenced id (a %message, @feed, &blob or #channel, as
	// written), unescaped. It aliases like the other strings of a Message.
	To string
	// Rel is one of the Rel* constants.
	Rel string
}

// Message holds the fields of one SSB message that the views index.
//
// Aliasing: the strings of a Message (Key, Author, Type, Content, Link.To, the
// String of the sql.Null* fields) are not copied. They point into the payload
// given to Decode, or, when the payload had to be rewritten (a JSON escape to
// decode, indented content to compact, invalid UTF-8 to replace), into a
// buffer owned by the Message. They stay valid until the next Decode into the
// same Message, and only as long as the payload's bytes are not modified. To
// keep a Message longer, use Clone.
//
// The zero Message is ready to use; reusing one across Decode calls reuses
// its Links and buffer, so decoding a log allocates nothing in steady state.
type Message struct {
	// Key is the message id, the top-level "key" ("%….sha256").
	Key string
	// Author is value.author ("@….ed25519").
	Author string
	// Sequence is value.sequence, the message's position in its author's feed.
	Sequence int64
	// ClaimedTS is value.timestamp, the author's claimed time in Unix
	// milliseconds; not Valid when absent, not a number, or out of range.
	ClaimedTS sql.NullFloat64
	// ReceivedTS is the top-level "timestamp", the local receive time in Unix
	// milliseconds; not Valid when absent, not a number, or out of range.
	ReceivedTS sql.NullFloat64
	// Type is content.type; "" when the message is private or content.type is
	// absent or not a string.
	Type string
	// IsPrivate reports that content is a string: an encrypted ("….box") message.
	IsPrivate bool
	// Content is the content as JSON text, without insignificant whitespace
	// (an indented payload's content is compacted, escapes are left as
	// written). For a private message it is the boxed string itself, unquoted.
	// "" when value.content is absent.
	Content string
	// Links has one entry per reference in the content, in the order the
	// fields appear (duplicates kept). See the Rel* constants for the rules.
	Links []Link

	// Contact is content.contact, set only for messages of type "contact"
	// whose contact field is a string.
	Contact sql.NullString
	// Following is content.following, set only for messages of type
	// "contact" whose following field is true or false.
	Following sql.NullBool
	// Blocking is content.blocking, set like Following.
	Blocking sql.NullBool

	// About is content.about, set only for messages of type "about" whose
	// about field is a string.
	About sql.NullString
	// Name is content.name, set only for type "about" when it is a string.
	Name sql.NullString
	// Description is content.description, set only for type "about" when it
	// is a string.
	Description sql.NullString
	// Image is content.image, set only for type "about": the string itself,
	// or the string link of an object such as {"link":"&…","size":…}.
	Image sql.NullString

	buf  []byte // unescaped strings and compacted content of the last Decode
	name []byte // scratch for object member names that contain escapes
}

// Clone returns a deep copy of m that shares no memory with the payload m
// was decoded from or with m's buffers, so it stays valid after the next
// Decode into m.
func (m *Message) Clone() *Message {
	c := *m
	c.buf, c.name = nil, nil
	c.Key = strings.Clone(m.Key)
	c.Author = strings.Clone(m.Author)
	c.Type = strings.Clone(m.Type)
	c.Content = strings.Clone(m.Content)
	c.Links = make([]Link, len(m.Links))
	for i, l := range m.Links {
		c.Links[i] = Link{To: strings.Clone(l.To), Rel: l.Rel}
	}
	for _, s := range []*sql.NullString{&c.Contact, &c.About, &c.Name, &c.Description, &c.Image} {
		s.String = strings.Clone(s.String)
	}
	return &c
}

// DecodeError reports why a payload is not a usable SSB message.
type DecodeError struct {
	// Field is the path of the offending field ("key", "value.sequence"), or
	// "" when the payload as a whole is wrong (not JSON, not an object).
	Field string
	// Offset is the byte offset in the payload where the problem was found.
	Offset int
	// Reason says what was wrong, e.g. "want number, got string".
	Reason string
}

// Error formats e as `ssb message: "value.sequence": want number, got string`
// or, for the payload as a whole, `ssb message: invalid JSON: … at offset 12`.
func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("ssb message: %q: %s", e.Field, e.Reason)
	}
	return fmt.Sprintf("ssb message: %s at offset %d", e.Reason, e.Offset)
}

// Decode parses payload, one SSB message as JSON (compact or indented), into
// m, replacing all of m's fields and reusing its slices. The strings it sets
// alias payload and m's buffer: see Message.
//
// It returns a *DecodeError when payload is not valid JSON, not an object,
// or lacks a string key, an object value, a string value.author or an
// integer value.sequence. Every other field is optional: one of an
// unexpected type is left unset and its references are ignored; unknown
// fields are skipped. When a member name repeats, the last one wins, as with
// encoding/json. On error m is reset to the zero Message (buffers kept).
// Decode never panics and does not retain payload beyond the returned strings.
func Decode(payload []byte, m *Message) error {
	m.reset()
	d := decoder{b: payload, m: m}
	if err := d.message(); err != nil {
		m.reset()
		return err
	}
	return nil
}

// reset zeroes m's fields and keeps its buffers for reuse.
func (m *Message) reset() {
	clear(m.Links) // drop references to old payloads
	links, buf, name := m.Links[:0], m.buf[:0], m.name[:0]
	*m = Message{Links: links, buf: buf, name: name}
}

// resetValue zeroes what Decode takes from the value object, for a repeated
// "value" member.
func (m *Message) resetValue() {
	m.Author, m.Sequence, m.ClaimedTS = "", 0, sql.NullFloat64{}
	m.resetContent()
}

// resetContent zeroes what Decode takes from the content, for a repeated
// "content" member.
func (m *Message) resetContent() {
	clear(m.Links)
	m.Links = m.Links[:0]
	m.Type, m.IsPrivate, m.Content = "", false, ""
	m.Contact, m.Following, m.Blocking = sql.NullString{}, sql.NullBool{}, sql.NullBool{}
	m.About, m.Name, m.Description, m.Image = sql.NullString{}, sql.NullString{}, sql.NullString{}, sql.NullString{}
}

// maxDepth is the deepest nesting of objects and arrays accepted, as in
// encoding/json.
const maxDepth = 10000

// Bits of decoder.seen: content members that produce links, for repeats.
const (
	seenVote = 1 << iota
	seenRoot
	seenBranch
	seenFork
	seenMentions
	seenContact
	seenAbout
)

// decoder is a single-pass scanner over one payload. It validates all of the
// JSON, and extracts only what Message needs; everything else is skipped
// without allocating.
type decoder struct {
	b     []byte
	m     *Message
	space bool  // insignificant whitespace was skipped since last cleared
	seen  uint8 // seen* bits of the current content object

	// What the required fields held (the first byte of their last value,
	// 0 when absent), checked once the whole payload has been parsed.
	key, value, author, seq byte
	keyPos                  int  // offset of the key
	seqPos                  int  // offset of value.sequence
	seqInt                  bool // value.sequence is an integer that fits int64
	valuePos                int  // offset of the value
}

// message parses the whole payload.
func (d *decoder) message() error {
	b := d.b
	i := d.skipSpace(0)
	if i >= len(b) {
		return d.syntax(i, "unexpected end of input")
	}
	var err error
	if b[i] != '{' {
		start := i
		if i, err = d.skip(i, 0); err != nil {
			return err
		}
		if err = d.end(i); err != nil {
			return err
		}
		return &DecodeError{Offset: start, Reason: "want object, got " + kindName(b[start])}
	}
	if i, err = d.topObject(i); err != nil {
		return err
	}
	if err = d.end(i); err != nil {
		return err
	}
	return d.checkRequired()
}

// end checks that only whitespace follows the message.
func (d *decoder) end(i int) error {
	if i = d.skipSpace(i); i < len(d.b) {
		return d.syntax(i, fmt.Sprintf("invalid character %q after top-level value", d.b[i]))
	}
	return nil
}

// checkRequired reports the first required field that is missing or of the
// wrong type, in the order key, value, value.author, value.sequence.
func (d *decoder) checkRequired() error {
	switch {
	case d.key != '"':
		return d.wrongType("key", d.keyPos, "string", d.key)
	case d.value != '{':
		return d.wrongType("value", d.valuePos, "object", d.value)
	case d.author != '"':
		return d.wrongType("value.author", d.valuePos, "string", d.author)
	case d.seq == 0 || kindName(d.seq) != "number":
		return d.wrongType("value.sequence", d.valuePos, "number", d.seq)
	case !d.seqInt:
		end, _ := d.number(d.seqPos)
		raw := d.b[d.seqPos:end]
		if len(raw) > 40 {
			raw = append(raw[:37:37], "..."...)
		}
		return &DecodeError{Field: "value.sequence", Offset: d.seqPos, Reason: "want an integer, got " + string(raw)}
	}
	return nil
}

func (d *decoder) wrongType(field string, off int, want string, got byte) error {
	if got == 0 {
		return &DecodeError{Field: field, Offset: off, Reason: "missing"}
	}
	return &DecodeError{Field: field, Offset: off, Reason: "want " + want + ", got " + kindName(got)}
}

func (d *decoder) syntax(i int, reason string) error {
	return &DecodeError{Offset: i, Reason: "invalid JSON: " + reason}
}

func (d *decoder) unexpected(i int, context string) error {
	if i >= len(d.b) {
		return d.syntax(i, "unexpected end of input")
	}
	return d.syntax(i, fmt.Sprintf("invalid character %q %s", d.b[i], context))
}

// kindName names the JSON type of a value from its first byte.
func kindName(c byte) string {
	switch c {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return "number"
	}
	return "invalid"
}

// topObject parses the message object at b[i] (depth 1).
func (d *decoder) topObject(i int) (int, error) {
	i, more, err := d.openObject(i)
	for more && err == nil {
		var name []byte
		if name, i, err = d.member(i); err != nil {
			return i, err
		}
		c := d.b[i]
		switch string(name) {
		case "key":
			d.key, d.keyPos = c, i
			if c == '"' {
				d.m.Key, i, err = d.str(i)
			} else {
				i, err = d.skip(i, 1)
			}
		case "value":
			d.value, d.valuePos = c, i
			if c == '{' {
				i, err = d.valueObject(i)
			} else {
				i, err = d.skip(i, 1)
			}
		case "timestamp":
			d.m.ReceivedTS, i, err = d.timestamp(i, 1)
		default:
			i, err = d.skip(i, 1)
		}
		if err == nil {
			i, more, err = d.nextMember(i)
		}
	}
	return i, err
}

// valueObject parses the value object at b[i] (depth 2).
func (d *decoder) valueObject(i int) (int, error) {
	m := d.m
	m.resetValue()
	d.author, d.seq, d.seqInt = 0, 0, false
	i, more, err := d.openObject(i)
	for more && err == nil {
		var name []byte
		if name, i, err = d.member(i); err != nil {
			return i, err
		}
		c := d.b[i]
		switch string(name) {
		case "author":
			d.author = c
			if c == '"' {
				m.Author, i, err = d.str(i)
			} else {
				i, err = d.skip(i, 2)
			}
		case "sequence":
			d.seq, d.seqPos, d.seqInt = c, i, false
			if kindName(c) == "number" {
				start := i
				if i, err = d.number(i); err == nil {
					m.Sequence, d.seqInt = parseInt(d.b[start:i])
				}
			} else {
				i, err = d.skip(i, 2)
			}
		case "timestamp":
			m.ClaimedTS, i, err = d.timestamp(i, 2)
		case "content":
			i, err = d.content(i)
		default:
			i, err = d.skip(i, 2)
		}
		if err == nil {
			i, more, err = d.nextMember(i)
		}
	}
	return i, err
}

// timestamp parses a number at b[i] as a float64; any other value is skipped
// (inside a container at depth) and gives an unset result.
func (d *decoder) timestamp(i, depth int) (sql.NullFloat64, int, error) {
	if f, end, ok := d.plainFloat(i); ok {
		return sql.NullFloat64{Float64: f, Valid: true}, end, nil
	}
	if kindName(d.b[i]) != "number" {
		i, err := d.skip(i, depth)
		return sql.NullFloat64{}, i, err
	}
	end, err := d.number(i)
	if err != nil {
		return sql.NullFloat64{}, end, err
	}
	f, ok := parseFloat(d.b[i:end])
	if !ok {
		return sql.NullFloat64{}, end, nil
	}
	return sql.NullFloat64{Float64: f, Valid: true}, end, nil
}

// plainFloat parses the usual shape of a timestamp at b[i] in one pass:
// a positive number with at most 19 digits, a fraction or none, and no
// exponent, such as 1795591671403.001. It reports false for anything else,
// valid or not, which the caller then parses in full.
func (d *decoder) plainFloat(i int) (float64, int, bool) {
	b := d.b
	if b[i] < '1' || b[i] > '9' {
		return 0, i, false
	}
	var mant uint64
	j := i
	for j < len(b) && isDigit(b[j]) {
		mant = mant*10 + uint64(b[j]-'0')
		j++
	}
	nd, frac := j-i, 0
	if j < len(b) && b[j] == '.' {
		k := j + 1
		for k < len(b) && isDigit(b[k]) {
			mant = mant*10 + uint64(b[k]-'0')
			k++
		}
		frac = k - j - 1
		if frac == 0 {
			return 0, i, false
		}
		nd += frac
		j = k
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') || nd > 19 || mant >= 1<<53 || frac > 22 {
		return 0, i, false
	}
	return float64(mant) / pow10[frac], j, true
}

// content parses value.content at b[i].
func (d *decoder) content(i int) (int, error) {
	m := d.m
	m.resetContent()
	start := i
	d.space = false
	var err error
	switch d.b[i] {
	case '"':
		m.IsPrivate = true
		m.Content, i, err = d.str(i)
		return i, err
	case '{':
		i, err = d.contentObject(i)
	default:
		i, err = d.skip(i, 2)
	}
	if err != nil {
		return i, err
	}
	raw := d.b[start:i]
	if d.space {
		n := len(m.buf)
		m.buf = appendCompact(m.buf, raw)
		m.Content = bytesString(m.buf[n:])
	} else {
		m.Content = bytesString(raw)
	}
	return i, nil
}

// contentObject parses a content object at b[i] (depth 3), collecting links
// and the contact and about fields.
func (d *decoder) contentObject(i int) (int, error) {
	const depth = 3
	m := d.m
	d.seen = 0
	i, more, err := d.openObject(i)
	for more && err == nil {
		var name []byte
		if name, i, err = d.member(i); err != nil {
			return i, err
		}
		c := d.b[i]
		switch string(name) {
		case "type":
			m.Type = ""
			if c == '"' {
				m.Type, i, err = d.str(i)
			} else {
				i, err = d.skip(i, depth)
			}
		case "vote":
			d.repeat(seenVote, RelVote)
			if c == '{' {
				var link sql.NullString
				if link, i, err = d.linkObject(i, depth+1); link.Valid {
					m.Links = append(m.Links, Link{To: link.String, Rel: RelVote})
				}
			} else {
				i, err = d.skip(i, depth)
			}
		case "root":
			d.repeat(seenRoot, RelRoot)
			i, err = d.linkString(i, depth, RelRoot)
		case "fork":
			d.repeat(seenFork, RelFork)
			i, err = d.linkString(i, depth, RelFork)
		case "branch":
			d.repeat(seenBranch, RelBranch)
			if c == '[' {
				i, err = d.linkArray(i, depth+1, RelBranch, false)
			} else {
				i, err = d.linkString(i, depth, RelBranch)
			}
		case "mentions":
			d.repeat(seenMentions, RelMention)
			if c == '[' {
				i, err = d.linkArray(i, depth+1, RelMention, true)
			} else {
				i, err = d.skip(i, depth)
			}
		case "contact":
			d.repeat(seenContact, RelContact)
			m.Contact, i, err = d.optString(i, depth)
			if m.Contact.Valid {
				m.Links = append(m.Links, Link{To: m.Contact.String, Rel: RelContact})
			}
		case "about":
			d.repeat(seenAbout, RelAbout)
			m.About, i, err = d.optString(i, depth)
			if m.About.Valid {
				m.Links = append(m.Links, Link{To: m.About.String, Rel: RelAbout})
			}
		case "following":
			m.Following, i, err = d.optBool(i, depth)
		case "blocking":
			m.Blocking, i, err = d.optBool(i, depth)
		case "name":
			m.Name, i, err = d.optString(i, depth)
		case "description":
			m.Description, i, err = d.optString(i, depth)
		case "image":
			if c == '{' {
				m.Image, i, err = d.linkObject(i, depth+1)
			} else {
				m.Image, i, err = d.optString(i, depth)
			}
		default:
			i, err = d.skip(i, depth)
		}
		if err == nil {
			i, more, err = d.nextMember(i)
		}
	}
	if err != nil {
		return i, err
	}
	if m.Type != "contact" {
		m.Contact, m.Following, m.Blocking = sql.NullString{}, sql.NullBool{}, sql.NullBool{}
	}
	if m.Type != "about" {
		m.About, m.Name, m.Description, m.Image = sql.NullString{}, sql.NullString{}, sql.NullString{}, sql.NullString{}
	}
	return i, nil
}

// repeat records that a link-producing content member was seen; when it was
// seen before, the links it produced then are dropped (the last one wins).
func (d *decoder) repeat(bit uint8, rel string) {
	if d.seen&bit == 0 {
		d.seen |= bit
		return
	}
	links := d.m.Links[:0]
	for _, l := range d.m.Links {
		if l.Rel != rel {
			links = append(links, l)
		}
	}
	clear(d.m.Links[len(links):])
	d.m.Links = links
}

// optString returns the string at b[i], or an unset result for any other value.
func (d *decoder) optString(i, depth int) (sql.NullString, int, error) {
	if d.b[i] != '"' {
		i, err := d.skip(i, depth)
		return sql.NullString{}, i, err
	}
	s, i, err := d.str(i)
	return sql.NullString{String: s, Valid: true}, i, err
}

// optBool returns the boolean at b[i], or an unset result for any other value.
func (d *decoder) optBool(i, depth int) (sql.NullBool, int, error) {
	var v sql.NullBool
	switch d.b[i] {
	case 't':
		v = sql.NullBool{Bool: true, Valid: true}
	case 'f':
		v = sql.NullBool{Bool: false, Valid: true}
	}
	i, err := d.skip(i, depth)
	if err != nil {
		return sql.NullBool{}, i, err
	}
	return v, i, nil
}

// linkString appends a link when b[i] is a string, and skips any other value.
func (d *decoder) linkString(i, depth int, rel string) (int, error) {
	if d.b[i] != '"' {
		return d.skip(i, depth)
	}
	s, i, err := d.str(i)
	if err == nil {
		d.m.Links = append(d.m.Links, Link{To: s, Rel: rel})
	}
	return i, err
}

// linkArray parses an array at b[i] (at depth), appending a link for each
// string element and, when objects is set, for each object element with a
// string "link".
func (d *decoder) linkArray(i, depth int, rel string, objects bool) (int, error) {
	if depth > maxDepth {
		return i, d.syntax(i, "exceeded max depth")
	}
	i, more, err := d.openArray(i)
	for more && err == nil {
		switch c := d.b[i]; {
		case c == '"':
			i, err = d.linkString(i, depth, rel)
		case c == '{' && objects:
			var link sql.NullString
			if link, i, err = d.linkObject(i, depth+1); link.Valid {
				d.m.Links = append(d.m.Links, Link{To: link.String, Rel: rel})
			}
		default:
			i, err = d.skip(i, depth)
		}
		if err == nil {
			i, more, err = d.nextElement(i)
		}
	}
	return i, err
}

// linkObject parses an object at b[i] (at depth) and returns its "link"
// member when that is a string.
func (d *decoder) linkObject(i, depth int) (sql.NullString, int, error) {
	var link sql.NullString
	if depth > maxDepth {
		return link, i, d.syntax(i, "exceeded max depth")
	}
	i, more, err := d.openObject(i)
	for more && err == nil {
		var name []byte
		if name, i, err = d.member(i); err != nil {
			return link, i, err
		}
		if string(name) == "link" {
			link, i, err = d.optString(i, depth)
		} else {
			i, err = d.skip(i, depth)
		}
		if err == nil {
			i, more, err = d.nextMember(i)
		}
	}
	if err != nil {
		return sql.NullString{}, i, err
	}
	return link, i, nil
}

// ---- JSON grammar ----

// skipSpace returns the index of the first non-whitespace byte at or after i,
// noting in d.space whether it skipped any.
func (d *decoder) skipSpace(i int) int {
	b := d.b
	if i < len(b) && b[i] > ' ' { // compact JSON
		return i
	}
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			d.space = true
			i++
		default:
			return i
		}
	}
	return i
}

// openObject starts an object at b[i] == '{'. It returns the index of the
// first member's name and true, or the index after "}" and false.
func (d *decoder) openObject(i int) (int, bool, error) {
	i = d.skipSpace(i + 1)
	if i < len(d.b) {
		switch d.b[i] {
		case '"':
			return i, true, nil
		case '}':
			return i + 1, false, nil
		}
	}
	return i, false, d.unexpected(i, "looking for beginning of object key string")
}

// nextMember continues an object after a member's value at b[i]: it returns
// the index of the next member's name and true, or the index after "}" and
// false.
func (d *decoder) nextMember(i int) (int, bool, error) {
	i = d.skipSpace(i)
	if i < len(d.b) {
		switch d.b[i] {
		case ',':
			i = d.skipSpace(i + 1)
			if i < len(d.b) && d.b[i] == '"' {
				return i, true, nil
			}
			return i, false, d.unexpected(i, "looking for beginning of object key string")
		case '}':
			return i + 1, false, nil
		}
	}
	return i, false, d.unexpected(i, "after object key:value pair")
}

// member parses a member's name at b[i] == '"' and the colon after it. It
// returns the name, unescaped (valid until the next call), and the index of
// the value, which is in range.
func (d *decoder) member(i int) ([]byte, int, error) {
	end, esc, _, err := d.scanString(i)
	if err != nil {
		return nil, end, err
	}
	name := d.b[i+1 : end-1]
	if esc {
		d.m.name = appendUnquoted(d.m.name[:0], name)
		name = d.m.name
	}
	i = d.skipSpace(end)
	if i >= len(d.b) || d.b[i] != ':' {
		return nil, i, d.unexpected(i, "after object key")
	}
	i = d.skipSpace(i + 1)
	if i >= len(d.b) {
		return nil, i, d.unexpected(i, "")
	}
	return name, i, nil
}

// openArray starts an array at b[i] == '['. It returns the index of the first
// element and true, or the index after "]" and false.
func (d *decoder) openArray(i int) (int, bool, error) {
	i = d.skipSpace(i + 1)
	if i >= len(d.b) {
		return i, false, d.unexpected(i, "")
	}
	if d.b[i] == ']' {
		return i + 1, false, nil
	}
	return i, true, nil
}

// nextElement continues an array after an element at b[i]: it returns the
// index of the next element and true, or the index after "]" and false.
func (d *decoder) nextElement(i int) (int, bool, error) {
	i = d.skipSpace(i)
	if i < len(d.b) {
		switch d.b[i] {
		case ',':
			i = d.skipSpace(i + 1)
			if i >= len(d.b) {
				return i, false, d.unexpected(i, "")
			}
			return i, true, nil
		case ']':
			return i + 1, false, nil
		}
	}
	return i, false, d.unexpected(i, "after array element")
}

// skip validates and skips the value at b[i] (i in range), which is inside a
// container at depth, and returns the index after it.
func (d *decoder) skip(i, depth int) (int, error) {
	switch c := d.b[i]; c {
	case '"':
		end, _, _, err := d.scanString(i)
		return end, err
	case '{':
		return d.skipObject(i, depth+1)
	case '[':
		return d.skipArray(i, depth+1)
	case 't':
		return d.literal(i, "true")
	case 'f':
		return d.literal(i, "false")
	case 'n':
		return d.literal(i, "null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.number(i)
	default:
		return i, d.unexpected(i, "looking for beginning of value")
	}
}

func (d *decoder) skipObject(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, d.syntax(i, "exceeded max depth")
	}
	i, more, err := d.openObject(i)
	for more && err == nil {
		if i, err = d.skipMemberName(i); err != nil {
			return i, err
		}
		if i, err = d.skip(i, depth); err != nil {
			return i, err
		}
		i, more, err = d.nextMember(i)
	}
	return i, err
}

// skipMemberName is member without unescaping the name.
func (d *decoder) skipMemberName(i int) (int, error) {
	end, _, _, err := d.scanString(i)
	if err != nil {
		return end, err
	}
	i = d.skipSpace(end)
	if i >= len(d.b) || d.b[i] != ':' {
		return i, d.unexpected(i, "after object key")
	}
	i = d.skipSpace(i + 1)
	if i >= len(d.b) {
		return i, d.unexpected(i, "")
	}
	return i, nil
}

func (d *decoder) skipArray(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, d.syntax(i, "exceeded max depth")
	}
	i, more, err := d.openArray(i)
	for more && err == nil {
		if i, err = d.skip(i, depth); err != nil {
			return i, err
		}
		i, more, err = d.nextElement(i)
	}
	return i, err
}

func (d *decoder) literal(i int, lit string) (int, error) {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(d.b) || d.b[i+j] != lit[j] {
			return i + j, d.unexpected(i+j, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// number validates the number at b[i] and returns the index after it.
func (d *decoder) number(i int) (int, error) {
	b := d.b
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = digits(b, i+1)
	default:
		return i, d.unexpected(i, "in numeric literal")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return i, d.unexpected(i, "after decimal point in numeric literal")
		}
		i = digits(b, i+1)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return i, d.unexpected(i, "in exponent of numeric literal")
		}
		i = digits(b, i+1)
	}
	return i, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func digits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

// ---- strings ----

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// scanString validates the string at b[i] == '"' and returns the index after
// its closing quote, whether it contains escapes, and whether it may contain
// bytes >= 0x80 (possibly a false positive, never a false negative).
//
// Strings without escapes, nearly all of them, take a fast path: the first
// 64 bytes (member names, ids) are checked eight at a time; in a longer
// string the closing quote is found with bytes.IndexByte (vectorized), and
// the bytes before it are checked for backslashes (vectorized too) and
// control bytes (eight at a time). Anything else goes to scanStringSlow.
func (d *decoder) scanString(i int) (end int, esc, high bool, err error) {
	start := i + 1
	if start > len(d.b) {
		return d.scanStringSlow(i)
	}
	s := d.b[start:]
	var hi uint64
	for k := 0; k < 64 && len(s)-k >= 8; k += 8 {
		w := binary.LittleEndian.Uint64(s[k:])
		if m := specialBytes(w); m != 0 {
			n := bits.TrailingZeros64(m) >> 3
			if s[k+n] != '"' {
				return d.scanStringSlow(i)
			}
			hi |= w & (1<<(8*n) - 1)
			return start + k + n + 1, false, hi&highs != 0, nil
		}
		hi |= w
	}
	q := bytes.IndexByte(s, '"')
	if q < 0 {
		return d.scanStringSlow(i)
	}
	span := s[:q]
	if bytes.IndexByte(span, '\\') >= 0 {
		return d.scanStringSlow(i)
	}
	var ctl uint64
	if len(span) >= 8 {
		for len(span) > 8 {
			w := binary.LittleEndian.Uint64(span)
			ctl |= (w - ones*0x20) &^ w
			hi |= w
			span = span[8:]
		}
		// The last (up to) eight bytes, overlapping what was checked.
		w := binary.LittleEndian.Uint64(s[q-8 : q])
		ctl |= (w - ones*0x20) &^ w
		hi |= w
	} else {
		for _, c := range span {
			ctl |= (uint64(c) - 0x20) &^ uint64(c)
			hi |= uint64(c)
		}
	}
	if ctl&highs != 0 {
		return d.scanStringSlow(i)
	}
	return start + q + 1, false, hi&highs != 0, nil
}

// specialBytes returns the high bit of each byte of w that is '"', '\\' or
// a control byte; bits above the lowest set one may be false positives.
func specialBytes(w uint64) uint64 {
	// x^2 maps '"' (0x22) to 0x20 and control bytes to control bytes, so
	// one "less than 0x21" test finds both; '\\' is tested for equality.
	q := w ^ (ones * 0x02)
	s := w ^ (ones * '\\')
	return (((q - ones*0x21) &^ q) | ((s - ones) &^ s)) & highs
}

// scanStringSlow is scanString for any string, escapes and errors included.
func (d *decoder) scanStringSlow(i int) (end int, esc, high bool, err error) {
	b := d.b
	i++
	var hi uint64
	for {
		// Eight bytes at a time: find the first '"', '\\' or control byte.
		for i+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[i:])
			hi |= w
			if mask := specialBytes(w); mask != 0 {
				i += bits.TrailingZeros64(mask) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return i, esc, hi&highs != 0, d.unexpected(i, "")
		}
		c := b[i]
		switch {
		case c == '"':
			return i + 1, esc, hi&highs != 0, nil
		case c == '\\':
			esc = true
			if i+1 >= len(b) {
				return i + 1, esc, false, d.unexpected(i+1, "")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(b) || !isHex(b[j]) {
						return j, esc, false, d.unexpected(j, "in \\u hexadecimal character escape")
					}
				}
				i += 6
			default:
				return i + 1, esc, false, d.unexpected(i+1, "in string escape code")
			}
		case c < 0x20:
			return i, esc, false, d.unexpected(i, "in string literal")
		default:
			hi |= uint64(c)
			i++
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// str parses the string at b[i] == '"' and returns its value, aliasing the
// payload when it needs no rewriting and m.buf otherwise.
func (d *decoder) str(i int) (string, int, error) {
	end, esc, high, err := d.scanString(i)
	if err != nil {
		return "", end, err
	}
	raw := d.b[i+1 : end-1]
	if !esc && (!high || utf8.Valid(raw)) {
		return bytesString(raw), end, nil
	}
	n := len(d.m.buf)
	d.m.buf = appendUnquoted(d.m.buf, raw)
	return bytesString(d.m.buf[n:]), end, nil
}

// appendUnquoted appends the value of the JSON string body raw, which
// scanString has validated, decoding escapes and replacing each invalid
// UTF-8 byte and unpaired surrogate with U+FFFD, exactly as encoding/json.
func appendUnquoted(dst, raw []byte) []byte {
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch e := raw[i+1]; e {
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r := hex4(raw[i+2:])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2 = hex4(raw[i+2:])
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default: // '"', '\\', '/'
				dst = append(dst, e)
			}
			i += 2
		case c < utf8.RuneSelf:
			j := i + 1
			for j < len(raw) && raw[j] < utf8.RuneSelf && raw[j] != '\\' {
				j++
			}
			dst = append(dst, raw[i:j]...)
			i = j
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				dst = utf8.AppendRune(dst, utf8.RuneError)
			} else {
				dst = append(dst, raw[i:i+size]...)
			}
			i += size
		}
	}
	return dst
}

// hex4 decodes four validated hex digits.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// appendCompact appends the validated JSON text src without insignificant
// whitespace, copying runs of other bytes and whole strings at once.
func appendCompact(dst, src []byte) []byte {
	for len(src) > 0 {
		i := 0
		for i < len(src) && src[i] > ' ' && src[i] != '"' {
			i++
		}
		dst = append(dst, src[:i]...)
		src = src[i:]
		switch {
		case len(src) == 0:
		case src[0] == '"':
			// The closing quote is the first one not escaped, that is, not
			// preceded by an odd number of backslashes.
			end := 1
			for {
				end += bytes.IndexByte(src[end:], '"')
				n := 0
				for src[end-1-n] == '\\' {
					n++
				}
				if n%2 == 0 {
					break
				}
				end++
			}
			dst = append(dst, src[:end+1]...)
			src = src[end+1:]
		default: // whitespace: the only bytes <= ' ' outside strings
			i = 1
			for i < len(src) && src[i] <= ' ' {
				i++
			}
			src = src[i:]
		}
	}
	return dst
}

// bytesString returns b as a string without copying; b must not change while
// the string is in use (the aliasing contract of Message).
func bytesString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// ---- numbers ----

// pow10 holds the powers of ten that are exact in a float64.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat converts a validated JSON number. It reports false when the
// number is out of the range of float64.
func parseFloat(s []byte) (float64, bool) {
	// Fast path (Clinger): a mantissa below 2^53 and a power of ten that is
	// exact in a float64 give a correctly rounded result with one
	// multiplication or division. Timestamps are like 1795591671403.001.
	i, neg := 0, false
	if s[0] == '-' {
		neg, i = true, 1
	}
	var mant uint64
	nd, exp := 0, 0
	for ; i < len(s) && isDigit(s[i]); i++ {
		mant = mant*10 + uint64(s[i]-'0')
		nd++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && isDigit(s[i]); i++ {
			mant = mant*10 + uint64(s[i]-'0')
			nd++
			exp--
		}
	}
	if i < len(s) { // exponent
		i++
		eneg := false
		if s[i] == '+' || s[i] == '-' {
			eneg = s[i] == '-'
			i++
		}
		if len(s)-i > 4 {
			nd = 99 // let strconv deal with it
		}
		e := 0
		for ; i < len(s); i++ {
			e = e*10 + int(s[i]-'0')
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	if nd <= 19 && mant < 1<<53 && -22 <= exp && exp <= 22 {
		f := float64(mant)
		if exp < 0 {
			f /= pow10[-exp]
		} else {
			f *= pow10[exp]
		}
		if neg {
			f = -f
		}
		return f, true
	}
	f, err := strconv.ParseFloat(bytesString(s), 64)
	return f, err == nil
}

// parseInt converts a validated JSON number to an int64, reporting false
// when it is not an integer or does not fit.
func parseInt(s []byte) (int64, bool) {
	if len(s) <= 18 {
		i, neg := 0, false
		if s[0] == '-' {
			neg, i = true, 1
		}
		var n int64
		for ; i < len(s) && isDigit(s[i]); i++ {
			n = n*10 + int64(s[i]-'0')
		}
		if i == len(s) {
			if neg {
				n = -n
			}
			return n, true
		}
	}
	if n, err := strconv.ParseInt(bytesString(s), 10, 64); err == nil {
		return n, true
	}
	f, ok := parseFloat(s)
	if !ok || f != math.Trunc(f) || f < -(1<<63) || f >= 1<<63 {
		return 0, false
	}
	return int64(f), true
}
