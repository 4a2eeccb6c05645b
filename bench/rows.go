package bench

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicedb/sluice/internal/sqlite"
)

// SSBRows counts the rows of the SSB view set's tables.
type SSBRows struct {
	Authors, Messages, Links, Contacts, Abouts int64
}

// String formats the counts for a report.
func (r SSBRows) String() string {
	return fmt.Sprintf("%s authors, %s messages, %s links, %s contacts, %s abouts",
		groupInt(r.Authors), groupInt(r.Messages), groupInt(r.Links), groupInt(r.Contacts), groupInt(r.Abouts))
}

// CountSSBRows counts the rows of the SSB view file at path, read-only.
func CountSSBRows(path string) (SSBRows, error) {
	if _, err := os.Stat(path); err != nil {
		return SSBRows{}, fmt.Errorf("count rows: %w", err)
	}
	c, err := sqlite.Open(path, sqlite.OpenReadOnly)
	if err != nil {
		return SSBRows{}, fmt.Errorf("count rows of %s: %w", path, err)
	}
	defer c.Close()
	var r SSBRows
	for _, t := range []struct {
		name string
		n    *int64
	}{
		{"authors", &r.Authors}, {"messages", &r.Messages}, {"links", &r.Links},
		{"contacts", &r.Contacts}, {"abouts", &r.Abouts},
	} {
		s, err := c.Prepare("SELECT count(*) FROM " + t.name)
		if err != nil {
			return r, fmt.Errorf("count rows of %s: %w", path, err)
		}
		rows, err := s.Query()
		if err != nil {
			s.Close()
			return r, fmt.Errorf("count rows of %s: %w", path, err)
		}
		if rows.Next() {
			*t.n = rows.Int(0)
		}
		err = rows.Err()
		rows.Close()
		s.Close()
		if err != nil {
			return r, fmt.Errorf("count rows of %s: %w", path, err)
		}
	}
	return r, nil
}

// dirFileBytes sums the sizes of the regular files in dir (not below):
// for a views directory, the databases with their -wal and -shm files.
func dirFileBytes(dir string) (int64, error) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, de := range des {
		if !de.Type().IsRegular() {
			continue
		}
		fi, err := os.Stat(filepath.Join(dir, de.Name()))
		if err != nil {
			return 0, err
		}
		n += fi.Size()
	}
	return n, nil
}
