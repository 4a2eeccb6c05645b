package main

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sluicedb/sluice/log"
)

// importedFile is the file in DIR that records the imports that finished,
// so that importing the same source again does not copy it twice.
const importedFile = "imported.json"

// finishedImport is an import that finished: records Skip+1..Records of
// Source went to the log's seqs Base+1..Base+Records-Skip (records 1..Skip
// were in the log already, from an earlier import of the same source).
//
// A source is the same as a finished import's when its id matches and its
// records Skip+1..Records are, payload for payload, those entries of the
// log: then the import appends only the records after them (a log.offset
// that grew since), or nothing. The path alone proves nothing (a file can
// be replaced), and standard input has none: the log's entries are the
// proof.
type finishedImport struct {
	Source   string    `json:"source"`
	Base     log.Seq   `json:"base"`
	Skip     int64     `json:"skip,omitempty"`
	Records  int64     `json:"records"`
	Finished time.Time `json:"finished"`
}

func (e *env) importedPath() string { return filepath.Join(e.dir, importedFile) }

// readFinishedImports returns the finished imports recorded in path, oldest
// first.
func readFinishedImports(path string) ([]finishedImport, error) {
	var fs []finishedImport
	_, err := readJSONFile(path, &fs, "the record of finished imports")
	return fs, err
}

// recordFinishedImport adds f to the record in path, durably.
func recordFinishedImport(path string, f finishedImport) error {
	fs, err := readFinishedImports(path)
	if err != nil {
		return err
	}
	return writeJSONFile(path, append(fs, f))
}

// describe says what f is, for messages.
func (f finishedImport) describe() string {
	src := f.Source
	if src == "-" {
		src = "standard input"
	}
	return fmt.Sprintf("%s was imported %s (its records %d..%d are the log's seqs %d..%d)",
		src, f.Finished.Local().Format(time.DateTime), f.Skip+1, f.Records, f.Base+1, f.Base+log.Seq(f.Records-f.Skip))
}

// errMismatch ends a comparison of a source with the log at the first
// record that differs.
var errMismatch = errors.New("differs")

// errCompared ends a comparison once every record it needs was compared.
var errCompared = errors.New("compared")

// sameAsImported reports whether src, of n records, is the source of the
// finished import f (see finishedImport): its records f.Skip+1..f.Records
// are the log's entries after f.Base. It reads src up to f.Records.
func sameAsImported(l *log.Log, src importSource, n int64, f finishedImport) (bool, error) {
	if n < f.Records {
		return false, nil
	}
	it, err := l.Iter(f.Base + 1)
	if err != nil {
		return false, err
	}
	defer it.Close()
	var i int64
	err = src.each(func(p []byte) error {
		i++
		switch {
		case i <= f.Skip:
			return nil
		case i > f.Records:
			return errCompared
		}
		if !it.Next() {
			if err := it.Err(); err != nil {
				return err
			}
			return errMismatch
		}
		if e := it.Entry(); e.Origin != log.Remote || e.Seq != f.Base+log.Seq(i-f.Skip) || !bytes.Equal(e.Payload, p) {
			return errMismatch
		}
		return nil
	})
	switch {
	case err == nil || errors.Is(err, errCompared):
		return true, nil
	case errors.Is(err, errMismatch):
		return false, nil
	}
	return false, err
}

// importedBefore finds, newest first, the finished import src (of n
// records) is the source of. With none, it returns nil; and, for a file
// that was imported before but whose records differ now (replaced,
// rewritten), a refusal unless again.
func importedBefore(e *env, l *log.Log, src importSource, n int64, again bool) (*finishedImport, error) {
	if again {
		return nil, nil
	}
	fs, err := readFinishedImports(e.importedPath())
	if err != nil {
		return nil, err
	}
	var other *finishedImport
	for i := len(fs) - 1; i >= 0; i-- {
		if fs[i].Source != src.id() {
			continue
		}
		same, err := sameAsImported(l, src, n, fs[i])
		if err != nil {
			return nil, err
		}
		if same {
			return &fs[i], nil
		}
		if other == nil {
			other = &fs[i]
		}
	}
	if other != nil && src.id() != "-" {
		// Standard input is a new source each time it differs; a file
		// that differs from its last import may still share records
		// with it.
		return nil, refusef("%s, and it differs from those entries now (replaced or rewritten?); importing it would add a second copy of what they share. To import it anyway: sluice import --again %s",
			other.describe(), shellQuote(src.id()))
	}
	return nil, nil
}
