// Package lattice is the built-in lattice view: dictionaries of
// dictionaries (namespace -> key -> field -> value) merged field by field
// from deltas that may arrive late, twice or in any order, with shared keys
// every user sees and private keys per user. (The term and the chat example
// come from the Swindon gateway's lattices.)
//
// # Deltas
//
// A delta is a log entry whose payload is a JSON object marked with
// "sluice": "lattice" (see Marker):
//
//	{"sluice": "lattice", "namespace": "chat.rooms",
//	 "shared":  {"room1": {"last_message_counter": 123}},
//	 "private": {"7777": {"room1": {"last_seen_counter": 120}}}}
//
// Entries without the marker are not deltas: the view ignores them (other
// views index them). A marked entry that is malformed — not valid JSON
// (text holding the member "sluice": "lattice" counts as marked), bytes
// that are not UTF-8 or \u escapes of lone surrogates (which would read as
// U+FFFD, merging keys that differ there), an unknown member, no
// namespace, a name given twice, a field name without a known suffix, a
// value of the wrong type — is rejected whole: recorded in sluice_rejects
// with a message naming the namespace, user, key and field, and nothing of
// it is applied.
//
// # Merging by suffix
//
// A field's name ends in a suffix that gives its kind and how two values
// merge:
//
//   - _counter: an integer (int64, written without fraction or exponent;
//     1.5, 2.0 and 1e3 are refused); the greater wins. Negative values are
//     allowed and merge the same way.
//   - _set: an array of JSON scalars (strings, numbers, true, false,
//     null); sets merge by union. Members are kept in canonical JSON (see
//     below) and sorted by its bytes, so ["b", 10, 9] reads back as
//     ["b",10,9] and "b" sorts before the numbers ('"' is 0x22).
//   - _register: [version, value], an integer version and any JSON value;
//     the higher version wins, and of two with the same version the one
//     whose canonical value is greater byte by byte, so every node picks
//     the same.
//
// Each merge is commutative, associative and idempotent, so the view's
// tables do not depend on the order of the deltas or on duplicates, and
// the view accepts a user's local entries ahead of the backlog. Canonical
// JSON is what encoding/json.Marshal writes (no spaces, object names
// sorted, Go's string escapes) after numbers are normalized: an integer
// within int64 is written as one (2.0 and 1e0 become 2 and 1), any other
// number is an IEEE double (1.50 becomes 1.5).
//
// A key holds the fields its deltas set: a key given with no fields adds
// nothing. Shared and private values of the same key and field merge by the
// same rule when a user's dictionary is read.
//
// # Tables
//
// The view keeps two tables in its file and three SQL VIEWs over them, all
// readable by the sqlite3 shell:
//
//	lattice_fields(namespace, owner, key, field, kind, counter, version, value)
//	    one row per field of each owner ('' for shared keys, else the user),
//	    with its merged state: counter, or version and value (canonical JSON)
//	lattice_set_members(namespace, owner, key, field, member)
//	    one row per member of a set field
//	lattice_state(namespace, owner, key, field, value)
//	    each field's merged value as JSON: 123, ["a","b"], [3,"topic"]
//	lattice_shared(namespace, key, field, value)
//	    the shared keys alone: what a user without private keys sees
//	lattice_for_user(namespace, user, key, field, value)
//	    per user with private keys in the namespace, the shared keys merged
//	    with that user's private keys
//
// After the two deltas of the chat example (see the package's Example),
// the sqlite3 shell shows (a test runs these commands with the shell and
// compares its output to this text):
//
//	$ sqlite3 -readonly lattice.db
//	sqlite> SELECT key, field, value FROM lattice_for_user WHERE namespace = 'chat.rooms' AND user = '7777' ORDER BY key, field;
//	room1|last_message_counter|123
//	room1|last_seen_counter|120
//	room2|last_message_counter|246
//	room2|last_seen_counter|246
//	sqlite> SELECT m.key, m.value - s.value AS unread FROM lattice_for_user m JOIN lattice_for_user s USING (namespace, user, key) WHERE m.namespace = 'chat.rooms' AND m.user = '8734' AND m.field = 'last_message_counter' AND s.field = 'last_seen_counter' ORDER BY m.key;
//	room1|0
//	room2|222
//	sqlite> SELECT key, field, value FROM lattice_shared WHERE namespace = 'chat.rooms' ORDER BY key, field;
//	room1|last_message_counter|123
//	room2|last_message_counter|246
//	sqlite> SELECT owner, key, field, counter FROM lattice_fields WHERE namespace = 'chat.rooms' AND field = 'last_seen_counter' ORDER BY owner, key;
//	7777|room1|last_seen_counter|120
//	7777|room2|last_seen_counter|246
//	8734|room1|last_seen_counter|123
//	8734|room2|last_seen_counter|24
//
// lattice_for_user has rows only for users with private keys in the
// namespace; for any other user, read lattice_shared. Get does both: it
// returns a user's merged dictionary as a Dict, whose JSON is the seed's
// shape ({"room1": {"last_message_counter": 123, ...}, ...}).
//
// # Go API
//
// ParseDelta parses and validates a payload; a Delta's MarshalJSON writes
// one (so an application or the CLI appends json.Marshal(delta)).
// MergeCounter, MergeSet, MergeRegister and Merge are the merge rules;
// Dict.Merge applies them to dictionaries, Delta.ForUser gives what a
// delta changes for one user. Get reads a merged dictionary from the view.
//
//	f, err := view.OpenFile("views/lattice.db", []view.View{lattice.View{}}, view.Options{})
package lattice
