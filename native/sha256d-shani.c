/*
 * SHA-256d of 80-byte block headers with the x86 SHA extensions (SHA-NI),
 * for the mining kernel. Compiled on its own with -msha -msse4.1 (see
 * binding.gyp); nothing here may run before the caller has checked CPUID
 * (mining-addon.c does, once per thread's module instance).
 *
 * Per nonce a header costs two compressions: the second header block
 * (the midstate of the first 64 bytes comes from the job) and the outer
 * block over the 32-byte inner digest. The tricks of native miners:
 *  - rounds 0-3 of the second block are taken from the job: only message
 *    word 3 (the nonce) differs between nonces, and it enters round 3 as a
 *    plain addition to the new a and e, so the job holds that state without
 *    it and a nonce adds itself to lanes A and E of the ABEF register;
 *  - message words 4-15 of both blocks are padding and length: their
 *    words-plus-constants are compile-time constants;
 *  - the outer hash stops after rounds 60-61: digest word 7 (the top 32 bits
 *    of the hash as Bitcoin reads it) is IV7 + e after round 60, which is
 *    lane F of the state after rounds 60-61; rounds 62-63 only move it;
 *  - LANES nonces run interleaved, so the latency of one sha256rnds2 chain
 *    is hidden behind the other's.
 * Words are handled as integers (big-endian words of FIPS 180-4 already
 * loaded); register layouts follow Intel's SHA extensions paper: ABEF holds
 * a, b, e, f in lanes 3, 2, 1, 0 and CDGH holds c, d, g, h.
 */
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#include "sha256d-shani.h"

/* Word offsets of the job (src/mining/sha256-job.ts, JOB). */
enum {
  JOB_MIDSTATE = 0,
  JOB_A4 = 16, JOB_E4 = 17, JOB_B4 = 18, JOB_C4 = 19, JOB_D4 = 20,
  JOB_F4 = 21, JOB_G4 = 22, JOB_H4 = 23,
  JOB_TARGET_TOP = 28, JOB_W0 = 29, JOB_W1 = 30, JOB_W2 = 31,
};

#define PAD_WORD 0x80000000u
#define HEADER_BITS 640u
#define DIGEST_BITS 256u
#define IV7 0x5be0cd19u

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

/* Round constants t..t+3 as one vector (lane i = K[t + i]). */
#define KV(t) _mm_loadu_si128((const __m128i *)&K[t])

/* Four rounds: two sha256rnds2, each consuming two lanes of msg (words + constants). */
#define ROUNDS4(abef, cdgh, msg) do {                                  \
    (cdgh) = _mm_sha256rnds2_epu32((cdgh), (abef), (msg));             \
    (abef) = _mm_sha256rnds2_epu32((abef), (cdgh), _mm_shuffle_epi32((msg), 0x0E)); \
  } while (0)

/* W[t..t+3] from W[t-16..t-13] (a), W[t-12..t-9] (b), W[t-8..t-5] (c), W[t-4..t-1] (d). */
#define SCHEDULE(a, b, c, d) \
  _mm_sha256msg2_epu32(_mm_add_epi32(_mm_sha256msg1_epu32((a), (b)), _mm_alignr_epi8((d), (c), 4)), (d))

/* The initial hash value (FIPS 180-4 5.3.3) in ABEF and CDGH form. */
#define IV_ABEF _mm_set_epi32(0x6a09e667, (int)0xbb67ae85, 0x510e527f, (int)0x9b05688c)
#define IV_CDGH _mm_set_epi32(0x3c6ef372, (int)0xa54ff53a, 0x1f83d9ab, 0x5be0cd19)

/* A state in ABEF/CDGH form rearranged into the words a, b, c, d (lo) and e, f, g, h (hi), lane 0 first. */
static inline __attribute__((always_inline)) void state_words(__m128i abef, __m128i cdgh, __m128i *lo, __m128i *hi) {
  const __m128i t = _mm_shuffle_epi32(abef, 0x1B);   /* lanes a b e f */
  const __m128i u = _mm_shuffle_epi32(cdgh, 0xB1);   /* lanes g h c d */
  *lo = _mm_blend_epi16(t, u, 0xF0);                 /* a b c d */
  *hi = _mm_alignr_epi8(u, t, 8);                    /* e f g h */
}

/* Per-call precomputation from the job. */
typedef struct {
  __m128i abef4, cdgh4;   /* second block after rounds 0-3, nonce word left out */
  __m128i mid_abef, mid_cdgh;
  __m128i w0_3;           /* W0, W1, W2 and a zero lane for the nonce */
} prepared;

