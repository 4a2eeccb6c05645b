package ssb

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// Name is the name of the SSB view set, and of its view file.
const Name = "ssb"

// View is the built-in SSB view set: authors, messages, links, contacts and
// abouts, indexed from a log whose payloads are SSB messages (a
// flumelog-offset file such as ~/.ssb/flume/log.offset, or a native log
// imported from one).
//
// It accepts local entries ahead of the backlog: every table comes out the
// same whatever the order, because author ids are derived from the feed id
// and the "latest" values of contacts and abouts are decided by seq, not by
// arrival (the *_seq columns record which message set each value).
//
// While a view catches up from empty (none of its indexes built), the
// contact and about messages of the backlog are appended to
// contacts_abouts_pending instead, and folded into contacts and abouts,
// sorted, before the first index is built; local ones still set their rows
// at once. Readers see messages, links and authors grow during a catch-up,
// and contacts and abouts complete once it is done.
type View struct{}

var (
	_ view.View       = View{}
	_ view.Decoder    = View{}
	_ view.LocalAhead = View{}
)

// Name implements view.View.
func (View) Name() string { return Name }

// Version implements view.View. Bump it when the tables or what goes into
// them change: every SSB view file is then rebuilt from the log.
func (View) Version() int { return 2 }

// Schema implements view.View.
func (View) Schema() []string {
	return []string{
		`CREATE TABLE authors(
  id   INTEGER PRIMARY KEY,  -- derived from the feed id: the same in every build
  feed TEXT UNIQUE NOT NULL  -- @...ed25519
)`,
		`CREATE TABLE messages(
  seq         INTEGER PRIMARY KEY,  -- the entry's seq in the log
  key         TEXT NOT NULL,        -- %...sha256; unique (index messages_key)
  author_id   INTEGER NOT NULL REFERENCES authors(id),
  sequence    INTEGER NOT NULL,     -- position in the author's feed
  claimed_ts  REAL,                 -- value.timestamp, ms since 1970 (the author's claim)
  received_ts REAL,                 -- timestamp, ms since 1970 (when it was received)
  type        TEXT,                 -- content.type; NULL for private messages
  is_private  INTEGER NOT NULL,
  content     TEXT                  -- JSON text, or the boxed string of a private message
)`,
		`CREATE TABLE links(
  from_seq INTEGER NOT NULL,  -- messages.seq of the linking message
  to_key   TEXT NOT NULL,     -- the id linked to
  rel      TEXT NOT NULL      -- vote, root, branch, fork, mention, contact, about
)`,
		`CREATE TABLE contacts(
  author_id     INTEGER NOT NULL,
  contact       TEXT NOT NULL,
  following     INTEGER,  -- latest following value in log order; NULL if never set
  blocking      INTEGER,  -- latest blocking value in log order; NULL if never set
  following_seq INTEGER,  -- seq of the message that set following
  blocking_seq  INTEGER,  -- seq of the message that set blocking
  PRIMARY KEY (author_id, contact)
)`,
		`CREATE TABLE abouts(
  about           TEXT NOT NULL,     -- the subject: a feed, message or other id
  author_id       INTEGER NOT NULL,  -- who asserts it
  name            TEXT,              -- latest non-null value of each field
  description     TEXT,
  image           TEXT,              -- a blob id (the link of an image object)
  name_seq        INTEGER,
  description_seq INTEGER,
  image_seq       INTEGER,
  PRIMARY KEY (about, author_id)
)`,
		`CREATE TABLE contacts_abouts_pending(
  seq         INTEGER PRIMARY KEY,  -- a contact or about message indexed while catching up
  author_id   INTEGER NOT NULL,
  type        TEXT NOT NULL,        -- contact or about
  subject     TEXT NOT NULL,        -- contacts.contact or abouts.about
  following   INTEGER,              -- the values it sets; NULL if it does not
  blocking    INTEGER,
  name        TEXT,
  description TEXT,
  image       TEXT
)`,
	}
}

// Indexes implements view.View. They include the unique index on
// messages.key: while a view file catches up with a log from scratch, none
// of these exist (keeping them up to date row by row is what made initial
// sync slow: random inserts into big b-trees); they are built once, sorted,
// when it has caught up. See writer.BuildIndex for the contacts and abouts
// a catch-up defers, and for the duplicates.
func (View) Indexes() []string {
	return []string{
		// First: contacts and abouts are brought up to date before it.
		`CREATE INDEX contacts_contact ON contacts(contact)`,
		`CREATE INDEX messages_author_sequence ON messages(author_id, sequence)`,
		`CREATE INDEX messages_type ON messages(type, claimed_ts)`,
		`CREATE INDEX links_to_key ON links(to_key, rel)`,
		// Last: removing copies of messages first needs the author index.
		`CREATE UNIQUE INDEX messages_key ON messages(key)`,
	}
}

