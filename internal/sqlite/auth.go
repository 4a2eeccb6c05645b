package sqlite

/*
#include <stdint.h>
typedef struct sqlite3 sqlite3;
int sluice_set_authorizer(sqlite3 *db, uintptr_t h);
*/
import "C"

import (
	"runtime/cgo"
)

// Authorizer actions (the SQLITE_* action codes of sqlite3_set_authorizer).
const (
	AuthCreateIndex     = 1
	AuthCreateTable     = 2
	AuthCreateTempIndex = 3
	AuthCreateTempTable = 4
	AuthCreateTempTrig  = 5
	AuthCreateTempView  = 6
	AuthCreateTrigger   = 7
	AuthCreateView      = 8
	AuthDelete          = 9
	AuthDropIndex       = 10
	AuthDropTable       = 11
	AuthDropTempIndex   = 12
	AuthDropTempTable   = 13
	AuthDropTempTrigger = 14
	AuthDropTempView    = 15
	AuthDropTrigger     = 16
	AuthDropView        = 17
	AuthInsert          = 18
	AuthPragma          = 19
	AuthRead            = 20
	AuthSelect          = 21
	AuthTransaction     = 22
	AuthUpdate          = 23
	AuthAttach          = 24
	AuthDetach          = 25
	AuthAlterTable      = 26
	AuthReindex         = 27
	AuthAnalyze         = 28
	AuthCreateVTable    = 29
	AuthDropVTable      = 30
	AuthFunction        = 31
	AuthSavepoint       = 32
	AuthRecursive       = 33
)

// Authorizer decides, while SQLite compiles a statement on the connection,
// whether an action is allowed. The arguments are those of
// sqlite3_set_authorizer's callback ("" for NULL): two that depend on the
// action, the database name, and the trigger or view the access comes
// from. A statement with a denied action fails to compile with
// SQLITE_AUTH ("not authorized").
type Authorizer func(action int, arg1, arg2, db, trigger string) bool

// SetAuthorizer makes a check every statement compiled on the connection
// from now on (statements prepared before keep their compiled form until
// SQLite recompiles them, after a schema change: then a checks them
// again). nil removes it.
func (c *Conn) SetAuthorizer(a Authorizer) {
	if c.auth != 0 {
		C.sluice_set_authorizer(c.db, 0)
		c.auth.Delete()
		c.auth = 0
	}
	if a == nil {
		return
	}
	c.auth = cgo.NewHandle(a)
	C.sluice_set_authorizer(c.db, C.uintptr_t(c.auth))
}

//export sluiceAuthorize
func sluiceAuthorize(h C.uintptr_t, action C.int, a1, a2, a3, a4 *C.char) C.int {
	a := cgo.Handle(h).Value().(Authorizer)
	if a(int(action), goString(a1), goString(a2), goString(a3), goString(a4)) {
		return 0 // SQLITE_OK
	}
	return 1 // SQLITE_DENY
}

func goString(p *C.char) string {
	if p == nil {
		return ""
	}
	return C.GoString(p)
}
