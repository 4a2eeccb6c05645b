package ssb

import (
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/view"
)

var _ view.IndexBuilder = (*writer)(nil)

// BuildIndex implements view.IndexBuilder. Before the first index, the
// contact and about messages a catch-up deferred (see Apply) are folded into
// contacts and abouts. The last index is the unique index on messages.key.
// Without it, a catch-up lets in every copy of a message that the log holds
// more than once. In seq order the first copy wins and later ones are
// skipped, so before the index is created the later copies are removed,
// with their links, and the contacts and abouts they touched are
// recomputed from the messages that remain. A log without copies (the
// usual case) costs only the attempt to create the index. The other
// indexes are plain statements.
func (w *writer) BuildIndex(tx *view.Tx, i int) error {
	c := tx.Conn()
	idx := View{}.Indexes()
	if i == 0 {
		if err := foldPending(c); err != nil {
			return fmt.Errorf("fold contacts_abouts_pending: %w", err)
		}
	}
	if i != len(idx)-1 {
		return c.Exec(idx[i])
	}
	if err := c.Exec("SAVEPOINT messages_key"); err != nil {
		return err
	}
	err := c.Exec(idx[i])
	if err == nil {
		return c.Exec("RELEASE messages_key")
	}
	if !sqlite.IsConstraint(err) {
		return err
	}
	if err := c.Exec("ROLLBACK TO messages_key; RELEASE messages_key"); err != nil {
		return err
	}
	if err := w.dedupe(c); err != nil {
		return fmt.Errorf("remove copies of messages: %w", err)
	}
	return c.Exec(idx[i])
}

// foldPending sets the contacts and abouts rows from the messages in
// contacts_abouts_pending, in the order of their primary keys (so the b-trees
// are written front to back), and empties it.
func foldPending(c *view.Conn) error {
	return c.Exec(insertContact + `
SELECT author_id, subject, following, iif(following IS NULL, NULL, seq), blocking, iif(blocking IS NULL, NULL, seq)
  FROM contacts_abouts_pending WHERE type = 'contact' ORDER BY author_id, subject, seq` + upsertContact + `;
` + insertAbout + `
SELECT subject, author_id, name, iif(name IS NULL, NULL, seq), description, iif(description IS NULL, NULL, seq), image, iif(image IS NULL, NULL, seq)
  FROM contacts_abouts_pending WHERE type = 'about' ORDER BY subject, author_id, seq` + upsertAbout + `;
DELETE FROM contacts_abouts_pending`)
}

// dedupe removes every message whose key a message with a lower seq has,
// and their links, then recomputes the contacts and abouts they touched.
func (w *writer) dedupe(c *view.Conn) error {
	if err := c.Exec(`CREATE TEMP TABLE ssb_copies AS
  SELECT m.seq, m.author_id, m.type, m.content FROM messages m
  JOIN (SELECT key, min(seq) AS first FROM messages GROUP BY key HAVING count(*) > 1) d
    ON m.key = d.key AND m.seq > d.first`); err != nil {
		return err
	}
	defer c.Exec(`DROP TABLE IF EXISTS temp.ssb_copies`)
	copies, err := c.Prepare(`SELECT seq, author_id, type, content FROM temp.ssb_copies ORDER BY seq`)
	if err != nil {
		return err
	}
	defer copies.Close()
	affected := map[recomputeKey]bool{}
	rows, err := copies.Query()
	if err != nil {
		return err
	}
	var m Message
	for rows.Next() {
		author, typ := rows.Int(1), rows.Text(2)
		if typ != "contact" && typ != "about" {
			continue
		}
		if err := decodeContent(rows.Text(3), &m); err != nil {
			continue
		}
		if m.Contact.Valid && typ == "contact" {
			affected[recomputeKey{"contact", author, strings.Clone(m.Contact.String)}] = true
		}
		if m.About.Valid && typ == "about" {
			affected[recomputeKey{"about", author, strings.Clone(m.About.String)}] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if err := c.Exec(`DELETE FROM links WHERE from_seq IN (SELECT seq FROM temp.ssb_copies);
DELETE FROM messages WHERE seq IN (SELECT seq FROM temp.ssb_copies)`); err != nil {
		return err
	}
	return w.recompute(c, affected)
}

// recompute rebuilds the given contacts rows (author, contact) and abouts
// rows (about, author) from the remaining messages, each author's read
// once, in seq order.
func (w *writer) recompute(c *view.Conn, rows map[recomputeKey]bool) error {
	type group struct {
		typ    string
		author int64
	}
	groups := map[group]map[string]bool{}
	for k := range rows {
		g := group{k.typ, k.author}
		if groups[g] == nil {
			groups[g] = map[string]bool{}
		}
		groups[g][k.id] = true
	}
	delContact, err := c.Prepare(`DELETE FROM contacts WHERE author_id = ? AND contact = ?`)
	if err != nil {
		return err
	}
	defer delContact.Close()
	delAbout, err := c.Prepare(`DELETE FROM abouts WHERE author_id = ? AND about = ?`)
	if err != nil {
		return err
	}
	defer delAbout.Close()
	q, err := c.Prepare(`SELECT seq, content FROM messages WHERE author_id = ? AND type = ? ORDER BY seq`)
	if err != nil {
		return err
	}
	defer q.Close()
	for g, ids := range groups {
		del := delContact
		if g.typ == "about" {
			del = delAbout
		}
		for id := range ids {
			del.Int(g.author)
			del.Text(id)
		}
		if err := del.Exec(); err != nil {
			return err
		}
		if err := w.reapply(q, g.typ, g.author, ids); err != nil {
			return err
		}
	}
	if err := w.upContact.Exec(); err != nil {
		return err
	}
	return w.upAbout.Exec()
}

// reapply applies again, in seq order, the author's messages of type typ
// about the given ids.
func (w *writer) reapply(q *view.Stmt, typ string, author int64, ids map[string]bool) error {
	q.Int(author)
	q.Text(typ)
	rows, err := q.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	var m Message
	for rows.Next() {
		if err := decodeContent(rows.Text(1), &m); err != nil {
			continue
		}
		seq := rows.Int(0)
		switch {
		case typ == "contact" && m.Contact.Valid && ids[m.Contact.String] && (m.Following.Valid || m.Blocking.Valid):
			w.upContact.Int(author)
			w.upContact.Text(m.Contact.String)
			setBool(w.upContact, m.Following.Valid, m.Following.Bool, seq)
			setBool(w.upContact, m.Blocking.Valid, m.Blocking.Bool, seq)
		case typ == "about" && m.About.Valid && ids[m.About.String] && (m.Name.Valid || m.Description.Valid || m.Image.Valid):
			w.upAbout.Text(m.About.String)
			w.upAbout.Int(author)
			setText(w.upAbout, m.Name.Valid, m.Name.String, seq)
			setText(w.upAbout, m.Description.Valid, m.Description.String, seq)
			setText(w.upAbout, m.Image.Valid, m.Image.String, seq)
		}
	}
	return rows.Err()
}

// decodeContent decodes a stored content column with the same rules as the
// whole message it came from, by wrapping it in a minimal message.
func decodeContent(content string, m *Message) error {
	wrapped := `{"key":"%","value":{"author":"@","sequence":0,"content":` + content + `}}`
	return Decode([]byte(wrapped), m)
}
