package ssb

import (
	"fmt"
	"strings"

	"github.com/sluicedb/sluice/internal/sqlite"
	"github.com/sluicedb/sluice/view"
)

var _ view.IndexBuilder = (*writer)(nil)

// BuildIndexes implements view.IndexBuilder. Without the unique index on
// messages.key, a catch-up lets in every copy of a message that the log
// holds more than once. In seq order the first copy wins and later ones
// are skipped, so before the index is created the later copies are
// removed, with their links, and the contacts and abouts they touched are
// recomputed from the messages that remain. A log without copies (the
// usual case) costs only the attempt to create the index.
func (w *writer) BuildIndexes(tx *view.Tx) error {
	c := tx.Conn()
	idx := View{}.Indexes()
	if err := c.Exec("SAVEPOINT messages_key"); err != nil {
		return err
	}
	err := c.Exec(idx[0])
	if err == nil {
		if err := c.Exec("RELEASE messages_key"); err != nil {
			return err
		}
	} else {
		if !sqlite.IsConstraint(err) {
			return err
		}
		if err := c.Exec("ROLLBACK TO messages_key; RELEASE messages_key"); err != nil {
			return err
		}
		if err := w.dedupe(c); err != nil {
			return fmt.Errorf("remove copies of messages: %w", err)
		}
		if err := c.Exec(idx[0]); err != nil {
			return err
		}
	}
	for _, stmt := range idx[1:] {
		if err := c.Exec(stmt); err != nil {
			return err
		}
	}
	return nil
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
	type pair struct {
		author int64
		id     string
	}
	contacts := map[pair]bool{}
	abouts := map[pair]bool{}
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
			contacts[pair{author, strings.Clone(m.Contact.String)}] = true
		}
		if m.About.Valid && typ == "about" {
			abouts[pair{author, strings.Clone(m.About.String)}] = true
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
	for p := range contacts {
		if err := w.recompute(c, "contact", p.author, p.id); err != nil {
			return err
		}
	}
	for p := range abouts {
		if err := w.recompute(c, "about", p.author, p.id); err != nil {
			return err
		}
	}
	return nil
}

// recompute rebuilds the contacts row (author, id) or the abouts row (id,
// author) from the author's remaining messages of that type, in seq order.
func (w *writer) recompute(c *view.Conn, typ string, author int64, id string) error {
	del := `DELETE FROM contacts WHERE author_id = ? AND contact = ?`
	if typ == "about" {
		del = `DELETE FROM abouts WHERE author_id = ? AND about = ?`
	}
	d, err := c.Prepare(del)
	if err != nil {
		return err
	}
	defer d.Close()
	d.Int(author)
	d.Text(id)
	if err := d.Exec(); err != nil {
		return err
	}
	q, err := c.Prepare(`SELECT seq, content FROM messages WHERE author_id = ? AND type = ? ORDER BY seq`)
	if err != nil {
		return err
	}
	defer q.Close()
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
		case typ == "contact" && m.Contact.Valid && m.Contact.String == id && (m.Following.Valid || m.Blocking.Valid):
			w.upContact.Int(author)
			w.upContact.Text(id)
			setBool(w.upContact, m.Following.Valid, m.Following.Bool, seq)
			setBool(w.upContact, m.Blocking.Valid, m.Blocking.Bool, seq)
		case typ == "about" && m.About.Valid && m.About.String == id && (m.Name.Valid || m.Description.Valid || m.Image.Valid):
			w.upAbout.Text(id)
			w.upAbout.Int(author)
			setText(w.upAbout, m.Name.Valid, m.Name.String, seq)
			setText(w.upAbout, m.Description.Valid, m.Description.String, seq)
			setText(w.upAbout, m.Image.Valid, m.Image.String, seq)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := w.upContact.Exec(); err != nil {
		return err
	}
	return w.upAbout.Exec()
}

// decodeContent decodes a stored content column with the same rules as the
// whole message it came from, by wrapping it in a minimal message.
func decodeContent(content string, m *Message) error {
	wrapped := `{"key":"%","value":{"author":"@","sequence":0,"content":` + content + `}}`
	return Decode([]byte(wrapped), m)
}