static void prepare(const uint32_t *job, prepared *p) {
  p->abef4 = _mm_set_epi32((int)job[JOB_A4], (int)job[JOB_B4], (int)job[JOB_E4], (int)job[JOB_F4]);
  p->cdgh4 = _mm_set_epi32((int)job[JOB_C4], (int)job[JOB_D4], (int)job[JOB_G4], (int)job[JOB_H4]);
  const uint32_t *m = job + JOB_MIDSTATE;
  p->mid_abef = _mm_set_epi32((int)m[0], (int)m[1], (int)m[4], (int)m[5]);
  p->mid_cdgh = _mm_set_epi32((int)m[2], (int)m[3], (int)m[6], (int)m[7]);
  p->w0_3 = _mm_set_epi32(0, (int)job[JOB_W2], (int)job[JOB_W1], (int)job[JOB_W0]);
}

/*
 * Both compressions of LANES headers whose big-endian nonce words are wn[],
 * up to and including rounds 60-61 of the outer block. On return abef[j]
 * holds a, b, e, f after round 61 (lane 0: e after round 60, i.e. digest
 * word 7 minus IV7), cdgh[j] the state after round 59 in CDGH form, and
 * msg[j] the outer block's W60..W63 plus constants (for rounds 62-63).
 */
static inline __attribute__((always_inline)) void hash_to_round_62(
    const prepared *p, const uint32_t wn[LANES], __m128i abef[LANES], __m128i cdgh[LANES], __m128i msg[LANES]) {
  const __m128i c4 = _mm_add_epi32(KV(4), _mm_set_epi32(0, 0, 0, (int)PAD_WORD));
  const __m128i c8 = KV(8);
  const __m128i c12 = _mm_add_epi32(KV(12), _mm_set_epi32((int)HEADER_BITS, 0, 0, 0));
  const __m128i w4_7 = _mm_set_epi32(0, 0, 0, (int)PAD_WORD);
  const __m128i w8_11 = _mm_setzero_si128();
  const __m128i w12_15 = _mm_set_epi32((int)HEADER_BITS, 0, 0, 0);
  __m128i s0[LANES], s1[LANES], m0[LANES], m1[LANES], m2[LANES], m3[LANES];

  /* Second header block, from round 4. */
  for (int j = 0; j < LANES; j++) {
    const __m128i n = _mm_set_epi32((int)wn[j], 0, (int)wn[j], 0);
    s0[j] = _mm_add_epi32(p->abef4, n);
    s1[j] = p->cdgh4;
    m0[j] = _mm_insert_epi32(p->w0_3, (int)wn[j], 3);
  }
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], c4);
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], c8);
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], c12);
  /* Rounds 16-31: the schedule reads the constant words 4-15 directly. */
  for (int j = 0; j < LANES; j++) {
    m0[j] = SCHEDULE(m0[j], w4_7, w8_11, w12_15);          /* W16..19 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m0[j], KV(16)));
  }
  for (int j = 0; j < LANES; j++) {
    m1[j] = SCHEDULE(w4_7, w8_11, w12_15, m0[j]);          /* W20..23 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m1[j], KV(20)));
  }
  for (int j = 0; j < LANES; j++) {
    m2[j] = SCHEDULE(w8_11, w12_15, m0[j], m1[j]);         /* W24..27 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m2[j], KV(24)));
  }
  for (int j = 0; j < LANES; j++) {
    m3[j] = SCHEDULE(w12_15, m0[j], m1[j], m2[j]);         /* W28..31 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m3[j], KV(28)));
  }
  /* Rounds 32-63. */
#define NEXT4(r, a, b, c, d)                                              \
  for (int j = 0; j < LANES; j++) {                                       \
    a[j] = SCHEDULE(a[j], b[j], c[j], d[j]);                              \
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(a[j], KV(r)));                    \
  }
  NEXT4(32, m0, m1, m2, m3) NEXT4(36, m1, m2, m3, m0) NEXT4(40, m2, m3, m0, m1) NEXT4(44, m3, m0, m1, m2)
  NEXT4(48, m0, m1, m2, m3) NEXT4(52, m1, m2, m3, m0) NEXT4(56, m2, m3, m0, m1) NEXT4(60, m3, m0, m1, m2)

  /* Inner digest = state + midstate, rearranged into message words 0-3 and 4-7 of the outer block. */
  for (int j = 0; j < LANES; j++) {
    state_words(_mm_add_epi32(s0[j], p->mid_abef), _mm_add_epi32(s1[j], p->mid_cdgh), &m0[j], &m1[j]);
  }

  /* Outer block from the initial hash value; words 8-15 are padding and length. */
  const __m128i o8 = _mm_add_epi32(KV(8), _mm_set_epi32(0, 0, 0, (int)PAD_WORD));
  const __m128i o12 = _mm_add_epi32(KV(12), _mm_set_epi32((int)DIGEST_BITS, 0, 0, 0));
  const __m128i v8_11 = _mm_set_epi32(0, 0, 0, (int)PAD_WORD);
  const __m128i v12_15 = _mm_set_epi32((int)DIGEST_BITS, 0, 0, 0);
  for (int j = 0; j < LANES; j++) {
    s0[j] = IV_ABEF;
    s1[j] = IV_CDGH;
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m0[j], KV(0)));
  }
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], _mm_add_epi32(m1[j], KV(4)));
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], o8);
  for (int j = 0; j < LANES; j++) ROUNDS4(s0[j], s1[j], o12);
  for (int j = 0; j < LANES; j++) {
    m2[j] = SCHEDULE(m0[j], m1[j], v8_11, v12_15);         /* W16..19 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m2[j], KV(16)));
  }
  for (int j = 0; j < LANES; j++) {
    m3[j] = SCHEDULE(m1[j], v8_11, v12_15, m2[j]);         /* W20..23 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m3[j], KV(20)));
  }
  for (int j = 0; j < LANES; j++) {
    m0[j] = SCHEDULE(v8_11, v12_15, m2[j], m3[j]);         /* W24..27 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m0[j], KV(24)));
  }
  for (int j = 0; j < LANES; j++) {
    m1[j] = SCHEDULE(v12_15, m2[j], m3[j], m0[j]);         /* W28..31 */
    ROUNDS4(s0[j], s1[j], _mm_add_epi32(m1[j], KV(28)));
  }
  NEXT4(32, m2, m3, m0, m1) NEXT4(36, m3, m0, m1, m2) NEXT4(40, m0, m1, m2, m3) NEXT4(44, m1, m2, m3, m0)
  NEXT4(48, m2, m3, m0, m1) NEXT4(52, m3, m0, m1, m2) NEXT4(56, m0, m1, m2, m3)
