package lattice

// schema is the lattice view's tables and SQL VIEWs. The VIEWs use only
// what SQLite 3.38 and later parse (json functions, window functions, row
// values), so older sqlite3 shells can read the file too; a set's members
// are ordered by a window's ORDER BY, which SQLite guarantees, rather than
// by the order of a subquery, which it does not.
var schema = []string{
	`CREATE TABLE lattice_fields(
  namespace TEXT NOT NULL,
  owner     TEXT NOT NULL,  -- '' for a shared key, else the user whose private key it is
  key       TEXT NOT NULL,
  field     TEXT NOT NULL,  -- its suffix gives the kind
  kind      TEXT NOT NULL CHECK (kind IN ('counter', 'set', 'register')),
  counter   INTEGER,        -- counter: the greatest value seen
  version   INTEGER,        -- register: the highest version seen
  value     TEXT,           -- register: its value (canonical JSON); the greater one wins a tie
  PRIMARY KEY (namespace, owner, key, field)
) WITHOUT ROWID`,
	`CREATE TABLE lattice_set_members(
  namespace TEXT NOT NULL,
  owner     TEXT NOT NULL,
  key       TEXT NOT NULL,
  field     TEXT NOT NULL,  -- a set field of lattice_fields
  member    TEXT NOT NULL,  -- a JSON scalar, canonical JSON
  PRIMARY KEY (namespace, owner, key, field, member)
) WITHOUT ROWID`,
	// Each field's merged value as JSON: a counter's integer, a set's
	// array (members sorted by their bytes), a register's [version, value].
	`CREATE VIEW lattice_state(namespace, owner, key, field, value) AS
SELECT f.namespace, f.owner, f.key, f.field, CASE f.kind
  WHEN 'counter' THEN f.counter
  WHEN 'register' THEN json_array(f.version, json(f.value))
  ELSE coalesce((SELECT json_group_array(json(m.member)) OVER (ORDER BY m.member ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                   FROM lattice_set_members m
                  WHERE m.namespace = f.namespace AND m.owner = f.owner AND m.key = f.key AND m.field = f.field
                  LIMIT 1), '[]')
  END
FROM lattice_fields f`,
	// The shared keys alone: what a user without private keys sees.
	`CREATE VIEW lattice_shared(namespace, key, field, value) AS
SELECT namespace, key, field, value FROM lattice_state WHERE owner = ''`,
	// Per user with private keys in a namespace: the shared keys merged
	// with that user's private keys, field by field, by the same rules.
	`CREATE VIEW lattice_for_user(namespace, user, key, field, value) AS
WITH
  users(namespace, user) AS (
    SELECT DISTINCT namespace, owner FROM lattice_fields WHERE owner <> ''),
  fields(namespace, user, key, field, kind) AS (
    SELECT DISTINCT u.namespace, u.user, f.key, f.field, f.kind
      FROM users u JOIN lattice_fields f ON f.namespace = u.namespace AND f.owner IN ('', u.user))
SELECT x.namespace, x.user, x.key, x.field, CASE x.kind
  WHEN 'counter' THEN (
    SELECT max(c.counter) FROM lattice_fields c
     WHERE c.namespace = x.namespace AND c.owner IN ('', x.user) AND c.key = x.key AND c.field = x.field)
  WHEN 'register' THEN (
    SELECT json_array(r.version, json(r.value)) FROM lattice_fields r
     WHERE r.namespace = x.namespace AND r.owner IN ('', x.user) AND r.key = x.key AND r.field = x.field
     ORDER BY r.version DESC, r.value DESC LIMIT 1)
  ELSE coalesce((
    SELECT json_group_array(json(m.member)) OVER (ORDER BY m.member ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
      FROM (SELECT DISTINCT member FROM lattice_set_members s
             WHERE s.namespace = x.namespace AND s.owner IN ('', x.user) AND s.key = x.key AND s.field = x.field) m
     LIMIT 1), '[]')
  END
FROM fields x`,
}
