// Package viewtest holds a small view for tests of sluice's view storage,
// indexer and query packages, and of applications embedding them.
package viewtest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// KV is a view of entries whose payload is {"k": key, "v": value}: table
// NAME_kv holds the latest value of each key (latest in seq order, so it
// accepts local entries ahead), and NAME_log one row per applied entry, with
// the seq as primary key, so applying an entry twice fails loudly.
type KV struct {
	ViewName    string
	ViewVersion int
	// NoLocalAhead makes the view refuse local entries ahead of since.
	NoLocalAhead bool
	// ExtraIndex adds a second secondary index (to test index changes).
	ExtraIndex bool
}

var (
	_ view.View       = (*KV)(nil)
	_ view.Decoder    = (*KV)(nil)
	_ view.LocalAhead = (*KV)(nil)
)

// Name implements view.View.
func (kv *KV) Name() string { return kv.ViewName }

// Version implements view.View.
func (kv *KV) Version() int { return kv.ViewVersion }

// Schema implements view.View.
func (kv *KV) Schema() []string {
	n := kv.ViewName
	return []string{
		fmt.Sprintf(`CREATE TABLE %s_kv(k TEXT PRIMARY KEY, v TEXT, seq INTEGER NOT NULL)`, n),
		fmt.Sprintf(`CREATE TABLE %s_log(seq INTEGER PRIMARY KEY, k TEXT NOT NULL, origin TEXT NOT NULL)`, n),
	}
}

// Indexes implements view.View.
func (kv *KV) Indexes() []string {
	idx := []string{fmt.Sprintf(`CREATE INDEX %[1]s_kv_v ON %[1]s_kv(v)`, kv.ViewName)}
	if kv.ExtraIndex {
		idx = append(idx, fmt.Sprintf(`CREATE INDEX %[1]s_log_k ON %[1]s_log(k)`, kv.ViewName))
	}
	return idx
}

// AcceptsLocalAhead implements view.LocalAhead.
func (kv *KV) AcceptsLocalAhead() bool { return !kv.NoLocalAhead }

// Pair is a decoded KV payload.
type Pair struct {
	K string `json:"k"`
	V string `json:"v"`
}

// Decode implements view.Decoder.
func (kv *KV) Decode(e log.Entry) (any, error) {
	var p Pair
	if err := json.Unmarshal(e.Payload, &p); err != nil {
		return nil, fmt.Errorf("kv payload: %w", err)
	}
	if p.K == "" {
		return nil, fmt.Errorf(`kv payload: no "k"`)
	}
	return p, nil
}

// Payload returns the payload of an entry setting k to v.
func Payload(k, v string) []byte {
	b, _ := json.Marshal(Pair{K: k, V: v})
	return b
}

type kvWriter struct {
	set, add *view.Stmt
}

// Open implements view.View.
func (kv *KV) Open(c *view.Conn) (view.Writer, error) {
	set, err := c.Prepare(fmt.Sprintf(`INSERT INTO %s_kv(k, v, seq) VALUES (?, ?, ?)
		ON CONFLICT(k) DO UPDATE SET v = excluded.v, seq = excluded.seq WHERE excluded.seq > seq`, kv.ViewName))
	if err != nil {
		return nil, err
	}
	add, err := c.Prepare(fmt.Sprintf(`INSERT INTO %s_log(seq, k, origin) VALUES (?, ?, ?)`, kv.ViewName))
	if err != nil {
		return nil, err
	}
	return &kvWriter{set: set, add: add}, nil
}

func (w *kvWriter) Apply(ctx context.Context, tx *view.Tx, items []view.Item) error {
	for _, it := range items {
		p := it.Value.(Pair)
		w.set.Text(p.K)
		w.set.Text(p.V)
		w.set.Int(int64(it.Seq))
		w.add.Int(int64(it.Seq))
		w.add.Text(p.K)
		w.add.Text(it.Origin.String())
	}
	if err := w.set.Exec(); err != nil {
		return err
	}
	return w.add.Exec()
}

func (w *kvWriter) Close() error {
	w.set.Close()
	w.add.Close()
	return nil
}
