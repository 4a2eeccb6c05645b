package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/view/lattice"
)

func init() { extraCommands = append(extraCommands, newLatticeCmd) }

func newLatticeCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "lattice put|get",
		Short: "Write and read lattices: dictionaries merged key by key",
		Long: `A lattice is a dictionary of dictionaries (key -> field -> value) in a
namespace, merged field by field by the suffix of the field's name:
_counter keeps the greatest integer, _set the union of its members,
_register ([version, value]) the value with the highest version. Deltas may
arrive late, twice or in any order: the result is the same. Shared keys are
seen by every user, private keys only by their user.

sluice lattice put appends a delta to the log; sluice lattice get prints a
user's merged dictionary from the lattice view, which an indexer keeps:
sluice index --follow --view lattice, or sluice serve --view lattice. The
view's tables can also be read with sluice query or the sqlite3 shell
(DIR/views/lattice.db: lattice_shared, lattice_for_user, lattice_state).`,
		Example: `  sluice lattice put chat.rooms --json '{"room1": {"last_message_counter": 123}}'
  sluice lattice put chat.rooms --user 7777 --json '{"room1": {"last_seen_counter": 120}}'
  sluice lattice get chat.rooms --user 7777 --watch`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	c.AddCommand(newLatticePutCmd(e), newLatticeGetCmd(e))
	return c
}

type latticePutOptions struct {
	value, user string
	wait        bool
	timeout     time.Duration
}

func newLatticePutCmd(e *env) *cobra.Command {
	var o latticePutOptions
	c := &cobra.Command{
		Use:   "put NAMESPACE --json DELTA [--user U]",
		Short: "Append a lattice delta",
		Long: `Append a delta to the lattice NAMESPACE as a local entry and print its seq.
DELTA is a JSON object of keys, each an object of fields: {"room1":
{"last_seen_counter": 120, "tags_set": ["a"], "topic_register": [3, "hi"]}}.
Every field's name ends in _counter, _set or _register; only the fields
named change, merged with what is there.

Without --user the keys are shared: every user sees them. With --user U
they are U's private keys, and the entry has the scope user:U, so sluice
serve sends it only to readers whose token has that scope (U's devices).

A DELTA that is not valid is refused, naming the key and field, and nothing
is appended. With --wait, the seq is printed once the lattice view shows
the entry (an indexer must run).`,
		Example: `  sluice lattice put chat.rooms --json '{"room1": {"last_message_counter": 123}}'
  sluice lattice put chat.rooms --user 7777 --json '{"room1": {"last_seen_counter": 120}}'
  sluice lattice put prefs --user 7777 --wait --json '{"ui": {"theme_register": [2, "dark"]}}'`,
		Args: exactArgs(1, "a namespace"),
		RunE: func(c *cobra.Command, args []string) error {
			if !c.Flags().Changed("json") {
				return usagef("give the delta with --json '{\"KEY\": {\"FIELD_counter\": 1}}'")
			}
			if c.Flags().Changed("user") && o.user == "" {
				// An empty $USER_ID, say: writing shared keys instead of
				// the user's private ones would show them to every user.
				return usagef("--user \"\": give the user whose private keys these are (--user 7777), or leave --user out for keys every user sees")
			}
			if err := checkTimeout(o.timeout); err != nil {
				return err
			}
			return runLatticePut(c.Context(), e, args[0], &o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.value, "json", "", "the delta: a JSON object of keys, each an object of fields")
	f.StringVar(&o.user, "user", "", "the user whose private keys these are (the entry gets the scope user:U); default shared")
	f.BoolVar(&o.wait, "wait", false, "print the seq once the lattice view shows the entry")
	f.DurationVar(&o.timeout, "timeout", 30*time.Second, "with --wait, give up after this long (0: check once, do not wait)")
	return c
}

// latticeDelta builds the payload sluice lattice put appends, and its
// scope: keys shared, or user's private keys with the scope user:USER.
func latticeDelta(namespace, user, value string) (payload []byte, scope string, err error) {
	dict, err := lattice.ParseDict([]byte(value))
	if err != nil {
		var fe *lattice.FieldError
		if errors.As(err, &fe) { // name the namespace, and the user whose keys these are
			fe.Namespace = namespace
			fe.Private, fe.User = user != "", user
		}
		return nil, "", usagef("--json %s: %w", abbrev(value), err)
	}
	if len(dict) == 0 {
		return nil, "", usagef("--json %s: the delta sets no field: nothing to put", abbrev(value))
	}
	d := &lattice.Delta{Namespace: namespace, Shared: dict}
	if user != "" {
		scope = "user:" + user
		if err := log.CheckScope(scope); err != nil {
			return nil, "", usagef("--user %q: %v", user, err)
		}
		d.Shared, d.Private = nil, map[string]lattice.Dict{user: dict}
	}
	if err := d.Validate(); err != nil {
		return nil, "", usageError{err}
	}
	payload, err = json.Marshal(d)
	if err != nil {
		return nil, "", err
	}
	return payload, scope, nil
}

func runLatticePut(ctx context.Context, e *env, namespace string, o *latticePutOptions) error {
	payload, scope, err := latticeDelta(namespace, o.user, o.value)
	if err != nil {
		return err
	}
	seqs, err := appendRecords(ctx, e, log.SyncAlways, [][]log.Record{{{Origin: log.Local, Payload: payload, Scope: scope}}})
	if err != nil {
		return fmt.Errorf("lattice put: %w", err)
	}
	if o.wait {
		db, err := waitVisible(ctx, e, seqs[0], []string{lattice.Name}, o.timeout, nil)
		if err != nil {
			return fmt.Errorf("appended seq %d, but: %w", seqs[0], err)
		}
		db.Close()
	}
	w := bufio.NewWriter(e.out)
	fmt.Fprintln(w, seqs[0])
	return w.Flush()
}
