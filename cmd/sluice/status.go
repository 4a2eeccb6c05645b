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
	"github.com/sluicedb/sluice/replicate"
)

// logStatus is what sluice status reports.
type logStatus struct {
	Path     string       `json:"path"`
	Format   string       `json:"format"`
	Node     string       `json:"node,omitempty"`
	Head     log.Seq      `json:"head"`
	Mark     log.Seq      `json:"mark"`
	Bytes    int64        `json:"bytes"`
	Local    int64        `json:"local"`
	Remote   int64        `json:"remote"`
	Deleted  int64        `json:"deleted,omitempty"`
	LostSeqs int64        `json:"lost_seqs,omitempty"`
	LastOpen *time.Time   `json:"last_open,omitempty"`
	Repairs  []log.Repair `json:"repairs"`
	Lost     *log.Loss    `json:"lost,omitempty"`
	// Peers are the nodes sluice sync pulls from (DIR/log only).
	Peers []peerStatus `json:"peers,omitempty"`
}

// peerStatus is a peer in sluice status.
type peerStatus struct {
	URL         string     `json:"url"`
	Node        string     `json:"node,omitempty"`
	Position    log.Seq    `json:"position"`
	Last        log.Seq    `json:"last"`
	Behind      log.Seq    `json:"behind"`
	LastContact *time.Time `json:"last_contact,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	ErrorTime   *time.Time `json:"error_time,omitempty"`
}

func newStatusCmd(e *env) *cobra.Command {
	var src sourceFlags
	var asJSON bool
	c := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the log's node, head seq, size, entries by origin, last repairs and peers",
		Long: `Show the log's node id, head seq, its durable mark (the highest seq
acknowledged as on disk), its size on disk, how many entries are local and
remote (this reads the whole log), and what the last open for writing
repaired (a torn tail cut off after a crash) or accepted as lost, if
anything. If the log ends before its mark, acknowledged entries are missing:
status says which and fails.

Then the peers sluice sync pulls from: how far it got in each one's log, how
many entries it is behind (as last heard), when it last heard from it and the
last error, as a running sync --follow last saved them (every 2 s).`,
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
				if err := enc.Encode(st); err != nil {
					return err
				}
				return lostError(st)
			}
			tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "log:\t%s (%s)\n", st.Path, st.Format)
			if st.Node != "" {
				fmt.Fprintf(tw, "node:\t%s\n", st.Node)
			}
			fmt.Fprintf(tw, "head seq:\t%d\n", st.Head)
			if st.Format == "sluice" {
				fmt.Fprintf(tw, "mark:\t%d (the highest seq acknowledged as durable)\n", st.Mark)
			}
			fmt.Fprintf(tw, "size:\t%.1f MB\n", mb(st.Bytes))
			fmt.Fprintf(tw, "entries:\t%d local, %d remote", st.Local, st.Remote)
			if st.Deleted > 0 {
				fmt.Fprintf(tw, ", %d deleted", st.Deleted)
			}
			if st.LostSeqs > 0 {
				fmt.Fprintf(tw, ", %d seqs kept as lost (a loss accepted with sluice repair --accept-loss)", st.LostSeqs)
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
				if st.Lost != nil {
					fmt.Fprintf(tw, "\t%s\n", st.Lost)
				}
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if err := writePeers(e, st.Peers); err != nil {
				return err
			}
			return lostError(st)
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
	if r, ok := src.(*log.Reader); ok && !r.Node().IsZero() {
		st.Node = r.Node().String()
	}
	if lo, err := log.ReadLastOpen(dir); err == nil {
		st.LastOpen, st.Repairs, st.Lost = &lo.Time, lo.Repairs, lo.Lost
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	mark, err := log.ReadMark(dir)
	if err != nil {
		return nil, err
	}
	st.Mark = mark
	if sf.logPath == "" {
		if st.Peers, err = readPeers(e); err != nil {
			return nil, err
		}
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
	if p, ok := it.(log.Positioner); ok {
		st.Head = max(st.Head, p.Position()) // seqs kept as lost
	}
	st.LostSeqs = int64(st.Head) - st.Local - st.Remote
	return st, it.Err()
}

// lostError is the error status ends with when the log ends before its
// durable mark.
func lostError(st *logStatus) error {
	if st.Format != "sluice" || st.Head >= st.Mark {
		return nil
	}
	return fmt.Errorf("the log ends at seq %d before its durable mark %d: acknowledged seqs %d..%d are missing; "+
		"restore the log's files, or accept the loss with sluice repair --accept-loss", st.Head, st.Mark, st.Head+1, st.Mark)
}

// readPeers reads the peers sluice sync remembers, with where it stands.
func readPeers(e *env) ([]peerStatus, error) {
	ps, _, err := replicate.ReadPeers(e.peersPath())
	if err != nil {
		return nil, err
	}
	var out []peerStatus
	for _, p := range ps {
		s := peerStatus{URL: p.URL, Position: p.Position, Last: p.Last, Behind: p.Behind(), LastError: p.LastError}
		if !p.Node.IsZero() {
			s.Node = p.Node.String()
		}
		if !p.LastContact.IsZero() {
			s.LastContact = &p.LastContact
		}
		if !p.ErrorTime.IsZero() {
			s.ErrorTime = &p.ErrorTime
		}
		out = append(out, s)
	}
	return out, nil
}

// writePeers prints the peers table.
func writePeers(e *env, peers []peerStatus) error {
	if len(peers) == 0 {
		return nil
	}
	fmt.Fprintln(e.out)
	tw := tabwriter.NewWriter(e.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tPOSITION\tBEHIND\tLAST CONTACT\tLAST ERROR")
	for _, p := range peers {
		contact := "never"
		if p.LastContact != nil {
			contact = p.LastContact.Local().Format(time.DateTime)
		}
		lastErr := "-"
		if p.LastError != "" {
			lastErr = p.LastError
			if p.ErrorTime != nil {
				lastErr = p.ErrorTime.Local().Format(time.DateTime) + ": " + lastErr
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\n", p.URL, p.Position, p.Behind, contact, lastErr)
	}
	return tw.Flush()
}
