package view

import (
	"fmt"
	"os"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// MarkRebuild drops the tables of the view called name in the view file at
// path and resets its progress, so that the next OpenFile with the view
// recreates them and the indexer applies the whole log again. It needs no
// definition of the view: the file records what the view created. It must
// not run while another process writes the file.
func MarkRebuild(path, name, reason string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	c, err := sqlite.Open(path, sqlite.OpenReadWrite)
	if err != nil {
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	f := &File{path: path, conn: c}
	defer f.closeConn()
	if _, ours, err := f.inspect(); err != nil || !ours {
		return fmt.Errorf("rebuild view %q: %s is not a sluice view file", name, path)
	}
	if err := f.migrateMeta(); err != nil {
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	m, found, err := f.loadMeta(name)
	if err != nil {
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	if !found {
		return fmt.Errorf("rebuild view %q: %s holds no such view", name, path)
	}
	if err := f.exec("BEGIN IMMEDIATE"); err != nil {
		return err
	}
	err = f.dropObjects(append(m.indexObjects, m.objects...))
	if err == nil {
		m.fingerprint, m.since, m.checkSeq, m.checkCRC = "", 0, 0, 0
		m.objects, m.indexObjects, m.indexesBuilt, m.indexesDone, m.rebuildReason = nil, nil, false, 0, reason
		err = f.saveMeta(m)
	}
	for _, q := range []string{`DELETE FROM sluice_ahead WHERE view = ?`, `DELETE FROM sluice_rejects WHERE view = ?`} {
		if err == nil {
			err = f.execArgs(q, name)
		}
	}
	if err != nil {
		f.exec("ROLLBACK")
		return fmt.Errorf("rebuild view %q: %w", name, err)
	}
	return f.exec("COMMIT")
}

// SetInfo records a string in the file (table sluice_file), for tools: the
// CLI keeps there where a SQL view was loaded from.
func (f *File) SetInfo(key, value string) error {
	return f.execArgs(`INSERT OR REPLACE INTO sluice_file(key, value) VALUES (?, ?)`, "info:"+key, value)
}

// Info returns what SetInfo recorded under key, or "".
func (f *File) Info(key string) (string, error) { return f.fileValue("info:" + key) }
