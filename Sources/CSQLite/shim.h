#ifndef LOYALI_CSQLITE_SHIM_H
#define LOYALI_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
