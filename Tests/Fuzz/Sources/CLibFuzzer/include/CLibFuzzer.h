#ifndef LOYALI_HOOKS_CLIBFUZZER_H
#define LOYALI_HOOKS_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that keep their own `main`: parses libFuzzer's flags
/// from argc/argv and calls `callback` once per input. Defined by the runtime linked with
/// `-sanitize=fuzzer`; returns only when fuzzing stops without a crash.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

#endif
