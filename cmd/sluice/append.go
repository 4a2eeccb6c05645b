package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/replicate"
)

// appendLockWait is how long append waits for another writer to release
// the log: long enough for dozens of concurrent appends, each holding the
// lock for an open, an append and a close, to take their turns (with 5 s,
// 10 of 150 appends by 30 processes failed).
const appendLockWait = time.Minute

type appendOptions struct {
	local      bool
	scope      string
	value      string
	durability string
	wait       bool
	waitViews  []string
	timeout    time.Duration
}

func newAppendCmd(e *env) *cobra.Command {
	var o appendOptions
	c := &cobra.Command{
		Use:   "append [--json VALUE] [--local] [--wait]",
		Short: "Append entries to the log",
		Long: `Append one entry per JSON value: the value of --json, or else one per line
of standard input (JSON lines; blank lines are skipped). Every value is
checked before anything is written: one bad line appends nothing.

Standard input is read and checked whole first. Up to 64 MiB of it is
appended atomically, in one append: all of its entries or none. Larger input
is appended in several such appends of whole lines, in order; if one fails,
those before it stay appended, their seqs are printed, and the error says
which entries were not appended.

Entries are remote (replicated or imported) unless --local marks them as
written by this node's user; the indexer applies local entries ahead of any
backlog. --scope limits who may read them when the log is served (sluice
serve: only tokens with that scope). The seq of each entry is printed, one
per line. With --wait, sluice prints them only once the views in DIR/views
show the entries (read your writes), which needs an indexer running
(sluice index --follow, sluice serve or sluice sync --follow).

While sluice serve or sluice sync --follow runs, it is the log's writer:
append hands the entries to it through the local socket DIR/sluice.sock,
with the same result. Otherwise append takes the log's lock, waiting up to
a minute for another writer (another append, an import) to release it.`,
		Example: `  sluice append --local --json '{"type":"post","text":"hello"}'
  jq -c '.[]' messages.json | sluice append
  sluice append --local --wait --json '{"type":"post","text":"now"}'
  sluice append --local --scope user:7777 --json '{"type":"note","text":"mine"}'`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if err := checkTimeout(o.timeout); err != nil {
				return err
			}
			return runAppend(c, e, &o)
		},
	}
	f := c.Flags()
	f.BoolVar(&o.local, "local", false, "mark the entries as local (written by this node's user)")
	f.StringVar(&o.scope, "scope", "", `who may read the entries when served, e.g. "user:7777" (default: everybody)`)
	f.StringVar(&o.value, "json", "", "append this JSON value instead of reading standard input")
	f.StringVar(&o.durability, "durability", "sync", "when an append is on disk: sync (fsync each), group (share fsyncs), none (leave it to the OS)")
	f.BoolVar(&o.wait, "wait", false, "wait until the views show the entries before printing their seqs")
	f.StringSliceVar(&o.waitViews, "wait-view", nil, "with --wait, wait only for these views (default all); a name no view has is refused before anything is appended")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --wait, give up after this long (0: check once, do not wait)")
	return c
}

func runAppend(c *cobra.Command, e *env, o *appendOptions) error {
	d, err := log.ParseDurability(o.durability)
	if err != nil {
		return usageError{err}
	}
	origin := log.Remote
	if o.local {
		origin = log.Local
	}
	if err := log.CheckScope(o.scope); err != nil {
		return usagef("--scope: %v", err)
	}
	if len(o.waitViews) > 0 && !o.wait {
		return usagef("--wait-view needs --wait")
	}
	if err := checkWaitViews(c.Context(), e, o.waitViews); err != nil {
		return err
	}
	var recs []log.Record
	if c.Flags().Changed("json") {
		if err := checkPayload([]byte(o.value)); err != nil {
			return usagef("--json %s: %w", abbrev(o.value), err)
		}
		recs = append(recs, log.Record{Origin: origin, Payload: []byte(o.value)})
	} else {
		e.noteReadingTerminal()
		recs, err = readJSONLines(e.in, "standard input", origin)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			return fmt.Errorf("nothing to append: standard input held no JSON lines")
		}
	}
	for i := range recs {
		recs[i].Scope = o.scope
	}
	seqs, err := appendRecords(c.Context(), e, d, splitAppends(recs, log.DefaultMaxBatchSize))
	if err != nil && len(seqs) > 0 {
		printSeqs(e, seqs)
		if len(seqs) == len(recs) {
			return fmt.Errorf("appended seq %d..%d, but: %w", seqs[0], seqs[len(seqs)-1], err)
		}
		return fmt.Errorf("appended the first %d of %d entries (seqs %d..%d), not the rest: %w", len(seqs), len(recs), seqs[0], seqs[len(seqs)-1], err)
	}
	if err != nil {
		return err
	}
	if o.wait {
		db, err := waitVisible(c.Context(), e, seqs[len(seqs)-1], o.waitViews, o.timeout, nil)
		if err != nil {
			return fmt.Errorf("appended seq %d..%d, but: %w", seqs[0], seqs[len(seqs)-1], err)
		}
		db.Close()
	}
	return printSeqs(e, seqs)
}