// AcceptsLocalAhead implements view.LocalAhead.
func (View) AcceptsLocalAhead() bool { return true }

// Decode implements view.Decoder: it parses the payload into a *Message.
// sluice's own entries (a JSON object with a top-level "sluice" member:
// tasks, their bookkeeping and answers) are not SSB messages and not
// errors either: Decode returns nil for them, and Apply skips them, so they
// are not recorded as rejects.
func (View) Decode(e log.Entry) (any, error) {
	m := new(Message)
	if err := Decode(e.Payload, m); err != nil {
		if isSluiceEntry(e.Payload) {
			return nil, nil
		}
		return nil, err
	}
	return m, nil
}

var sluiceMember = []byte(`"sluice"`)

// isSluiceEntry reports whether payload is a JSON object with a top-level
// "sluice" member. Decode asks only of payloads that are not messages.
func isSluiceEntry(payload []byte) bool {
	if !bytes.Contains(payload, sluiceMember) {
		return false
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(payload, &top) != nil {
		return false
	}
	_, ok := top["sluice"]
	return ok
}

// AuthorID returns the id of feed in the authors table, unless two feeds
// collide (then the second one seen takes the next free id). It is a hash
// of the feed id, so every build of the view, in any order, agrees.
func AuthorID(feed string) int64 {
	h := fnv.New64a()
	h.Write([]byte(feed))
	id := int64(h.Sum64() >> 1)
	if id == 0 {
		id = 1
	}
	return id
}

// Open implements view.View.
func (View) Open(c *view.Conn) (view.Writer, error) {
	w := &writer{c: c, authors: map[string]int64{}}
	for _, p := range []struct {
		s   **view.Stmt
		sql string
	}{
		{&w.insMessage, `INSERT INTO messages(seq, key, author_id, sequence, claimed_ts, received_ts, type, is_private, content) VALUES (?,?,?,?,?,?,?,?,?)`},
		{&w.insLink, `INSERT INTO links(from_seq, to_key, rel) VALUES (?,?,?)`},
		{&w.findAuthor, `SELECT id FROM authors WHERE feed = ?`},
		{&w.insAuthor, `INSERT OR IGNORE INTO authors(id, feed) VALUES (?, ?)`},
		{&w.findKey, `SELECT seq FROM messages WHERE key = ?`},
		{&w.delMessage, `DELETE FROM messages WHERE seq = ?`},
		{&w.delLinks, `DELETE FROM links WHERE from_seq = ?`},
		{&w.upContact, insertContact + ` VALUES (?,?,?,?,?,?)` + upsertContact},
		{&w.upAbout, insertAbout + ` VALUES (?,?,?,?,?,?,?,?)` + upsertAbout},
		{&w.insPending, `INSERT INTO contacts_abouts_pending(seq, author_id, type, subject, following, blocking, name, description, image) VALUES (?,?,?,?,?,?,?,?,?)`},
	} {
		s, err := c.Prepare(p.sql)
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("prepare %q: %w", p.sql, err)
		}
		*p.s = s
	}
	return w, nil
}

// The statements that set contacts and abouts rows: the value with the
// highest seq wins, whatever the order they come in.
const (
	insertContact = `INSERT INTO contacts(author_id, contact, following, following_seq, blocking, blocking_seq)`
	upsertContact = `
ON CONFLICT (author_id, contact) DO UPDATE SET
  following     = iif(excluded.following_seq > ifnull(contacts.following_seq, 0), excluded.following, contacts.following),
  following_seq = iif(excluded.following_seq > ifnull(contacts.following_seq, 0), excluded.following_seq, contacts.following_seq),
  blocking      = iif(excluded.blocking_seq > ifnull(contacts.blocking_seq, 0), excluded.blocking, contacts.blocking),
  blocking_seq  = iif(excluded.blocking_seq > ifnull(contacts.blocking_seq, 0), excluded.blocking_seq, contacts.blocking_seq)`
	insertAbout = `INSERT INTO abouts(about, author_id, name, name_seq, description, description_seq, image, image_seq)`
	upsertAbout = `
ON CONFLICT (about, author_id) DO UPDATE SET
  name            = iif(excluded.name_seq > ifnull(abouts.name_seq, 0), excluded.name, abouts.name),
  name_seq        = iif(excluded.name_seq > ifnull(abouts.name_seq, 0), excluded.name_seq, abouts.name_seq),
  description     = iif(excluded.description_seq > ifnull(abouts.description_seq, 0), excluded.description, abouts.description),
  description_seq = iif(excluded.description_seq > ifnull(abouts.description_seq, 0), excluded.description_seq, abouts.description_seq),
  image           = iif(excluded.image_seq > ifnull(abouts.image_seq, 0), excluded.image, abouts.image),
  image_seq       = iif(excluded.image_seq > ifnull(abouts.image_seq, 0), excluded.image_seq, abouts.image_seq)`
)

