package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
)

// importSource is what sluice import copies: every record is checked by
// check before each yields a single one, so a bad record changes nothing.
type importSource interface {
	// name describes the source in messages.
	name() string
	// id identifies the source in the import state: the absolute path of
	// a file, "-" for standard input.
	id() string
	// check reads the whole source and checks every record with
	// checkPayload, reporting progress to bar; it fails naming the first
	// bad record by its place in the source. It returns the number of
	// records, or ctx's error once ctx ends.
	check(ctx context.Context, bar *progress) (int64, error)
	// each calls fn with the records check counted, in order, from the
	// first; the payload is fn's to keep.
	each(fn func(payload []byte) error) error
	close() error
}

// offsetSource is an SSB flumelog-offset file. Records deleted in place
// are skipped. A record is named by its frame number (its seq when sluice
// reads the file with --ssb) and the byte offset of its frame. The check
// reads the file with Scan, through one reused buffer.
type offsetSource struct {
	path string
	l    *offset.Log
	last log.Seq // the last record check saw; each stops there
}

func openOffsetSource(src string) (*offsetSource, error) {
	path, err := findOffsetLog(src)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	l, err := offset.Open(path)
	if err != nil {
		return nil, err
	}
	return &offsetSource{path: path, l: l}, nil
}

func (s *offsetSource) name() string { return s.path }
func (s *offsetSource) id() string   { return s.path }
func (s *offsetSource) close() error { return s.l.Close() }

func (s *offsetSource) check(ctx context.Context, bar *progress) (int64, error) {
	var n int64
	err := s.l.Scan(func(ent log.Entry, off int64) error {
		if err := checkPayload(ent.Payload); err != nil {
			return placePayloadError(fmt.Sprintf("%s record %d (the frame at byte offset %d)", s.path, ent.Seq, off), err, func(at int) string {
				return fmt.Sprintf("byte %d of its payload (offset %d)", at+1, off+4+int64(at))
			})
		}
		n++
		s.last = ent.Seq
		if n%1024 == 0 {
			bar.set(off)
			return ctx.Err()
		}
		return nil
	})
	return n, err
}

func (s *offsetSource) each(fn func([]byte) error) error {
	if s.last == 0 {
		return nil
	}
	it, err := s.l.Iter(1)
	if err != nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		ent := it.Entry()
		if err := fn(ent.Payload); err != nil {
			return err
		}
		if ent.Seq == s.last {
			return nil
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	return fmt.Errorf("%s: record %d is gone since it was checked (the file changed during the import)", s.path, s.last)
}

// linesSource is JSON lines on standard input. check copies each checked
// value to a spool file in DIR (not /tmp: the same file system as the log,
// and removed by the kernel even after kill -9, since it is unlinked as
// soon as it is created), which each reads back.
type linesSource struct {
	in    io.Reader
	dir   string
	spool *os.File
}

func (s *linesSource) name() string { return "standard input" }
func (s *linesSource) id() string   { return "-" }

func (s *linesSource) close() error {
	if s.spool == nil {
		return nil
	}
	return s.spool.Close()
}

func (s *linesSource) check(ctx context.Context, bar *progress) (int64, error) {
	if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return 0, err
	}
	f, err := os.CreateTemp(s.dir, ".import-*.spool")
	if err != nil {
		return 0, fmt.Errorf("spool standard input: %w", err)
	}
	s.spool = f
	if err := os.Remove(f.Name()); err != nil {
		return 0, fmt.Errorf("spool standard input: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	cr := &countReader{r: s.in}
	lines := newJSONLines(cr, s.name())
	var n int64
	for {
		v, ok, err := lines.next()
		if err != nil {
			return n, err
		}
		if !ok {
			break
		}
		w.Write(v)
		if err := w.WriteByte('\n'); err != nil {
			return n, fmt.Errorf("spool standard input: %w", err)
		}
		if n++; n%1024 == 0 {
			bar.set(cr.n)
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return n, fmt.Errorf("spool standard input: %w", err)
	}
	return n, nil
}

func (s *linesSource) each(fn func([]byte) error) error {
	if s.spool == nil {
		return nil
	}
	if _, err := s.spool.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("read the spool of standard input: %w", err)
	}
	r := &jsonLines{br: bufio.NewReaderSize(s.spool, 1<<20), name: "the spool of standard input"}
	for {
		line, eof, err := r.readLine()
		if err != nil {
			return err
		}
		if v := bytes.TrimSuffix(line, []byte("\n")); len(v) > 0 {
			if err := fn(bytes.Clone(v)); err != nil {
				return err
			}
		}
		if eof {
			return nil
		}
	}
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
