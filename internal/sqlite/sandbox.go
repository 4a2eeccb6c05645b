package sqlite

import (
	"fmt"
	"strings"
)

// Sandbox is an Authorizer policy for statements that come from outside the
// program, such as the SQL of a view file: they may read anything, but
// write only the tables (and create or drop only the objects) in Own, and
// never attach or detach a file, create temporary objects (a temporary
// trigger could watch any table), begin or end a transaction, change a
// setting with PRAGMA, or call load_extension.
//
// A Sandbox is used by one connection, on one goroutine.
type Sandbox struct {
	// Own holds the lower-case names of the objects the statements may
	// write, alter and drop. Objects they create join it.
	Own map[string]bool
	// Create allows creating tables, views, triggers and virtual tables
	// (a view's schema runs with it).
	Create bool
	// Reserved lists name prefixes (lower case) no created object may
	// take, such as the prefix of the file's own tables.
	Reserved []string
	// Denied says why the last action was denied.
	Denied string
}

// readPragmas are the pragmas that only describe the schema.
var readPragmas = map[string]bool{
	"table_info": true, "table_xinfo": true, "table_list": true, "index_list": true, "index_info": true,
	"index_xinfo": true, "foreign_key_list": true, "collation_list": true, "function_list": true,
}

// Authorize implements the policy; pass it to Conn.SetAuthorizer.
func (s *Sandbox) Authorize(action int, arg1, arg2, db, trigger string) bool {
	deny := func(format string, args ...any) bool {
		s.Denied = fmt.Sprintf(format, args...)
		return false
	}
	a1, a2 := strings.ToLower(arg1), strings.ToLower(arg2)
	switch action {
	case AuthRead, AuthSelect, AuthRecursive:
		return true
	case AuthFunction:
		if a2 == "load_extension" {
			return deny("load_extension is not allowed")
		}
		return true
	case AuthSavepoint:
		if strings.HasPrefix(a2, "sluice_") {
			return deny("savepoint %s is sluice's own", arg2)
		}
		return true
	case AuthInsert, AuthUpdate, AuthDelete:
		if db == "main" && (a1 == "sqlite_master" || a1 == "sqlite_schema") {
			return true // part of a CREATE or DROP, itself checked
		}
		if a1 == "sqlite_temp_master" || a1 == "sqlite_temp_schema" {
			return deny("temporary objects are not allowed")
		}
		if db != "main" || !s.Own[a1] {
			return deny("writing to %s.%s, which is not one of this view's tables, is not allowed", db, arg1)
		}
		return true
	case AuthCreateTable, AuthCreateView, AuthCreateVTable:
		return s.create(arg1, "", db, deny)
	case AuthCreateIndex, AuthCreateTrigger:
		return s.create(arg1, a2, db, deny)
	case AuthDropTable, AuthDropView, AuthDropVTable, AuthDropIndex, AuthDropTrigger:
		if db != "main" || !s.Own[a1] {
			return deny("dropping %s, which is not one of this view's objects, is not allowed", arg1)
		}
		return true
	case AuthAlterTable:
		if arg1 != "main" || !s.Own[a2] {
			return deny("altering %s, which is not one of this view's tables, is not allowed", arg2)
		}
		return true
	case AuthReindex:
		if !s.Own[a1] {
			return deny("REINDEX of %s, which is not one of this view's indexes, is not allowed", arg1)
		}
		return true
	case AuthPragma:
		if readPragmas[a1] {
			return true
		}
		return deny("PRAGMA %s is not allowed", arg1)
	case AuthAttach:
		return deny("ATTACH is not allowed")
	case AuthDetach:
		return deny("DETACH is not allowed")
	case AuthTransaction:
		return deny("%s is not allowed: sluice runs each batch in its own transaction", arg1)
	case AuthCreateTempIndex, AuthCreateTempTable, AuthCreateTempTrig, AuthCreateTempView:
		return deny("temporary objects are not allowed")
	}
	return deny("this statement (authorizer action %d) is not allowed", action)
}

// create decides on creating the object name (on table, for an index or a
// trigger) and adds it to Own.
func (s *Sandbox) create(name, table, db string, deny func(string, ...any) bool) bool {
	n := strings.ToLower(name)
	switch {
	case db != "main":
		return deny("creating %s in database %s is not allowed", name, db)
	case table == "" && !s.Create:
		return deny("creating %s is not allowed here (only in the view's schema)", name)
	case table != "" && !s.Own[table]:
		return deny("creating %s on %s, which is not one of this view's tables, is not allowed", name, table)
	}
	for _, p := range s.Reserved {
		if strings.HasPrefix(n, p) {
			return deny("the name %s is reserved (%s…)", name, p)
		}
	}
	if s.Own == nil {
		s.Own = map[string]bool{}
	}
	s.Own[n] = true
	return true
}
