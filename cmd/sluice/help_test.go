package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandHasExample: every command (cobra's own completion and
// help aside) has a long description and at least one example in --help.
func TestEveryCommandHasExample(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() == "completion" || c.Name() == "help" {
			return
		}
		if strings.TrimSpace(c.Example) == "" || strings.TrimSpace(c.Long) == "" {
			t.Errorf("%s: no example or no long description in --help", c.CommandPath())
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(newRootCmd(newEnv(strings.NewReader(""), io.Discard, io.Discard)))
}

// TestUsageMistakes: common mistakes get a message that says what was
// wrong and what to do, with the exit status of a usage error where it is
// one. (Before: an unknown command exited 1, and importing a JSON file
// said only that it is not a flumelog-offset file.)
func TestUsageMistakes(t *testing.T) {
	dir := t.TempDir()
	jsonFile := filepath.Join(t.TempDir(), "export.json")
	os.WriteFile(jsonFile, []byte("{\"a\":1}\n"), 0o644)
	for _, c := range []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"inedx"}, 2, []string{`unknown command "inedx"`, "index", "sluice --help"}},
		{[]string{"import", jsonFile}, 1, []string{"not a flumelog-offset file", "for JSON lines, use: sluice import - < " + jsonFile, "nothing was imported"}},
		{[]string{"import", filepath.Join(dir, "nope")}, 1, []string{"nope: no such file or directory"}},
		{[]string{"query", "SELECT 1"}, 1, []string{"no view files", "run sluice index first"}},
		{[]string{"cat"}, 1, []string{"no log in", "append to it or import one first"}},
	} {
		r := sluice(t, dir, "", c.args...)
		if r.code != c.code {
			t.Errorf("sluice %s: exit %d, want %d (%s)", strings.Join(c.args, " "), r.code, c.code, r.err)
		}
		for _, w := range c.want {
			if !strings.Contains(r.err, w) {
				t.Errorf("sluice %s: %q does not say %q", strings.Join(c.args, " "), r.err, w)
			}
		}
	}
}