type writer struct {
	c *view.Conn
	// authors caches feed -> id for feeds known to be in the table.
	authors map[string]int64
	// replaced holds, during an Apply, the contacts and abouts rows that a
	// copy of a message indexed ahead (and now replaced) had touched.
	replaced map[recomputeKey]bool

	insMessage, insLink, findAuthor, insAuthor, findKey, delMessage, delLinks, upContact, upAbout, insPending *view.Stmt
}

// Apply implements view.Writer. While the view catches up (none of its
// indexes built yet), the contact and about messages of the backlog go to
// contacts_abouts_pending, appended in seq order, and BuildIndex folds them
// into contacts and abouts, sorted, when the catch-up is done: setting those
// rows one by one, at random places in their b-trees, was a sixth of a
// catch-up's time, and more once local entries make every commit write the
// pages touched since the one before. A local entry (the user's own) sets
// them at once: the rule that the highest seq wins makes the order of the
// two irrelevant.
func (w *writer) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	deferred := tx.IndexesDone() == 0
	for _, it := range items {
		m, isMsg := it.Value.(*Message)
		if !isMsg {
			continue // one of sluice's own entries
		}
		author, err := w.authorID(m.Author)
		if err != nil {
			return err
		}
		ok, err := w.insertMessage(it.Seq, author, m)
		if err != nil {
			return err
		}
		if !ok {
			continue // a copy of a message already indexed
		}
		seq := int64(it.Seq)
		for _, l := range m.Links {
			w.insLink.Int(seq)
			w.insLink.Text(l.To)
			w.insLink.Text(l.Rel)
		}
		if deferred && it.Origin != log.Local && w.deferPending(seq, author, m) {
			continue
		}
		if m.Type == "contact" && m.Contact.Valid && (m.Following.Valid || m.Blocking.Valid) {
			w.upContact.Int(author)
			w.upContact.Text(m.Contact.String)
			setBool(w.upContact, m.Following.Valid, m.Following.Bool, seq)
			setBool(w.upContact, m.Blocking.Valid, m.Blocking.Bool, seq)
		}
		if m.Type == "about" && m.About.Valid && (m.Name.Valid || m.Description.Valid || m.Image.Valid) {
			w.upAbout.Text(m.About.String)
			w.upAbout.Int(author)
			setText(w.upAbout, m.Name.Valid, m.Name.String, seq)
			setText(w.upAbout, m.Description.Valid, m.Description.String, seq)
			setText(w.upAbout, m.Image.Valid, m.Image.String, seq)
		}
	}
	for _, s := range []*view.Stmt{w.insLink, w.upContact, w.upAbout, w.insPending} {
		if err := s.Exec(); err != nil {
			return err
		}
	}
	if len(w.replaced) > 0 {
		if err := w.recompute(w.c, w.replaced); err != nil {
			return err
		}
		clear(w.replaced)
	}
	return nil
}

// deferPending adds a contact or about message to contacts_abouts_pending.
// It reports false for any other message.
func (w *writer) deferPending(seq, author int64, m *Message) bool {
	s := w.insPending
	switch {
	case m.Type == "contact" && m.Contact.Valid && (m.Following.Valid || m.Blocking.Valid):
		s.Int(seq)
		s.Int(author)
		s.Text("contact")
		s.Text(m.Contact.String)
		nullBool(s, m.Following.Valid, m.Following.Bool)
		nullBool(s, m.Blocking.Valid, m.Blocking.Bool)
		s.Null()
		s.Null()
		s.Null()
	case m.Type == "about" && m.About.Valid && (m.Name.Valid || m.Description.Valid || m.Image.Valid):
		s.Int(seq)
		s.Int(author)
		s.Text("about")
		s.Text(m.About.String)
		s.Null()
		s.Null()
		nullText(s, m.Name.Valid, m.Name.String)
		nullText(s, m.Description.Valid, m.Description.String)
		nullText(s, m.Image.Valid, m.Image.String)
	default:
		return false
	}
	return true
}

