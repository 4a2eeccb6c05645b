package main

import (
	"database/sql"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	_ "github.com/mattn/go-sqlite3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = ""

func newVersionCmd(e *env) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print sluice's version, and those of Go and SQLite it was built with",
		Long: `Print sluice's version (the release, or the commit it was built from), the Go
release, system and architecture it was built for, and the version of the
SQLite compiled into it.`,
		Example: `  sluice version`,
		Args:    noArgs,
		RunE: func(c *cobra.Command, args []string) error {
			v := version
			if v == "" {
				v = "(devel)"
				if bi, ok := debug.ReadBuildInfo(); ok {
					if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
						v = bi.Main.Version
					}
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" && len(s.Value) >= 12 {
							v += " " + s.Value[:12]
						}
					}
				}
			}
			sqliteVersion := "unknown"
			if db, err := sql.Open("sqlite3", ":memory:"); err == nil {
				db.QueryRow(`SELECT sqlite_version()`).Scan(&sqliteVersion)
				db.Close()
			}
			fmt.Fprintf(e.out, "sluice %s\n%s %s/%s, SQLite %s\n", v, runtime.Version(), runtime.GOOS, runtime.GOARCH, sqliteVersion)
			return nil
		},
	}
}
