#include <stdint.h>
#include "_cgo_export.h"

typedef struct sqlite3 sqlite3;
int sqlite3_set_authorizer(sqlite3*, int (*)(void*, int, const char*, const char*, const char*, const char*), void*);

// sluice_auth calls the Go authorizer registered under the handle p.
static int sluice_auth(void *p, int action, const char *a1, const char *a2, const char *a3, const char *a4) {
	return sluiceAuthorize((uintptr_t)p, action, (char*)a1, (char*)a2, (char*)a3, (char*)a4);
}

// sluice_set_authorizer installs sluice_auth with handle h, or removes the
// authorizer if h is 0.
int sluice_set_authorizer(sqlite3 *db, uintptr_t h) {
	return sqlite3_set_authorizer(db, h ? sluice_auth : 0, (void*)h);
}
