package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/sluicedb/sluice/bench"
	"github.com/sluicedb/sluice/internal/fsutil"
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

// benchLogFlags choose the SSB log a benchmark runs over: the log.offset
// given with --ssb (a file or a directory holding flume/log.offset), or
// else the one gen.sh generates (--messages, --authors), whose native copy
// is prepared beside it unless --prepared says where.
type benchLogFlags struct {
	ssb, gen, prepared string
	messages, authors  int
}

// add declares the flags; what names the log in their help ("log",
// "backlog").
func (b *benchLogFlags) add(f *pflag.FlagSet, what string) {
	f.StringVar(&b.ssb, "ssb", "", "the "+what+": this flumelog-offset file (or directory holding flume/log.offset) instead of a generated log")
	f.StringVar(&b.gen, "gen", filepath.Join("bench", "ssbgen", "gen.sh"), "the generator script of the SSB logs")
	f.IntVar(&b.messages, "messages", 600000, "messages in the generated "+what)
	f.IntVar(&b.authors, "authors", 0, "authors in the generated "+what+" (default: gen.sh's, messages/400)")
	f.StringVar(&b.prepared, "prepared", "", "keep the prepared native log in this directory (default: beside the generated log; none with --ssb)")
}

// resolve returns the log.offset's path and where to prepare its native
// copy, generating the log first if need be.
func (b *benchLogFlags) resolve(ctx context.Context, e *env) (source, prepared string, err error) {
	source, prepared = b.ssb, b.prepared
	if source == "" {
		if _, err := os.Stat(b.gen); err != nil {
			return "", "", usagef("--gen %s: %v (run from the repository's root, or give --gen or --ssb)", b.gen, err)
		}
		path, err := bench.GenerateSSBLog(ctx, b.gen, b.messages, b.authors, e.errOut)
		if err != nil {
			return "", "", err
		}
		source = path
		if prepared == "" {
			// Beside flume/ in the generated log's directory.
			prepared = filepath.Join(filepath.Dir(filepath.Dir(path)), "sluice-log")
		}
	}
	source, err = findOffsetLog(source)
	return source, prepared, err
}

// benchReport prints a benchmark's Markdown report on stdout and, unless
// path is "", writes it there too.
func benchReport(e *env, path string, write func(io.Writer) error) error {
	var md strings.Builder
	if err := write(&md); err != nil {
		return err
	}
	if _, err := io.WriteString(e.out, md.String()); err != nil {
		return err
	}
	if path == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if err := fsutil.WriteFileAtomic(path, []byte(md.String()), 0o644); err != nil {
		return err
	}
	e.notef("wrote %s", path)
	return nil
}
