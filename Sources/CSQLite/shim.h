#ifndef LOYALI_CSQLITE_SHIM_H
#define LOYALI_CSQLITE_SHIM_H
#include <sqlite3.h>

/* sqlite3_config is variadic, which Swift cannot call. Turns off SQLite's memory statistics, which
   nothing reads: with them on, every allocation and free inside SQLite takes one process-wide
   mutex, which the ingest and store threads then contend for. Must run before SQLite is
   initialized (the first open); afterwards it returns SQLITE_MISUSE and changes nothing. */
static inline int loyali_sqlite_disable_memstatus(void) {
    return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}
#endif