#undef NEXT4
  /* Rounds 60-61 only. */
  for (int j = 0; j < LANES; j++) {
    m1[j] = SCHEDULE(m1[j], m2[j], m3[j], m0[j]);          /* W60..63 */
    msg[j] = _mm_add_epi32(m1[j], KV(60));
    s1[j] = _mm_sha256rnds2_epu32(s1[j], s0[j], msg[j]);
    abef[j] = s1[j];
    cdgh[j] = s0[j];
  }
}

int32_t shani_scan(const uint32_t *job, uint32_t start, uint32_t count) {
  prepared p;
  prepare(job, &p);
  const uint32_t top = job[JOB_TARGET_TOP];
  uint32_t wn[LANES];
  __m128i abef[LANES], cdgh[LANES], msg[LANES];
  for (uint32_t i = 0; i < count; i += LANES) {
    /* Past the end of the range the last nonce is repeated: never reported, never outside 2^32. */
    for (int j = 0; j < LANES; j++) wn[j] = __builtin_bswap32(start + (i + (uint32_t)j < count ? i + (uint32_t)j : count - 1));
    hash_to_round_62(&p, wn, abef, cdgh, msg);
    for (int j = 0; j < LANES; j++) {
      const uint32_t h7 = (uint32_t)_mm_cvtsi128_si32(abef[j]) + IV7;
      if (__builtin_bswap32(h7) <= top && i + (uint32_t)j < count) return (int32_t)(i + (uint32_t)j);
    }
  }
  return -1;
}

void shani_digest(const uint32_t *job, uint32_t start, uint32_t count, uint8_t *out) {
  prepared p;
  prepare(job, &p);
  const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3);
  uint32_t wn[LANES];
  __m128i abef[LANES], cdgh[LANES], msg[LANES];
  for (uint32_t i = 0; i < count; i += LANES) {
    for (int j = 0; j < LANES; j++) wn[j] = __builtin_bswap32(start + (i + (uint32_t)j < count ? i + (uint32_t)j : count - 1));
    hash_to_round_62(&p, wn, abef, cdgh, msg);
    for (int j = 0; j < LANES && i + (uint32_t)j < count; j++) {
      /* Rounds 62-63, then the final addition and the big-endian bytes of a..h. */
      const __m128i abef64 = _mm_sha256rnds2_epu32(cdgh[j], abef[j], _mm_shuffle_epi32(msg[j], 0x0E));
      __m128i d0, d1;
      state_words(_mm_add_epi32(abef64, IV_ABEF), _mm_add_epi32(abef[j], IV_CDGH), &d0, &d1);
      uint8_t *o = out + (size_t)(i + (uint32_t)j) * 32;
      _mm_storeu_si128((__m128i *)o, _mm_shuffle_epi8(d0, bswap));
      _mm_storeu_si128((__m128i *)(o + 16), _mm_shuffle_epi8(d1, bswap));
    }
  }
}
