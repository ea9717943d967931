// Intentionally empty: SwiftPM needs one source file for a C target; the declaration in
// include/CLibFuzzer.h is all Swift needs.
#include "CLibFuzzer.h"
