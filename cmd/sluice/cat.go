package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
)

type catOptions struct {
	src    sourceFlags
	from   uint64
	follow bool
	json   bool
}

func newCatCmd(e *env) *cobra.Command {
	var o catOptions
	c := &cobra.Command{
		Use:   "cat [--from SEQ] [--follow] [--json]",
		Short: "Print the log's entries",
		Long: `Print the payload of every entry of the log, one per line, from --from on.
With --json, print each entry as a JSON object with its seq, id (NODE/SEQ:
the node that first appended it and its seq there), via (the peer it was
pulled through, if not its author), origin, scope, append time and payload;
a payload that is not JSON (in a log.offset, or a log written before append
checked payloads) is a string, or, when it is not UTF-8 either,
payload_base64 (its bytes in base64) instead of payload. With --follow,
keep printing entries as they are appended.

Reads DIR/log by default (without its lock: an appender may run alongside),
or another log with --log, or an SSB log.offset with --ssb.`,
		Example: `  sluice cat --from 100 | jq .
  sluice cat --json --follow
  sluice cat --ssb ~/.ssb/flume/log.offset | head`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			from := log.Seq(o.from)
			return printEntries(c.Context(), e, &o.src, func(log.Source) (log.Seq, error) { return from, nil }, o.follow, o.json)
		},
	}
	f := c.Flags()
	o.src.add(f)
	f.Uint64Var(&o.from, "from", 1, "first seq to print")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new entries as they are appended")
	f.BoolVar(&o.json, "json", false, "print entries as JSON objects with seq, id, via, origin, scope, time and payload")
	return c
}

// printEntries prints the entries of the chosen source from seq from on.
// printEntries prints the source's entries from the seq start gives (which
// may look at the open source), and with follow, new ones as they come.
func printEntries(ctx context.Context, e *env, sf *sourceFlags, start func(log.Source) (log.Seq, error), follow, asJSON bool) error {
	src, closer, _, err := sf.open(e)
	if err != nil {
		return err
	}
	defer closer.Close()
	from, err := start(src)
	if err != nil {
		return err
	}
	it, err := src.Iter(from)
	if err != nil {
		return err
	}
	defer it.Close()
	w := bufio.NewWriterSize(e.out, 256<<10)
	defer w.Flush()
	pos := max(from, 1) - 1
	for {
		for it.Next() {
			ent := it.Entry()
			pos = ent.Seq
			if err := writeEntry(w, ent, asJSON); err != nil {
				return err
			}
		}
		if err := it.Err(); err != nil {
			return err
		}
		if p, ok := it.(log.Positioner); ok {
			pos = p.Position()
		}
		if !follow {
			return nil
		}
		if err := w.Flush(); err != nil {
			return err
		}
		if _, err := src.Wait(ctx, pos); err != nil {
			if errors.Is(err, context.Canceled) {
				return nil
			}
			return err
		}
	}
}

func writeEntry(w io.Writer, ent log.Entry, asJSON bool) error {
	if !asJSON {
		_, err := fmt.Fprintf(w, "%s\n", ent.Payload)
		return err
	}
	var t *string
	if !ent.Time.IsZero() {
		s := ent.Time.UTC().Format(time.RFC3339Nano)
		t = &s
	}
	var id, via string
	if !ent.ID.IsZero() {
		id = ent.ID.String()
	}
	if !ent.Via.IsZero() {
		via = ent.Via.String()
	}
	out := struct {
		Seq     log.Seq `json:"seq"`
		ID      string  `json:"id,omitempty"`
		Via     string  `json:"via,omitempty"`
		Origin  string  `json:"origin"`
		Scope   string  `json:"scope,omitempty"`
		Time    *string `json:"time"`
		Payload any     `json:"payload,omitempty"` // nil only with Base64
		Base64  []byte  `json:"payload_base64,omitempty"`
	}{Seq: ent.Seq, ID: id, Via: via, Origin: ent.Origin.String(), Scope: ent.Scope, Time: t}
	// The payload as it is when it is JSON; a payload that is not (a
	// foreign log's, or written before append checked payloads) as a
	// string when it is UTF-8, else base64 in payload_base64: every line
	// is valid JSON.
	switch {
	case isJSONText(ent.Payload):
		out.Payload = json.RawMessage(ent.Payload)
	case utf8.Valid(ent.Payload):
		out.Payload = string(ent.Payload)
	default:
		out.Base64 = ent.Payload
	}
	b, err := json.Marshal(out)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

func newTailCmd(e *env) *cobra.Command {
	var o catOptions
	var n int
	c := &cobra.Command{
		Use:   "tail [-n N] [--follow] [--json]",
		Short: "Print the log's last entries",
		Long: `Print the last N entries of the log (default 10), like cat from the end. With
--follow, keep printing entries as they are appended.`,
		Example: `  sluice tail -n 3 --json
  sluice tail -f`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if n < 0 {
				return usagef("-n must not be negative")
			}
			// The source is opened once: Last walks a whole log.offset.
			lastN := func(src log.Source) (log.Seq, error) {
				last, err := src.Last()
				if err != nil {
					return 0, err
				}
				if last >= log.Seq(n) {
					return last - log.Seq(n) + 1, nil
				}
				return 1, nil
			}
			return printEntries(c.Context(), e, &o.src, lastN, o.follow, o.json)
		},
	}
	f := c.Flags()
	o.src.add(f)
	f.IntVarP(&n, "lines", "n", 10, "how many entries to print")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new entries as they are appended")
	f.BoolVar(&o.json, "json", false, "print entries as JSON objects with seq, id, via, origin, scope, time and payload")
	return c
}
