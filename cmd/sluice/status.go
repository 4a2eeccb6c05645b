package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/sluicedb/sluice/log"
	"github.com/sluicedb/sluice/log/offset"
)

// logStatus is what sluice status reports.
type logStatus struct {
	Path     string       `json:"path"`
	Format   string       `json:"format"`
	Head     log.Seq      `json:"head"`
	Bytes    int64        `json:"bytes"`
	Local    int64        `json:"local"`
	Remote   int64        `json:"remote"`
	Deleted  int64        `json:"deleted,omitempty"`
	LastOpen *time.Time   `json:"last_open,omitempty"`
	Repairs  []log.Repair `json:"repairs"`
}

func newStatusCmd(e *env) *cobra.Command {
	var src sourceFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the log's head seq, size, entries by origin and last repairs",
		Long: `Show the log's head seq, its size on disk, how many entries are local and
remote (this reads the whole log), and what the last open for writing
repaired (a torn tail cut off after a crash), if anything.`,
		Example: `  sluice status
  sluice status --json | jq .head
  sluice status --ssb ~/.ssb`,
		Args: noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			st, err := readStatus(e, &src)
			if err != nil {
				return err
			}
			if asJSON {
				if st.Repairs == nil {
					st.Repairs = []log.Repair{}
				}
				enc := json.NewEncoder(e.out)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "log:\t%s (%s)\n", st.Path, st.Format)
			fmt.Fprintf(tw, "head seq:\t%d\n", st.Head)
			fmt.Fprintf(tw, "size:\t%.1f MB\n", mb(st.Bytes))
			fmt.Fprintf(tw, "entries:\t%d local, %d remote", st.Local, st.Remote)
			if st.Deleted > 0 {
				fmt.Fprintf(tw, ", %d deleted", st.Deleted)
			}
			fmt.Fprintln(tw)
			if st.Format == "sluice" {
				switch {
				case st.LastOpen == nil:
					fmt.Fprintf(tw, "last open:\tnever opened for writing\n")
				case len(st.Repairs) == 0:
					fmt.Fprintf(tw, "last open:\t%s, nothing repaired\n", st.LastOpen.Local().Format(time.DateTime))
				default:
					fmt.Fprintf(tw, "last open:\t%s, repaired:\n", st.LastOpen.Local().Format(time.DateTime))
					for _, r := range st.Repairs {
						fmt.Fprintf(tw, "\t%s\n", r)
					}
				}
			}
			return tw.Flush()
		},
	}
	src.add(c.Flags())
	c.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return c
}

func readStatus(e *env, sf *sourceFlags) (*logStatus, error) {
	src, closer, dir, err := sf.open(e)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	if l, ok := src.(*offset.Log); ok {
		s, err := l.Stats()
		if err != nil {
			return nil, err
		}
		return &logStatus{Path: dir, Format: fmt.Sprintf("flumelog-offset, %d-byte trailers", s.TrailerWidth),
			Head: log.Seq(s.Frames), Bytes: s.Bytes, Remote: s.Frames - s.Deleted, Deleted: s.Deleted}, nil
	}
	st := &logStatus{Path: dir, Format: "sluice"}
	if lo, err := log.ReadLastOpen(dir); err == nil {
		st.LastOpen, st.Repairs = &lo.Time, lo.Repairs
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "[0-9]*"))
	for _, m := range matches {
		if fi, err := os.Stat(m); err == nil {
			st.Bytes += fi.Size()
		}
	}
	it, err := src.Iter(1)
	if err != nil {
		return nil, err
	}
	defer it.Close()
	for it.Next() {
		ent := it.Entry()
		st.Head = ent.Seq
		if ent.Origin == log.Local {
			st.Local++
		} else {
			st.Remote++
		}
	}
	return st, it.Err()
}
