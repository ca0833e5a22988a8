/*
 * SHA-256d header scanning with the x86 SHA extensions. Callers must check
 * shani_cpu_supported() (mining-addon.c) before calling anything else here:
 * these functions execute SHA, SSSE3 and SSE4.1 instructions.
 */
#ifndef CHEESECHAIN_SHA256D_SHANI_H
#define CHEESECHAIN_SHA256D_SHANI_H

#include <stdint.h>

/* Nonces hashed side by side in one loop iteration. */
#ifndef LANES
#define LANES 4
#endif

/*
 * Index of the first nonce in [start, start + count) whose SHA-256d digest
 * word 7, byte-swapped (the top 32 bits of the hash as Bitcoin reads it), is
 * at or below the job's target top word; -1 when there is none. `job` is the
 * 32-word layout of src/mining/sha256-job.ts; start + count must not exceed 2^32.
 */
int32_t shani_scan(const uint32_t *job, uint32_t start, uint32_t count);

/* Full SHA-256d digests (32 bytes each, internal byte order) of `count` nonces from `start` into `out`. */
void shani_digest(const uint32_t *job, uint32_t start, uint32_t count, uint8_t *out);

#endif
