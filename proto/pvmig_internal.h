/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the pvmig wire-format sources; not part of the API.
 * Byte-wise little-endian access so the code is independent of host byte
 * order and alignment.
 */
#ifndef PVMIG_INTERNAL_H
#define PVMIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pvmig_proto.h"

#define PVMIG_VARINT_MAX 10u

/* A header of this version with no flags (pvmig_wire.c). */
void pvmig_put_hdr(uint8_t *p, unsigned int type, uint32_t epoch,
		   uint32_t length);

static inline void pvmig_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void pvmig_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void pvmig_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t pvmig_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static inline uint32_t pvmig_get32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline uint64_t pvmig_get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static inline size_t pvmig_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Caller guarantees PVMIG_VARINT_MAX bytes of room. */
static inline size_t pvmig_varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/*
 * Strict LEB128: at most 10 bytes, the 10th carries only bit 63, and no
 * redundant trailing zero group, so every value has exactly one encoding.
 */
static inline int pvmig_varint_get(const uint8_t *p, size_t len, size_t *pos,
				   uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < PVMIG_VARINT_MAX; i++) {
		uint8_t b;

		if (*pos >= len)
			return PVMIG_E_VARINT_TRUNC;
		b = p[(*pos)++];
		if (i == PVMIG_VARINT_MAX - 1 && b > 1)
			return PVMIG_E_VARINT_OVERLONG;
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80)) {
			if (b == 0 && i > 0)
				return PVMIG_E_VARINT_OVERLONG;
			*out = v;
			return PVMIG_OK;
		}
	}
	return PVMIG_E_VARINT_OVERLONG;	/* not reached: b > 1 above */
}

/* Trailing zero bits of a byte (8 for 0): portable, no builtins. */
static const uint8_t pvmig_ctz8[256] = {
	8, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	5, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	6, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	5, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	7, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	5, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	6, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	5, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
	4, 0, 1, 0, 2, 0, 1, 0, 3, 0, 1, 0, 2, 0, 1, 0,
};

/*
 * First bit at or after i (LSB-first within each byte) that is set
 * (want_set) or clear (!want_set); nbits if none before nbits.
 */
static inline size_t pvmig_next_bit(const uint8_t *bm, size_t i, size_t nbits,
				    int want_set)
{
	while (i < nbits) {
		unsigned int b = bm[i >> 3];

		if (!want_set)
			b = ~b & 0xffu;
		b >>= (i & 7);
		if (b) {
			i += pvmig_ctz8[b];
			return i < nbits ? i : nbits;
		}
		i = (i | 7) + 1;
	}
	return nbits;
}

#endif /* PVMIG_INTERNAL_H */
