package main

import "github.com/spf13/cobra"

func init() { extraCommands = append(extraCommands, newBenchCmd) }

// benchCommands are the subcommands of sluice bench, added by the files
// that implement them.
var benchCommands []func(*env) *cobra.Command

func newBenchCmd(e *env) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Run sluice's benchmarks (see bench/README.md)",
		Long: `Reproducible benchmarks over generated SSB logs (bench/ssbgen/gen.sh makes
them, with the npm package ssb-fixtures). Results print as Markdown tables.`,
		Example: `  sluice bench sync --messages 600000 --runs 5
  sluice bench local --messages 600000`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error { return c.Help() },
	}
	for _, sub := range benchCommands {
		c.AddCommand(sub(e))
	}
	return c
}
