package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
)

func newImportCmd(e *env) *cobra.Command {
	var batch int
	c := &cobra.Command{
		Use:   "import SRC",
		Short: "Copy an SSB log.offset (or JSON lines) into the log as remote entries",
		Long: `Copy every entry of SRC into the log in DIR/log as remote entries. SRC is an
SSB flumelog-offset file, an ~/.ssb directory holding flume/log.offset, or "-"
for JSON lines on standard input.

SRC is checked to its end before anything is written, so a damaged source
changes nothing. Records deleted in place in a log.offset are skipped. The
import writes without fsync and syncs once at the end. A progress bar shows
on a terminal, then a summary line.`,
		Example: `  sluice import ~/.ssb/flume/log.offset
  sluice import ~/.ssb
  jq -c '.[]' export.json | sluice import -`,
		Args: exactArgs(1, "one source (a log.offset, an ~/.ssb directory, or -)"),
		RunE: func(c *cobra.Command, args []string) error {
			if batch <= 0 {
				return usagef("--batch must be positive")
			}
			if args[0] == "-" {
				return importJSONLines(c, e, batch)
			}
			return importOffset(c, e, args[0], batch)
		},
	}
	c.Flags().IntVar(&batch, "batch", 1000, "entries per append")
	return c
}

func importOffset(c *cobra.Command, e *env, src string, batch int) error {
	path, err := findOffsetLog(src)
	if err != nil {
		return err
	}
	in, err := offset.Open(path)
	if err != nil {
		return err
	}
	defer in.Close()
	// Check the whole source first: a damaged one changes nothing.
	st, err := in.Stats()
	if err != nil {
		return fmt.Errorf("import %s: %w (nothing was imported)", path, err)
	}
	it, err := in.Iter(1)
	if err != nil {
		return err
	}
	defer it.Close()
	bar := newProgress(e, st.Bytes, "importing", true)
	return importFrom(c, e, path, batch, bar, func() (log.Record, int64, bool, error) {
		if !it.Next() {
			return log.Record{}, 0, false, it.Err()
		}
		p := it.Entry().Payload
		return log.Record{Origin: log.Remote, Payload: p}, int64(len(p)) + 12, true, nil
	})
}

func importJSONLines(c *cobra.Command, e *env, batch int) error {
	// Spool standard input to a temporary file while checking it, so a bad
	// line changes nothing.
	tmp, err := os.CreateTemp("", "sluice-import-*.jsonl")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	w := bufio.NewWriterSize(tmp, 1<<20)
	err = eachJSONLine(e.in, "standard input", func(v []byte) error {
		w.Write(v)
		return w.WriteByte('\n')
	})
	if err != nil {
		return fmt.Errorf("%w (nothing was imported)", err)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return err
	}
	sc := bufio.NewScanner(tmp)
	sc.Buffer(make([]byte, 1<<20), log.DefaultMaxRecordSize+1)
	bar := newProgress(e, -1, "importing", false)
	return importFrom(c, e, "standard input", batch, bar, func() (log.Record, int64, bool, error) {
		if !sc.Scan() {
			return log.Record{}, 0, false, sc.Err()
		}
		p := append([]byte(nil), sc.Bytes()...)
		return log.Record{Origin: log.Remote, Payload: p}, int64(len(p)) + 1, true, nil
	})
}

// importFrom appends what next yields to the log in batches.
func importFrom(c *cobra.Command, e *env, name string, batch int, bar *progress, next func() (log.Record, int64, bool, error)) error {
	l, err := log.Open(e.logDir(), log.Options{Durability: log.SyncNone})
	if err != nil {
		return err
	}
	defer l.Close()
	first, _ := l.Last()
	start := time.Now()
	var n, read, payload int64
	recs := make([]log.Record, 0, batch)
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		if _, err := l.Append(c.Context(), recs...); err != nil {
			return err
		}
		n += int64(len(recs))
		recs = recs[:0]
		if bar.bar != nil {
			bar.set(read)
		}
		return nil
	}
	for {
		r, size, ok, err := next()
		if err != nil {
			return fmt.Errorf("import %s: %w (entries %d.. were not imported)", name, err, first+log.Seq(n)+1)
		}
		if !ok {
			break
		}
		read += size
		payload += int64(len(r.Payload))
		recs = append(recs, r)
		if len(recs) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if err := l.Close(); err != nil {
		return err
	}
	bar.done()
	el := time.Since(start)
	last, _ := l.Last()
	fmt.Fprintf(e.errOut, "imported %d entries (%.1f MB) from %s in %.2fs: %s entries, %.1f MB/s; log %s now ends at seq %d\n",
		n, mb(payload), name, el.Seconds(), rate(float64(n), el), mb(payload)/el.Seconds(), e.logDir(), last)
	return nil
}
