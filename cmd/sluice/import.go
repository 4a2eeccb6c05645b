package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
)

// importBatchBytes bounds the payload bytes of one Append of an import, so
// that an import of big records stays well under the log's limits on one
// call.
const importBatchBytes = 32 << 20

func newImportCmd(e *env) *cobra.Command {
	var batch int
	var again bool
	c := &cobra.Command{
		Use:   "import SRC",
		Short: "Copy an SSB log.offset (or JSON lines) into the log as remote entries",
		Long: `Copy every entry of SRC into the log in DIR/log as remote entries. SRC is an
SSB flumelog-offset file, an ~/.ssb directory holding flume/log.offset, or "-"
for JSON lines on standard input (one JSON value per line; blank lines are
skipped).

SRC is read and checked to its end before anything is written: every record
must be one JSON value in UTF-8, at most 16 MiB, as sluice append demands. A
bad record is named by its place in SRC (its record number and byte offset
in a log.offset, its line in JSON lines) and nothing is imported. Records
deleted in place in a log.offset are skipped. Standard input is copied to an
unlinked file in DIR while it is checked (nothing stays behind).

The import writes without fsync and syncs once at the end. If it stops part
way (killed, a full disk, Ctrl-C), running the same import again resumes it:
it checks that the entries it already appended are the start of SRC and
appends the rest, with no duplicate and no gap. For standard input, feed the
same input again. Meanwhile DIR/importing.json records the import; an import
cannot resume if the log was appended to since (it says so, and how to give
it up). A progress bar shows on a terminal, then a summary line.

An import that finished is recorded in DIR/imported.json. Importing the same
source again imports only what it holds beyond what was imported (a
log.offset that grew since), or nothing, and says so: the source is the same
when its path (or standard input) matches and its records are, payload for
payload, the entries the earlier import appended. A file imported before
whose records differ now is refused; --again imports it (or anything) as a
new source, a second copy.`,
		Example: `  sluice import ~/.ssb/flume/log.offset
  sluice import ~/.ssb            # again later: imports only the new messages
  jq -c '.[]' export.json | sluice import -`,
		Args: exactArgs(1, "one source (a log.offset, an ~/.ssb directory, or -)"),
		RunE: func(c *cobra.Command, args []string) error {
			if batch <= 0 {
				return usagef("--batch %d: want a positive number of entries", batch)
			}
			var src importSource
			if args[0] == "-" {
				e.noteReadingTerminal()
				src = &linesSource{in: e.in, dir: e.dir}
			} else {
				s, err := openOffsetSource(args[0])
				if errors.Is(err, log.ErrNotLog) {
					err = fmt.Errorf("%w (for JSON lines, use: sluice import - < %s)", err, shellQuote(args[0]))
				}
				if err != nil {
					return fmt.Errorf("import %s: %w (nothing was imported)", args[0], err)
				}
				src = s
			}
			defer src.close()
			return runImport(c.Context(), e, src, batch, again)
		},
	}
	c.Flags().IntVar(&batch, "batch", 1000, "entries per append (at most 32 MB of payload each)")
	c.Flags().BoolVar(&again, "again", false, "import SRC whole even if it was imported before (a second copy)")
	return c
}

// runImport checks src to its end, then appends its records to the log,
// resuming an import of the same source that stopped part-way.
// importKillAfterAppendEnv, for crash tests, makes sluice import kill itself
// (SIGKILL) right after its Nth append of this run.
const importKillAfterAppendEnv = "SLUICE_TEST_IMPORT_KILL_AFTER_APPEND"

