/*
 * Node-API binding of the SHA-NI mining kernel (sha256d-shani.c).
 *
 * Exports:
 *   shaExtensions: boolean — CPUID reports SHA, SSSE3 and SSE4.1;
 *   lanes: number — nonces hashed side by side;
 *   scan(job: Uint32Array, start: number, count: number): number;
 *   digest(job: Uint32Array, start: number, count: number, out: Uint8Array): void.
 * scan and digest throw an Error when the CPU lacks the extensions (they are
 * never executed there) and a TypeError/RangeError on bad arguments. The
 * module keeps no mutable global state, so every worker thread may use it.
 * This file is compiled without -msha so that loading the module and asking
 * CPUID is safe on every x86-64 CPU.
 */
#include <cpuid.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <node_api.h>

#include "sha256d-shani.h"

/* Words of a job (src/mining/sha256-job.ts, JOB.SIZE). */
#define JOB_WORDS 32
/* 2^32: nonces of one header. */
#define NONCE_SPACE 4294967296.0

/* CPUID leaf 7 EBX bit 29: SHA; leaf 1 ECX bits 9 and 19: SSSE3, SSE4.1 (Intel SDM vol. 2A, CPUID). */
static bool cpu_has_sha_extensions(void) {
  unsigned int eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
  const bool ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
  if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
  const bool sha = (ebx >> 29) & 1;
  return sha && ssse3 && sse41;
}

#define CALL(env, call)                                                     \
  do {                                                                      \
    if ((call) != napi_ok) {                                                \
      const napi_extended_error_info *info = NULL;                          \
      napi_get_last_error_info((env), &info);                               \
      bool pending = false;                                                 \
      napi_is_exception_pending((env), &pending);                           \
      if (!pending)                                                         \
        napi_throw_error((env), NULL, info && info->error_message ? info->error_message : "Node-API call failed"); \
      return NULL;                                                          \
    }                                                                       \
  } while (0)

/* Per-environment data: whether the CPU may run the kernel (asked once per module instance). */
typedef struct {
  bool supported;
} instance;

static void free_instance(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  free(data);
}

/* Reads the job, start and count shared by scan and digest; false after throwing. */
static bool read_range(napi_env env, napi_value *argv, const uint32_t **job, uint32_t *start, uint32_t *count) {
  instance *self = NULL;
  if (napi_get_instance_data(env, (void **)&self) != napi_ok || self == NULL || !self->supported) {
    napi_throw_error(env, "ERR_NO_SHA_EXTENSIONS", "this CPU lacks the SHA extensions (CPUID.7.0:EBX[29], SSSE3, SSE4.1)");
    return false;
  }
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, argv[0], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[0], &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_uint32_array || length < JOB_WORDS) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "job must be a Uint32Array of at least 32 words");
    return false;
  }
  double s = 0, c = 0;
  if (napi_get_value_double(env, argv[1], &s) != napi_ok || napi_get_value_double(env, argv[2], &c) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "start and count must be numbers");
    return false;
  }
  if (!(s >= 0 && s < NONCE_SPACE && s == (double)(uint32_t)s) || !(c >= 0 && c <= NONCE_SPACE - s && c == (double)(uint32_t)c)) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", "start and count must be integers with start + count <= 2^32 and count < 2^32");
    return false;
  }
  *job = data;
  *start = (uint32_t)s;
  *count = (uint32_t)c;
  return true;
}

/* Reads `want` arguments into argv; false after throwing when fewer were given. */
static bool get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv, const char *usage) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", usage);
    return false;
  }
  return true;
}

static napi_value scan(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  const uint32_t *job;
  uint32_t start, count;
  if (!get_args(env, info, 3, argv, "scan(job, start, count)") || !read_range(env, argv, &job, &start, &count)) return NULL;
  napi_value result;
  CALL(env, napi_create_int32(env, shani_scan(job, start, count), &result));
  return result;
}

static napi_value digest(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  const uint32_t *job;
  uint32_t start, count;
  if (!get_args(env, info, 4, argv, "digest(job, start, count, out)") || !read_range(env, argv, &job, &start, &count)) return NULL;
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *out = NULL;
  if (napi_is_typedarray(env, argv[3], &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, argv[3], &type, &length, &out, NULL, NULL) != napi_ok ||
      type != napi_uint8_array || length / 32 < count) {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", "out must be a Uint8Array of at least 32 * count bytes");
    return NULL;
  }
  shani_digest(job, start, count, out);
  return NULL;
}

NAPI_MODULE_INIT() {
  instance *self = malloc(sizeof *self);
  if (self == NULL) {
    napi_throw_error(env, NULL, "out of memory");
    return NULL;
  }
  self->supported = cpu_has_sha_extensions();
  if (napi_set_instance_data(env, self, free_instance, NULL) != napi_ok) {
    free(self);
    napi_throw_error(env, NULL, "napi_set_instance_data failed");
    return NULL;
  }
  napi_value value;
  CALL(env, napi_get_boolean(env, self->supported, &value));
  CALL(env, napi_set_named_property(env, exports, "shaExtensions", value));
  CALL(env, napi_create_int32(env, LANES, &value));
  CALL(env, napi_set_named_property(env, exports, "lanes", value));
  CALL(env, napi_create_function(env, "scan", NAPI_AUTO_LENGTH, scan, NULL, &value));
  CALL(env, napi_set_named_property(env, exports, "scan", value));
  CALL(env, napi_create_function(env, "digest", NAPI_AUTO_LENGTH, digest, NULL, &value));
  CALL(env, napi_set_named_property(env, exports, "digest", value));
  return exports;
}
