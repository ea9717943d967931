#ifndef LOYALI_CLIBPQ_SHIM_H
#define LOYALI_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
