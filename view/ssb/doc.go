// Package ssb is the built-in SSB view set: it indexes Secure Scuttlebutt
// messages (from an ~/.ssb/flume/log.offset read in place, or a sluice log
// imported from one) into five tables that answer the usual questions from
// the sqlite3 shell:
//
//	authors(id, feed)
//	messages(seq, key, author_id, sequence, claimed_ts, received_ts, type, is_private, content)
//	links(from_seq, to_key, rel)
//	contacts(author_id, contact, following, blocking, following_seq, blocking_seq)
//	abouts(about, author_id, name, description, image, name_seq, description_seq, image_seq)
//
// While a view catches up from empty, the backlog's contact and about
// messages wait in contacts_abouts_pending and are folded into contacts and
// abouts when it has caught up (see View).
//
// Decode is a single-pass parser of SSB message JSON (compact or indented)
// that extracts just what the tables need, without reflection or
// allocations; View is the view.View that writes the tables.
//
//	f, err := view.OpenFile("views/ssb.db", []view.View{ssb.View{}}, view.Options{})
package ssb
