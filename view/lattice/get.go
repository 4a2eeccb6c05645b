package lattice

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
)

// Querier runs a read query. *sql.DB, *sql.Conn and *sql.Tx implement it;
// for a query.DB, pass its SQL().
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// getQuery reads the rows of a namespace's shared keys and of one user's
// private keys in one statement, so from one snapshot of the view file.
const getQuery = `SELECT key, field, kind, counter, version, value FROM lattice_fields
 WHERE namespace = ?1 AND owner IN ('', ?2)
UNION ALL
SELECT key, field, 'member', NULL, NULL, member FROM lattice_set_members
 WHERE namespace = ?1 AND owner IN ('', ?2)`

// Get returns the merged dictionary of namespace for user, read from the
// lattice view's tables through q: the shared keys merged with user's
// private keys, field by field, by the rule of each field's suffix — the
// rows lattice_for_user has for that user, also for a user with no private
// keys. For user "" it is the shared keys alone (lattice_shared). An
// unknown namespace gives an empty Dict.
//
// The tables must be reachable under their plain names (lattice_fields,
// lattice_set_members): a connection to the view file, or a query.DB where
// no other attached file has tables of those names.
func Get(ctx context.Context, q Querier, namespace, user string) (Dict, error) {
	rows, err := q.QueryContext(ctx, getQuery, namespace, user)
	if err != nil {
		return nil, fmt.Errorf("lattice get %q for user %q: %w", namespace, user, err)
	}
	defer rows.Close()
	d := Dict{}
	members := map[[2]string]Set{} // key, field -> members from every owner
	for rows.Next() {
		var (
			key, field, kind string
			counter, version sql.NullInt64
			value            sql.NullString
		)
		if err := rows.Scan(&key, &field, &kind, &counter, &version, &value); err != nil {
			return nil, fmt.Errorf("lattice get %q for user %q: %w", namespace, user, err)
		}
		var v Value
		switch kind {
		case "counter":
			v = Counter(counter.Int64)
		case "register":
			v = Register{Version: version.Int64, Value: json.RawMessage(value.String)}
		case "set":
			v = Set{}
		case "member":
			k := [2]string{key, field}
			members[k] = append(members[k], json.RawMessage(value.String))
			continue
		}
		if k, _ := KindOf(field); v == nil || v.Kind() != k {
			return nil, fmt.Errorf("lattice get %q for user %q: key %q field %q: kind %q in lattice_fields", namespace, user, key, field, kind)
		}
		d.merge(key, field, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("lattice get %q for user %q: %w", namespace, user, err)
	}
	for k, ms := range members {
		if _, ok := d[k[0]][k[1]].(Set); !ok {
			return nil, fmt.Errorf("lattice get %q for user %q: key %q field %q: set members of a field that is not a set", namespace, user, k[0], k[1])
		}
		d[k[0]][k[1]] = sortSet(ms)
	}
	return d, nil
}
