#ifndef LOYALI_CCRYPTO_SHIM_H
#define LOYALI_CCRYPTO_SHIM_H
// The HMAC fast path precomputes the keyed SHA-256 states once per secret and copies them per
// message; OpenSSL 3 marks the low-level SHA256_* calls deprecated but keeps them supported.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#endif
