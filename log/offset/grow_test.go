package offset

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/sluicedb/sluice/log"
)

// TestGrowth appends frames after an iterator reached the end: its next
// Next returns them, one byte at a time or many frames at once.
func TestGrowth(t *testing.T) {
	for _, w := range widths {
		t.Run(fmt.Sprintf("w%d", w), func(t *testing.T) {
			file := buildLog(w, []byte(compact))
			path := writeFile(t, file)
			l := openLog(t, path)
			it, err := l.Iter(1)
			if err != nil {
				t.Fatal(err)
			}
			defer it.Close()
			got, err := drain(t, it, 2)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, []want{{1, compact}})

			// Frame 2 (deleted) and 3 together.
			grown := appendFrame(appendFrame(file, deleted(9), w), []byte(indented), w)
			appendFile(t, path, grown[len(file):])
			got, err = drain(t, it, 3)
			if err != nil {
				t.Fatal(err)
			}
			checkEntries(t, got, []want{{3, indented}})

			// Frame 4, one byte at a time.
			file, grown = grown, appendFrame(grown, []byte(private), w)
			for i := len(file); i < len(grown); i++ {
				appendFile(t, path, grown[i:i+1])
				got, err = drain(t, it, 1)
				if err != nil {
					t.Fatalf("after %d of %d bytes: %v", i+1-len(file), len(grown)-len(file), err)
				}
				if i < len(grown)-1 && len(got) > 0 {
					t.Fatalf("after %d of %d bytes: got %v", i+1-len(file), len(grown)-len(file), seqs(got))
				}
				last, err := l.Last()
				if wantLast := log.Seq(3 + len(got)); err != nil || (i < len(grown)-1 && last != wantLast) {
					t.Fatalf("Last = %d, %v, want %d", last, err, wantLast)
				}
			}
			checkEntries(t, got, []want{{4, private}})
			if last, err := l.Last(); err != nil || last != 4 {
				t.Fatalf("Last = %d, %v, want 4", last, err)
			}
		})
	}
}

// TestGrowFromEmpty: a log opened empty learns its trailer width from the
// first frame appended.
func TestGrowFromEmpty(t *testing.T) {
	for _, w := range widths {
		path := writeFile(t, nil)
		l := openLog(t, path)
		it, err := l.Iter(1)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := drain(t, it, 1); err != nil || len(got) != 0 {
			t.Fatalf("empty: %v, %v", seqs(got), err)
		}
		appendFile(t, path, buildLog(w, []byte(compact), []byte(private)))
		got, err := drain(t, it, 2)
		if err != nil {
			t.Fatal(err)
		}
		checkEntries(t, got, []want{{1, compact}, {2, private}})
		if st, err := l.Stats(); err != nil || st.TrailerWidth != w {
			t.Fatalf("Stats = %+v, %v", st, err)
		}
		it.Close()
	}
}

func TestWait(t *testing.T) {
	file := buildLog(4, []byte(compact), []byte(private))
	path := writeFile(t, file)
	l := openLog(t, path)

	// A frame already there: no waiting.
	if last, err := l.Wait(t.Context(), 1); err != nil || last != 2 {
		t.Fatalf("Wait(1) = %d, %v", last, err)
	}
	// Nothing new: the context ends it.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if last, err := l.Wait(ctx, 2); !errors.Is(err, context.DeadlineExceeded) || last != 2 {
		t.Fatalf("Wait(2) with a deadline = %d, %v", last, err)
	}
	ctx, cancel = context.WithCancel(t.Context())
	cancel()
	if _, err := l.Wait(ctx, 2); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait(2) cancelled = %v", err)
	}

	// Another goroutine appends a frame (and the start of another) once
	// this one is about to sleep in Wait, with nothing new: the sleeping
	// hook says so, so Wait cannot have returned without waiting.
	ctx, cancel = context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	grown := appendFrame(file, []byte(indented), 4)
	grown = appendFrame(grown, []byte(compact), 4)
	asleep, appended := make(chan struct{}, 1), make(chan error, 1)
	l.sleeping = func() {
		select {
		case asleep <- struct{}{}:
		default:
		}
	}
	go func() {
		select {
		case <-asleep:
			appended <- appendBytes(path, grown[len(file):len(grown)-5])
		case <-ctx.Done():
			appended <- ctx.Err()
		}
	}()
	last, err := l.Wait(ctx, 2)
	if err != nil || last != 3 {
		t.Fatalf("Wait(2) = %d, %v; want 3", last, err)
	}
	if err := <-appended; err != nil {
		t.Fatal(err)
	}
}

