#ifndef LOYALI_CYAML_SHIM_H
#define LOYALI_CYAML_SHIM_H
#include <yaml.h>
#endif
