package sluice_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sluicedb/sluice"
	"github.com/sluicedb/sluice/query"
	"github.com/sluicedb/sluice/view"
)

// TestQueryNeverLeavesAStaleSnapshot: a statement that opens a transaction
// (BEGIN, SAVEPOINT) is refused by Query and QueryRow with
// query.ErrTransaction, and one run through the pool directly does not
// leave its connection in the pool inside the transaction: every query
// made after AppendAndWait returned sees the entry. (Before the fix,
// Query("BEGIN") succeeded and 49 of the next 50 reads were stale.)
func TestQueryNeverLeavesAStaleSnapshot(t *testing.T) {
	for _, c := range []struct {
		name string
		run  func(ctx context.Context, db *sluice.DB, stmt string) error
	}{
		{"Query", func(ctx context.Context, db *sluice.DB, stmt string) error {
			rows, err := db.Query(ctx, stmt)
			if err == nil {
				rows.Close()
			}
			return err
		}},
		{"QueryRow", func(ctx context.Context, db *sluice.DB, stmt string) error {
			return db.QueryRow(ctx, stmt).Err()
		}},
		{"SQL", func(ctx context.Context, db *sluice.DB, stmt string) error {
			_, err := db.QueryDB().SQL().ExecContext(ctx, stmt)
			return err
		}},
	} {
		for _, stmt := range []string{"BEGIN", "/* c */ begin deferred", "SAVEPOINT s", "COMMIT", "RELEASE s"} {
			t.Run(c.name+"/"+stmt, func(t *testing.T) {
				db := open(t, t.TempDir(), sluice.Options{Views: []view.View{kv("a")}})
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				if _, err := db.AppendAndWait(ctx, local("k0", "v")); err != nil {
					t.Fatal(err)
				}
				err := c.run(ctx, db, stmt)
				if c.name != "SQL" && !errors.Is(err, query.ErrTransaction) {
					t.Fatalf("%s(%q) = %v, want query.ErrTransaction", c.name, stmt, err)
				}
				stale := 0
				for i := 1; i <= 20; i++ {
					if _, err := db.AppendAndWait(ctx, local(fmt.Sprintf("k%d", i), "v")); err != nil {
						t.Fatal(err)
					}
					var n int
					if err := db.QueryRow(ctx, `SELECT count(*) FROM a_kv`).Scan(&n); err != nil {
						t.Fatal(err)
					}
					if n != i+1 {
						stale++
					}
				}
				if stale > 0 {
					t.Errorf("after %s(%q): %d of 20 queries made after AppendAndWait returned did not see the entry", c.name, stmt, stale)
				}
			})
		}
	}
}

// TestQueryAfterCloseIsErrClosed: Query and QueryRow of a closed DB return
// sluice.ErrClosed, as its other methods do (before: "query: closed",
// which errors.Is did not match); the query package's own DB returns
// query.ErrClosed.
func TestQueryAfterCloseIsErrClosed(t *testing.T) {
	db, err := sluice.Open(t.TempDir(), sluice.Options{Views: []view.View{kv("a")}})
	if err != nil {
		t.Fatal(err)
	}
	q := db.QueryDB()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := db.Query(ctx, `SELECT 1`); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("Query after Close: %v, want sluice.ErrClosed", err)
	}
	if err := db.QueryRow(ctx, `SELECT 1`).Scan(new(int)); !errors.Is(err, sluice.ErrClosed) {
		t.Errorf("QueryRow after Close: %v, want sluice.ErrClosed", err)
	}
	if _, err := q.Query(ctx, `SELECT 1`); !errors.Is(err, query.ErrClosed) {
		t.Errorf("query.DB.Query after Close: %v, want query.ErrClosed", err)
	}
}