func runImport(ctx context.Context, e *env, src importSource, batch int, again bool) error {
	start := time.Now()
	bar := newProgress(e, -1, "checking", false)
	n, err := src.check(ctx, bar)
	bar.done()
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("interrupted while checking %s", src.name())
	}
	if err != nil {
		return fmt.Errorf("import: %w (nothing was imported)", err)
	}

	l, err := log.Open(e.logDir(), log.Options{Durability: log.SyncNone})
	if err != nil {
		return err
	}
	defer l.Close()
	statePath := e.importStatePath()
	st, done, err := importResume(e, l, src, n)
	if err != nil {
		return err
	}
	if st == nil {
		prev, err := importedBefore(e, l, src, n, again)
		if err != nil {
			return err
		}
		var skip int64
		if prev != nil {
			skip = prev.Records
			if skip == n {
				fmt.Fprintf(e.errOut, "nothing imported: %s, and it holds no record after them (to import a second copy: sluice import --again)\n", prev.describe())
				return nil
			}
			e.notef("%s; importing its %d records after them", prev.describe(), n-skip)
		}
		last, _ := l.Last()
		st = &importState{Source: src.id(), Base: last, Skip: skip, Records: n, Started: time.Now().UTC()}
		if err := st.write(statePath); err != nil {
			return fmt.Errorf("import: %w (nothing was imported)", err)
		}
	} else {
		e.notef("resuming %s: its first %d entries are in the log (seqs %d..%d); importing the other %d",
			st.describe(), done, st.Base+1, st.Base+log.Seq(done), n-st.Skip-done)
	}

	// Append in batches, after comparing the records already imported
	// with the log's entries (importResume counted them).
	var verify log.Iterator
	if done > 0 {
		if verify, err = l.Iter(st.Base + 1); err != nil {
			return err
		}
		defer verify.Close()
	}
	killed, err := killAfter(importKillAfterAppendEnv)
	if err != nil {
		return err
	}
	bar = newProgress(e, n, "importing", false)
	var i, appended, payload int64
	var recs []log.Record
	var recBytes int
	flush := func() error {
		if len(recs) == 0 {
			return nil
		}
		if _, err := l.Append(ctx, recs...); err != nil {
			return err
		}
		if killed != nil {
			killed()
		}
		appended += int64(len(recs))
		recs, recBytes = recs[:0], 0
		bar.set(i)
		return nil
	}
	err = src.each(func(p []byte) error {
		i++
		if i <= st.Skip {
			return nil // imported before (importedBefore compared them)
		}
		if i <= st.Skip+done {
			return importSame(verify, st, src, i, p)
		}
		if len(recs) >= batch || recBytes+len(p) > importBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		recs = append(recs, log.Record{Origin: log.Remote, Payload: p})
		recBytes += len(p)
		payload += int64(len(p))
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err == nil {
		err = l.Close()
	}
	bar.done()
	var re refuseResume
	if errors.As(err, &re) {
		return err
	}
	if err != nil {
		last, _ := l.Last()
		if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		return fmt.Errorf("import %s: %w; the log holds its first %d records (it ends at seq %d): %s to finish the import",
			src.name(), err, last-st.Base, last, st.command(e.dir))
	}
	// Recorded before the state goes: a crash between the two resumes the
	// import (appending nothing), never imports it again.
	if err := recordFinishedImport(e.importedPath(), finishedImport{Source: st.Source, Base: st.Base, Skip: st.Skip, Records: n, Finished: time.Now().UTC()}); err != nil {
		return err
	}
	if err := removeImportState(statePath); err != nil {
		return err
	}
	el := time.Since(start)
	last, _ := l.Last()
	fmt.Fprintf(e.errOut, "imported %d entries (%.1f MB) from %s in %.2fs: %s entries, %.1f MB/s; log %s now ends at seq %d\n",
		appended, mb(payload), src.name(), el.Seconds(), rate(float64(appended), el), mb(payload)/el.Seconds(), e.logDir(), last)
	return nil
}

// importResume reads the state of an import in progress. With none, it
// returns nil. With one of src, it returns it and how many of src's n
// records the log holds already (after st.Base); the caller compares them
// with the source as it reads it. Any other state refuses to go on.
func importResume(e *env, l *log.Log, src importSource, n int64) (*importState, int64, error) {
	path := e.importStatePath()
	st, err := readImportState(path)
	if err != nil || st == nil {
		return nil, 0, err
	}
	if st.Source != src.id() {
		return nil, 0, refusef("%s was interrupted; finish it first (%s), or give it up by removing %s (the entries it appended stay in the log)",
			st.describe(), st.command(e.dir), path)
	}
	last, _ := l.Last()
	if last < st.Base {
		return nil, 0, refusef("cannot resume %s: the log now ends at seq %d, before it began; remove %s to import anew",
			st.describe(), last, path)
	}
	done := int64(last - st.Base)
	if done > n-st.Skip {
		return nil, 0, refusef("cannot resume %s: the log holds %d entries after seq %d, more than the %d records of %s (was it appended to since?); remove %s to give the import up",
			st.describe(), done, st.Base, n, src.name(), path)
	}
	return st, done, nil
}

// refuseResume is an import that refuses to resume, having written nothing.
type refuseResume struct{ error }

func refusef(format string, args ...any) error {
	return refuseResume{fmt.Errorf(format+" (nothing was imported)", args...)}
}

// importSame checks that the log's next entry (from verify) is record i of
// src, with payload p.
func importSame(verify log.Iterator, st *importState, src importSource, i int64, p []byte) error {
	if !verify.Next() {
		if err := verify.Err(); err != nil {
			return err
		}
		return refusef("cannot resume %s: the log ended while comparing it with %s", st.describe(), src.name())
	}
	ent := verify.Entry()
	if ent.Origin != log.Remote || !bytes.Equal(ent.Payload, p) {
		return refusef("cannot resume %s: the log's entry at seq %d is not record %d of %s (was the log appended to since?); remove %s to give the import up",
			st.describe(), ent.Seq, i, src.name(), importStateFile)
	}
	return nil
}