func nullBool(s *view.Stmt, valid, v bool) {
	switch {
	case !valid:
		s.Null()
	case v:
		s.Int(1)
	default:
		s.Int(0)
	}
}

func nullText(s *view.Stmt, valid bool, v string) {
	if valid {
		s.Text(v)
	} else {
		s.Null()
	}
}

// recomputeKey names a contacts row (typ "contact": author, contact) or an
// abouts row (typ "about": author, about).
type recomputeKey struct {
	typ    string
	author int64
	id     string
}

// setBool appends a value and the seq that set it, or two NULLs.
func setBool(s *view.Stmt, valid, v bool, seq int64) {
	if !valid {
		s.Null()
		s.Null()
		return
	}
	if v {
		s.Int(1)
	} else {
		s.Int(0)
	}
	s.Int(seq)
}

func setText(s *view.Stmt, valid bool, v string, seq int64) {
	if !valid {
		s.Null()
		s.Null()
		return
	}
	s.Text(v)
	s.Int(seq)
}

// insertMessage inserts the message row. It reports false when a message
// with the same key is already indexed at a lower seq (the entry is a
// copy). If the copy already indexed has the higher seq — it was a local
// entry applied ahead of the backlog — the lower seq takes its place, as
// it would have in seq order.
func (w *writer) insertMessage(seq log.Seq, author int64, m *Message) (bool, error) {
	s := w.insMessage
	s.Int(int64(seq))
	s.Text(m.Key)
	s.Int(author)
	s.Int(m.Sequence)
	nullFloat(s, m.ClaimedTS.Valid, m.ClaimedTS.Float64)
	nullFloat(s, m.ReceivedTS.Valid, m.ReceivedTS.Float64)
	if m.Type == "" {
		s.Null()
	} else {
		s.Text(m.Type)
	}
	if m.IsPrivate {
		s.Int(1)
	} else {
		s.Int(0)
	}
	s.Text(m.Content)
	err := s.Exec()
	if err == nil || !sqlite.IsConstraint(err) || !strings.Contains(err.Error(), "messages.key") {
		return err == nil, err
	}
	w.findKey.Text(m.Key)
	rows, qerr := w.findKey.Query()
	if qerr != nil {
		return false, qerr
	}
	var other log.Seq
	if rows.Next() {
		other = log.Seq(rows.Int(0))
	}
	rows.Close()
	if other == 0 || other < seq {
		return false, rows.Err()
	}
	// The copy at other may have set contacts or abouts values with its
	// seq: those rows are recomputed once this batch is written.
	if m.Type == "contact" && m.Contact.Valid {
		w.markReplaced(recomputeKey{"contact", author, m.Contact.String})
	}
	if m.Type == "about" && m.About.Valid {
		w.markReplaced(recomputeKey{"about", author, m.About.String})
	}
	for _, d := range []*view.Stmt{w.delMessage, w.delLinks} {
		d.Int(int64(other))
		if err := d.Exec(); err != nil {
			return false, err
		}
	}
	return w.insertMessage(seq, author, m)
}

func nullFloat(s *view.Stmt, valid bool, v float64) {
	if valid {
		s.Float(v)
	} else {
		s.Null()
	}
}

// authorID returns the author's id, adding the author to the table if it
// is new.
func (w *writer) authorID(feed string) (int64, error) {
	if id, ok := w.authors[feed]; ok {
		return id, nil
	}
	feed = strings.Clone(feed) // the cache must not pin the payload
	w.findAuthor.Text(feed)
	rows, err := w.findAuthor.Query()
	if err != nil {
		return 0, err
	}
	found := rows.Next()
	var id int64
	if found {
		id = rows.Int(0)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if !found {
		// Probe from the hash: a collision (another feed holds the id)
		// moves on to the next id.
		for id = AuthorID(feed); ; id++ {
			w.insAuthor.Int(id)
			w.insAuthor.Text(feed)
			if err := w.insAuthor.Exec(); err != nil {
				return 0, err
			}
			if w.c.Changes() == 1 {
				break
			}
		}
	}
	w.authors[feed] = id
	return id, nil
}

// Close implements view.Writer.
func (w *writer) Close() error {
	for _, s := range []*view.Stmt{w.insMessage, w.insLink, w.findAuthor, w.insAuthor, w.findKey, w.delMessage, w.delLinks, w.upContact, w.upAbout, w.insPending} {
		if s != nil {
			s.Close()
		}
	}
	return nil
}

func (w *writer) markReplaced(k recomputeKey) {
	if w.replaced == nil {
		w.replaced = map[recomputeKey]bool{}
	}
	k.id = strings.Clone(k.id)
	w.replaced[k] = true
}
