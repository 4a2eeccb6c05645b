package log

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestAppendFunc checks that fn's records get the seqs and the time fn was
// given, and that a failing or empty fn, or an invalid record, appends
// nothing.
func TestAppendFunc(t *testing.T) {
	ctx := context.Background()
	l := openT(t, t.TempDir(), Options{})
	appendN(t, l, 1, 3, Remote)
	var gotNext Seq
	var gotAt time.Time
	seqs, err := l.AppendFunc(ctx, func(next Seq, at time.Time) ([]Record, error) {
		gotNext, gotAt = next, at
		return []Record{{Origin: Local, Payload: []byte("a")}, {Payload: []byte("b"), Scope: "user:1"}}, nil
	})
	if err != nil || len(seqs) != 2 || seqs[0] != 4 || seqs[1] != 5 || gotNext != 4 {
		t.Fatalf("AppendFunc = %v, %v (next %d); want [4 5]", seqs, err, gotNext)
	}
	for i, want := range []string{"a", "b"} {
		e, err := l.Get(Seq(4 + i))
		if err != nil {
			t.Fatal(err)
		}
		if string(e.Payload) != want || e.Time.UnixNano() != gotAt.UnixNano() || e.ID != (ID{Node: l.Node(), Seq: Seq(4 + i)}) {
			t.Errorf("seq %d: %q at %v, id %v; want %q at %v", 4+i, e.Payload, e.Time, e.ID, want, gotAt)
		}
	}

	boom := errors.New("boom")
	cases := []struct {
		name string
		fn   func(Seq, time.Time) ([]Record, error)
		want error
	}{
		{"fn fails", func(Seq, time.Time) ([]Record, error) { return []Record{{Payload: []byte("x")}}, boom }, boom},
		{"no records", func(Seq, time.Time) ([]Record, error) { return nil, nil }, nil},
		{"empty payload", func(Seq, time.Time) ([]Record, error) { return []Record{{Payload: []byte("x")}, {}}, nil }, ErrEmpty},
		{"bad scope", func(Seq, time.Time) ([]Record, error) { return []Record{{Payload: []byte("x"), Scope: "a b"}}, nil }, ErrInvalid},
	}
	for _, c := range cases {
		seqs, err := l.AppendFunc(ctx, c.fn)
		if seqs != nil || !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("%s: AppendFunc = %v, %v; want no seqs, %v", c.name, seqs, err, c.want)
		}
	}
	if last, _ := l.Last(); last != 5 {
		t.Fatalf("refused calls appended: the log ends at %d, want 5", last)
	}
	l.Close()
	called := false
	if _, err := l.AppendFunc(ctx, func(Seq, time.Time) ([]Record, error) { called = true; return nil, nil }); !errors.Is(err, ErrClosed) || called {
		t.Fatalf("AppendFunc after Close = %v (fn called: %v); want ErrClosed, fn not called", err, called)
	}
}

// TestAppendFuncHoldsAppends runs AppendFunc calls among concurrent Appends,
// in each durability mode: every fn reads the log with an iterator opened
// before the call up to its end, which must be next-1, and its records must
// land exactly at the seqs it was told — nothing came between.
func TestAppendFuncHoldsAppends(t *testing.T) {
	for _, d := range []Durability{SyncAlways, SyncGroup, SyncNone} {
		t.Run(d.String(), func(t *testing.T) {
			ctx := context.Background()
			l := openT(t, t.TempDir(), Options{Durability: d})
			const appenders, funcs, each = 3, 2, 40
			var wg sync.WaitGroup
			errs := make(chan error, appenders+funcs)
			for g := 0; g < appenders; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						if _, err := l.Append(ctx, Record{Payload: []byte(fmt.Sprintf("plain %d %d", g, i))}); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			for g := 0; g < funcs; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < each; i++ {
						it, err := l.Iter(1)
						if err != nil {
							errs <- err
							return
						}
						_, err = l.AppendFunc(ctx, func(next Seq, _ time.Time) ([]Record, error) {
							var seen Seq
							for it.Next() {
								seen = it.Entry().Seq
							}
							if err := it.Err(); err != nil {
								return nil, err
							}
							if last, _ := l.Last(); seen != next-1 || last != next-1 {
								return nil, fmt.Errorf("fn told next %d, but read up to %d and Last is %d", next, seen, last)
							}
							recs := make([]Record, 1+i%3)
							for k := range recs {
								recs[k] = Record{Payload: []byte(fmt.Sprintf("func %d", next+Seq(k)))}
							}
							return recs, nil
						})
						it.Close()
						if err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			it, err := l.Iter(1)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			funcRecs := 0
			for it.Next() {
				e := it.Entry()
				var at Seq
				if _, err := fmt.Sscanf(string(e.Payload), "func %d", &at); err == nil {
					funcRecs++
					if at != e.Seq {
						t.Fatalf("a record fn made for seq %d is at seq %d", at, e.Seq)
					}
				}
			}
			if want := funcs * (each/3*6 + []int{0, 1, 3}[each%3]); funcRecs != want {
				t.Fatalf("%d records from AppendFunc, want %d", funcRecs, want)
			}
		})
	}
}
