package view

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"github.com/sluicedb/sluice/log"
)

// The meta tables every view file holds. Data and meta change in the same
// transaction, so after any crash since, ahead and the view's rows agree.
const metaSchema = `
CREATE TABLE IF NOT EXISTS sluice_file(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sluice_views(
  name TEXT PRIMARY KEY,
  version INTEGER NOT NULL,
  fingerprint TEXT NOT NULL,   -- of version and schema: a change rebuilds the view
  index_fingerprint TEXT NOT NULL,
  since INTEGER NOT NULL,      -- every entry with seq <= since is applied
  check_seq INTEGER NOT NULL,  -- the last entry applied in seq order ...
  check_crc INTEGER NOT NULL,  -- ... and its checksum: detects a replaced log
  check_kind INTEGER NOT NULL DEFAULT 0, -- 0: check_crc is PayloadCRC (older files), 1: EntryCRC
  objects TEXT NOT NULL,       -- tables and indexes the schema created, newline-separated
  index_objects TEXT NOT NULL,
  indexes_built INTEGER NOT NULL,
  indexes_done INTEGER NOT NULL, -- how many of the view's Indexes exist (they are built one by one)
  local_ahead INTEGER NOT NULL,
  rebuilt_at TEXT NOT NULL,
  rebuild_reason TEXT NOT NULL
);
-- Local entries applied ahead of since; removed once since passes them.
CREATE TABLE IF NOT EXISTS sluice_ahead(view TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(view, seq)) WITHOUT ROWID;
-- Entries a view could not index.
CREATE TABLE IF NOT EXISTS sluice_rejects(view TEXT NOT NULL, seq INTEGER NOT NULL, error TEXT NOT NULL, PRIMARY KEY(view, seq)) WITHOUT ROWID;
`

// fileFormat marks a SQLite file as a sluice view file.
const fileFormat = "sluice-views 2"

// meta is a view's row in sluice_views.
type meta struct {
	name          string
	version       int
	fingerprint   string
	indexFP       string
	since         uint64
	checkSeq      uint64
	checkCRC      uint32
	checkKind     int // checkPayload or checkEntry
	objects       []string
	indexObjects  []string
	indexesBuilt  bool
	indexesDone   int
	localAhead    bool
	rebuiltAt     string
	rebuildReason string
}

// fingerprint hashes what defines a view's tables.
func fingerprint(version int, stmts []string) string {
	h := sha256.New()
	fmt.Fprintf(h, "version %d\n", version)
	for _, s := range stmts {
		fmt.Fprintf(h, "%d\n%s\n", len(s), s)
	}
	return hex.EncodeToString(h.Sum(nil))[:32]
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// bootID identifies the running operating-system boot, so that a view file
// left dirty (written with synchronous=OFF) by a process that crashed can be
// trusted when the OS kept running, and distrusted after a reboot.
func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

const metaColumns = `name, version, fingerprint, index_fingerprint, since, check_seq, check_crc, objects, index_objects, indexes_built, indexes_done, local_ahead, rebuilt_at, rebuild_reason, check_kind`

// What check_crc holds.
const (
	checkPayload = 0 // PayloadCRC, in files of earlier versions
	checkEntry   = 1 // EntryCRC
)

// migrateMeta brings the meta tables of a file made by an earlier version
// up to date: sluice_views gains check_kind (its rows keep PayloadCRC).
func (f *File) migrateMeta() error {
	n, err := f.queryInt(`SELECT count(*) FROM pragma_table_info('sluice_views') WHERE name = 'check_kind'`)
	if err != nil || n > 0 {
		return err
	}
	return f.exec(`ALTER TABLE sluice_views ADD COLUMN check_kind INTEGER NOT NULL DEFAULT 0`)
}

// loadMeta reads a view's row from sluice_views.
func (f *File) loadMeta(name string) (meta, bool, error) {
	s, err := f.conn.Prepare(`SELECT ` + metaColumns + ` FROM sluice_views WHERE name = ?`)
	if err != nil {
		return meta{}, false, err
	}
	defer s.Close()
	s.Text(name)
	rows, err := s.Query()
	if err != nil {
		return meta{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return meta{}, false, rows.Err()
	}
	m := meta{
		name: rows.Text(0), version: int(rows.Int(1)), fingerprint: rows.Text(2), indexFP: rows.Text(3),
		since: uint64(rows.Int(4)), checkSeq: uint64(rows.Int(5)), checkCRC: uint32(rows.Int(6)),
		objects: splitLines(rows.Text(7)), indexObjects: splitLines(rows.Text(8)),
		indexesBuilt: rows.Int(9) != 0, indexesDone: int(rows.Int(10)), localAhead: rows.Int(11) != 0, rebuiltAt: rows.Text(12), rebuildReason: rows.Text(13),
		checkKind: int(rows.Int(14)),
	}
	return m, true, nil
}

// saveMeta writes a view's whole row.
func (f *File) saveMeta(m meta) error {
	s, err := f.conn.Prepare(`INSERT OR REPLACE INTO sluice_views(` + metaColumns + `) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer s.Close()
	s.Text(m.name)
	s.Int(int64(m.version))
	s.Text(m.fingerprint)
	s.Text(m.indexFP)
	s.Int(int64(m.since))
	s.Int(int64(m.checkSeq))
	s.Int(int64(m.checkCRC))
	s.Text(strings.Join(m.objects, "\n"))
	s.Text(strings.Join(m.indexObjects, "\n"))
	s.Int(boolInt(m.indexesBuilt))
	s.Int(int64(m.indexesDone))
	s.Int(boolInt(m.localAhead))
	s.Text(m.rebuiltAt)
	s.Text(m.rebuildReason)
	s.Int(int64(m.checkKind))
	return s.Exec()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// loadAhead reads the view's local entries applied ahead of since.
func (f *File) loadAhead(vs *viewState) error {
	s, err := f.conn.Prepare(`SELECT seq FROM sluice_ahead WHERE view = ?`)
	if err != nil {
		return err
	}
	defer s.Close()
	s.Text(vs.v.Name())
	rows, err := s.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		vs.ahead[log.Seq(rows.Int(0))] = struct{}{}
	}
	return rows.Err()
}

// execArgs runs one statement with parameters.
func (f *File) execArgs(sql string, args ...any) error {
	s, err := f.conn.Prepare(sql)
	if err != nil {
		return err
	}
	defer s.Close()
	for _, a := range args {
		if err := s.Value(a); err != nil {
			return err
		}
	}
	return s.Exec()
}

func (f *File) view(name string) *viewState {
	for _, vs := range f.views {
		if vs.v.Name() == name {
			return vs
		}
	}
	return nil
}
