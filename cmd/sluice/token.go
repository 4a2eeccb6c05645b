package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/replicate"
)

func init() { extraCommands = append(extraCommands, newTokenCmd) }

func newTokenCmd(e *env) *cobra.Command {
	var file string
	c := &cobra.Command{
		Use:   "token add|list|revoke",
		Short: "Manage the tokens that let other nodes read this one",
		Long: `A token lets a reader pull from sluice serve: it reads the entries without a
scope and those of its scopes (--scope user:7777, repeatable; * reads every
entry, for replication between servers). Tokens are kept hashed in
DIR/replicate/tokens.json (mode 0600): a token is printed once, when it is
made. A running server sees changes at once: a revoked token's streams end.`,
		Example: `  sluice token add alice-phone --scope user:7777
  sluice token list --json
  sluice token revoke alice-phone`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	c.PersistentFlags().StringVar(&file, "token-file", "", "the token file (default DIR/replicate/tokens.json)")
	store := func() *replicate.TokenStore {
		if file == "" {
			file = e.tokensPath()
		}
		return replicate.OpenTokenStore(file)
	}

	var scopes, views []string
	add := &cobra.Command{
		Use:   "add NAME [--scope SCOPE]... [--view VIEW]...",
		Short: "Make a token and print it (once)",
		Long: `Make a token named NAME and print it on standard output, once: only its
SHA-256 is kept (DIR/replicate/tokens.json, mode 0600). Its reader pulls the
entries without a scope and those of each --scope (an entry's scope, such as
user:7777; * reads every entry). A name already taken is refused: revoke
it first.

A token may send tasks (POST /v1/tasks) of its scopes. The server tells
tasks apart by token name, device and task id, so no token can pre-empt or
answer another token's tasks, whatever device it claims to be. Give each
device its own token (alice-phone, alice-laptop), or share one among a
user's devices: both work. To rotate a token, revoke it and add it again
under the same name: tasks sent with the old one and not yet seen answered
are then recognised, not applied a second time.

With --view VIEW it may also run live queries over that view (GET
/v1/query): views are built from every entry, also those of scopes the
token does not read, so grant only views that show nothing its reader must
not see. A token with --scope '*' may query every view without --view;
--view '*' grants every view.`,
		Example: `  sluice token add alice-phone --scope user:7777
  sluice token add mirror --scope '*'
  sluice token add dashboard --view posts`,
		Args: exactArgs(1, "a token name"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := replicate.CheckScopes(scopes); err != nil {
				return usageError{err}
			}
			if err := replicate.CheckViews(views); err != nil {
				return usageError{err}
			}
			tok, err := store().AddWithViews(args[0], scopes, views)
			if err != nil {
				return err
			}
			fmt.Fprintln(e.out, tok)
			e.notef("token %q made; it reads %s. It is not shown again: give it to the reader now (sluice sync --token ...)", args[0], describeScopes(scopes))
			return nil
		},
	}
	add.Flags().StringArrayVar(&scopes, "scope", nil, `a scope the token reads (repeatable; "*" for every entry)`)
	add.Flags().StringArrayVar(&views, "view", nil, `a view the token may query live (repeatable; "*" for every view)`)

	var asJSON bool
	list := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the tokens (names, scopes, when made; never the tokens)",
		Long: `List the tokens readers of sluice serve may use: name, scopes and when it
was made. The tokens themselves are not kept, so they cannot be listed.`,
		Example: `  sluice token list`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			ts, err := store().List()
			if err != nil {
				return err
			}
			if asJSON {
				if ts == nil {
					ts = []replicate.Token{}
				}
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(ts)
			}
			tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSCOPES\tVIEWS\tCREATED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, describeScopes(t.Scopes), describeViews(t), t.Created.Local().Format(time.DateTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&asJSON, "json", false, "print the tokens as JSON")

	revoke := &cobra.Command{
		Use:   "revoke NAME",
		Short: "Revoke a token: its reader is refused from now on",
		Long: `Revoke the token named NAME: a running sluice serve refuses it from its next
request on (401), and its open streams end at their next heartbeat.`,
		Example: `  sluice token revoke alice-phone`,
		Args:    exactArgs(1, "a token name"),
		RunE: func(c *cobra.Command, args []string) error {
			if err := store().Revoke(args[0]); err != nil {
				return err
			}
			e.notef("token %q revoked", args[0])
			return nil
		},
	}
	c.AddCommand(add, list, revoke)
	return c
}

// describeViews says which views a token may query live.
func describeViews(t replicate.Token) string {
	switch {
	case slices.Contains(t.Scopes, replicate.AllScopes) || slices.Contains(t.Views, replicate.AllViews):
		return "all"
	case len(t.Views) == 0:
		return "none"
	}
	return strings.Join(t.Views, ", ")
}

func describeScopes(scopes []string) string {
	if len(scopes) == 0 {
		return "unscoped entries only"
	}
	for _, sc := range scopes {
		if sc == replicate.AllScopes {
			return "every entry"
		}
	}
	return "unscoped entries and " + strings.Join(scopes, ", ")
}