// TestConcurrent runs iterators, Last, Wait and Stats from several
// goroutines while a writer appends; run it with -race.
func TestConcurrent(t *testing.T) {
	const (
		readers = 4
		batches = 30
		perFrom = 5
	)
	file, exp := manyFrames(600, 4)
	path := writeFile(t, file)
	l := openLog(t, path)
	total := 600 + batches*perFrom

	// The writer appends batches of frames; readers follow it.
	all := file
	for i := range batches * perFrom {
		all = appendFrame(all, []byte(fmt.Sprintf(`{"n":%d}`, 601+i)), 4)
		exp = append(exp, want{log.Seq(601 + i), fmt.Sprintf(`{"n":%d}`, 601+i)})
	}
	offs := frameOffsets(all, 4)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, readers+1)
	// Reader 0 reports each time it has read all there is, so the writer
	// appends while readers read.
	progress := make(chan struct{}, 1)
	for r := range readers {
		wg.Go(func() {
			it, err := l.Iter(log.Seq(1 + r*100))
			if err != nil {
				errs <- err
				return
			}
			defer it.Close()
			want := suffix(exp, log.Seq(1+r*100))
			var got []log.Entry
			for ctx.Err() == nil {
				for it.Next() {
					got = append(got, it.Entry())
				}
				if it.Err() != nil {
					errs <- it.Err()
					return
				}
				if r == 0 {
					select {
					case progress <- struct{}{}:
					default:
					}
				}
				if len(got) >= len(want) {
					break
				}
				if _, err := l.Wait(ctx, got[len(got)-1].Seq); err != nil {
					errs <- fmt.Errorf("reader %d: Wait after seq %d: %w", r, got[len(got)-1].Seq, err)
					return
				}
				if _, err := l.Stats(); err != nil {
					errs <- err
					return
				}
			}
			if len(got) != len(want) {
				errs <- fmt.Errorf("reader %d: got %d entries, want %d", r, len(got), len(want))
				return
			}
			for i := range got {
				if got[i].Seq != want[i].seq || string(got[i].Payload) != want[i].payload {
					errs <- fmt.Errorf("reader %d: entry %d is seq %d, want %d", r, i, got[i].Seq, want[i].seq)
					return
				}
			}
		})
	}
	wg.Go(func() {
		for b := range batches {
			from, to := offs[600+b*perFrom], offs[600+(b+1)*perFrom]
			// Half a batch first: readers see a torn tail.
			mid := from + (to-from)/2
			for _, part := range [][]byte{all[from:mid], all[mid:to]} {
				select {
				case <-progress:
				case <-ctx.Done():
					errs <- fmt.Errorf("writer: %w", ctx.Err())
					return
				}
				if err := appendBytes(path, part); err != nil {
					errs <- err
					return
				}
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if last, err := l.Last(); err != nil || int(last) != total {
		t.Fatalf("Last = %d, %v; want %d", last, err, total)
	}
}

// TestWaitWatch checks that Wait wakes when the file is written to, not on
// its timer: it polls only every hour, longer than the test may take.
func TestWaitWatch(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("watching is implemented with inotify, on Linux only")
	}
	file := buildLog(4, []byte(compact))
	path := writeFile(t, file)
	l := openLog(t, path)
	l.SetPollInterval(time.Hour)
	asleep := make(chan struct{}, 1)
	l.sleeping = func() {
		select {
		case asleep <- struct{}{}:
		default:
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	type result struct {
		last log.Seq
		err  error
	}
	for want := log.Seq(2); want <= 4; want++ {
		res := make(chan result, 1)
		go func() {
			last, err := l.Wait(ctx, want-1)
			res <- result{last, err}
		}()
		select {
		case <-asleep: // only a notice wakes it now
		case got := <-res:
			t.Fatalf("Wait(%d) = %d, %v before the append", want-1, got.last, got.err)
		}
		grown := appendFrame(file, []byte(compact), 4)
		if err := appendBytes(path, grown[len(file):]); err != nil {
			t.Fatal(err)
		}
		file = grown
		if got := <-res; got.err != nil || got.last != want {
			t.Fatalf("Wait(%d) = %d, %v; want %d", want-1, got.last, got.err, want)
		}
		select { // a token of a look after the notice
		case <-asleep:
		default:
		}
	}
}
