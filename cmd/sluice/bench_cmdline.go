package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// benchCommandLine renders a bench command and the flags the user set as a
// shell command line, for the reports: "sluice bench local --runs=5".
// A repeatable flag (--index-flag) appears once per value.
func benchCommandLine(c *cobra.Command) string {
	parts := []string{c.CommandPath()}
	c.Flags().Visit(func(f *pflag.Flag) {
		vals := []string{f.Value.String()}
		if v, ok := f.Value.(pflag.SliceValue); ok {
			vals = []string{strings.Join(v.GetSlice(), ",")}
			if f.Value.Type() == "stringArray" {
				vals = v.GetSlice()
			}
		}
		for _, v := range vals {
			if f.Value.Type() == "bool" && v == "true" {
				parts = append(parts, "--"+f.Name)
			} else {
				parts = append(parts, "--"+f.Name+"="+shellQuote(v))
			}
		}
	})
	return strings.Join(parts, " ")
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`*?[]{}|&;<>()#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