// printSeqs prints seqs, one per line.
func printSeqs(e *env, seqs []log.Seq) error {
	w := bufio.NewWriter(e.out)
	for _, s := range seqs {
		fmt.Fprintln(w, s)
	}
	return w.Flush()
}

// splitAppends cuts recs into runs, in order, each within max bytes as the
// log stores them (counted high: payload and scope, plus the largest
// header a record of append's can have), so each is one Append.
func splitAppends(recs []log.Record, max int) [][]log.Record {
	const header = 64
	var out [][]log.Record
	start, size := 0, 0
	for i, r := range recs {
		n := len(r.Payload) + len(r.Scope) + header
		if i > start && size+n > max {
			out = append(out, recs[start:i])
			start, size = i, 0
		}
		size += n
	}
	return append(out, recs[start:])
}

// appendRecords appends each of calls, in order, to DIR/log in one Append
// (atomic), or, when a long-running writer (sluice serve, sync --follow)
// holds the log, through its local socket. It stops at the first that
// fails, and returns the seqs of those appended before it.
func appendRecords(ctx context.Context, e *env, d log.Durability, calls [][]log.Record) ([]log.Seq, error) {
	l, err := log.Open(e.logDir(), log.Options{Durability: d})
	// A writer holds the log: append through its socket; a writer without
	// one (another append, an import, or a server whose socket is not up
	// yet): wait for the lock, looking for the socket meanwhile, so that
	// concurrent appends queue instead of failing.
	deadline := time.Now().Add(appendLockWait)
	for first := true; errors.Is(err, log.ErrLocked); first = false {
		if seqs, ok, ferr := appendViaSocket(ctx, e, d, calls); ok {
			return seqs, ferr
		}
		if first {
			testHook(lockWaitingEnv)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return nil, fmt.Errorf("open log %s: %w: another writer held it for %v and no local socket (%s) answered", e.logDir(), log.ErrLocked, appendLockWait, e.socketPath())
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		l, err = log.Open(e.logDir(), log.Options{Durability: d, LockWait: min(left, 250*time.Millisecond)})
	}
	if err != nil {
		return nil, err
	}
	for _, r := range l.Repairs() {
		e.notef("repaired the log on open: %s", r)
	}
	e.noteInterruptedImport()
	var seqs []log.Seq
	for _, recs := range calls {
		s, err := l.Append(ctx, recs...)
		if err != nil {
			l.Close()
			return seqs, err
		}
		seqs = append(seqs, s...)
	}
	return seqs, l.Close()
}

// appendViaSocket appends each of calls through the local socket of the
// writer holding the log. ok is false when no writer answers there (then
// nothing was appended); otherwise it returns the seqs appended before the
// first failure, and that failure.
func appendViaSocket(ctx context.Context, e *env, d log.Durability, calls [][]log.Record) (seqs []log.Seq, ok bool, err error) {
	for i, recs := range calls {
		s, ferr := replicate.AppendLocal(ctx, e.socketPath(), d, recs)
		if i == 0 && errors.Is(ferr, replicate.ErrNoWriter) {
			return nil, false, nil
		}
		seqs = append(seqs, s...)
		if ferr != nil {
			return seqs, true, ferr
		}
	}
	return seqs, true, nil
}

// readJSONLines reads one JSON value per line; blank lines are skipped. It
// fails on the first line checkPayload refuses, naming it.
func readJSONLines(r io.Reader, name string, origin log.Origin) ([]log.Record, error) {
	var recs []log.Record
	lines := newJSONLines(r, name)
	for {
		v, ok, err := lines.next()
		if err != nil {
			return nil, fmt.Errorf("%w (nothing was appended)", err)
		}
		if !ok {
			return recs, nil
		}
		recs = append(recs, log.Record{Origin: origin, Payload: bytes.Clone(v)})
	}
}

func abbrev(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q...", s[:57])
	}
	return fmt.Sprintf("%q", s)
}
