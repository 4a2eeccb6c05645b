package view_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view"
)

// scores is a Go view whose Decode returns a score, and whose writer,
// through view.Typed, gets each entry's score as a score: no type
// assertion on Item.Value.
type scores struct{}

type score struct {
	Player string `json:"player"`
	Points int64  `json:"points"`
}

func (scores) Name() string      { return "scores" }
func (scores) Version() int      { return 1 }
func (scores) Indexes() []string { return nil }
func (scores) Schema() []string {
	return []string{`CREATE TABLE scores(player TEXT PRIMARY KEY, points INTEGER NOT NULL)`}
}

// Decode runs on another goroutine than Apply: parsing overlaps SQLite.
func (scores) Decode(e log.Entry) (any, error) {
	var s score
	if err := json.Unmarshal(e.Payload, &s); err != nil {
		return nil, err // the entry is rejected for this view
	}
	return s, nil
}

func (scores) Open(c *view.Conn) (view.Writer, error) {
	add, err := c.Prepare(`INSERT INTO scores(player, points) VALUES (?, ?)
		ON CONFLICT(player) DO UPDATE SET points = points + excluded.points`)
	if err != nil {
		return nil, err
	}
	return view.Typed[score](&scoreWriter{add: add}), nil
}

type scoreWriter struct{ add *view.Stmt }

func (w *scoreWriter) Apply(ctx context.Context, tx *view.Tx, items []view.TypedItem[score]) error {
	for _, it := range items {
		w.add.Text(it.Value.Player) // it.Value is a score
		w.add.Int(it.Value.Points)
	}
	return w.add.Exec()
}

func (w *scoreWriter) Close() error {
	w.add.Close()
	return nil
}

func ExampleTyped() {
	dir, _ := os.MkdirTemp("", "typed")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "scores.db")
	f, err := view.OpenFile(path, []view.View{scores{}}, view.Options{})
	if err != nil {
		panic(err)
	}
	var es []log.Entry
	for i, p := range []string{`{"player":"ann","points":3}`, `{"player":"bo","points":5}`, `{"player":"ann","points":4}`} {
		es = append(es, log.Entry{Seq: log.Seq(i + 1), Payload: []byte(p)})
	}
	if err := f.Apply(context.Background(), &view.Batch{Entries: es, From: 1, To: 3}); err != nil {
		panic(err)
	}
	f.Close()

	db, _ := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	defer db.Close()
	rows, _ := db.Query(`SELECT player, points FROM scores ORDER BY player`)
	defer rows.Close()
	for rows.Next() {
		var player string
		var points int64
		rows.Scan(&player, &points)
		fmt.Println(player, points)
	}
	// Output:
	// ann 7
	// bo 5
}
