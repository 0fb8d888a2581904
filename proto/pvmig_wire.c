// SPDX-License-Identifier: MIT
/* pvmig wire format: header, fixed messages, names of codes. */
#include <string.h>

#include "pvmig_internal.h"

const char *pvmig_strerror(int status)
{
	switch (status) {
	case PVMIG_OK: return "success";
	case PVMIG_ENC_FULL: return "chunk full";
	case PVMIG_E_MAGIC: return "bad magic";
	case PVMIG_E_VERSION: return "unsupported protocol version";
	case PVMIG_E_TYPE: return "unknown message type";
	case PVMIG_E_DIRECTION: return "message type not valid in this direction";
	case PVMIG_E_RESERVED: return "reserved field or unknown flag set";
	case PVMIG_E_TOO_LONG: return "payload length over the maximum";
	case PVMIG_E_LENGTH: return "payload length wrong for the message type";
	case PVMIG_E_EPOCH: return "epoch missing or not allowed";
	case PVMIG_E_HELLO: return "invalid HELLO field";
	case PVMIG_E_NO_HELLO: return "ranges before HELLO";
	case PVMIG_E_VARINT_TRUNC: return "truncated varint";
	case PVMIG_E_VARINT_OVERLONG: return "overlong or non-canonical varint";
	case PVMIG_E_BITMAP: return "malformed bitmap item";
	case PVMIG_E_RANGE_ORDER: return "ranges not ascending, overlapping or adjacent";
	case PVMIG_E_RANGE_EMPTY: return "zero-length range";
	case PVMIG_E_RANGE_SPAN: return "range beyond the guest RAM span";
	case PVMIG_E_SEQUENCE: return "chunk sequence gap or wrong epoch";
	case PVMIG_E_COUNT: return "chunk range count mismatch";
	case PVMIG_E_END_TOTALS: return "END totals do not match the decoded ranges";
	case PVMIG_E_TRAILING: return "trailing bytes in payload";
	case PVMIG_E_REASON: return "ERROR reason too long or not printable";
	case PVMIG_E_ABORT_CODE: return "ERROR code is zero";
	case PVMIG_E_INVAL: return "invalid argument or call order";
	case PVMIG_E_NOSPACE: return "output buffer too small";
	}
	return "unknown status";
}

const char *pvmig_abort_str(uint32_t code)
{
	switch (code) {
	case PVMIG_ABORT_NO_MODULE: return "no pvmig module in the guest";
	case PVMIG_ABORT_SNAPSHOT: return "snapshot failed";
	case PVMIG_ABORT_SUPERSEDED: return "superseded by a newer request";
	case PVMIG_ABORT_BAD_MESSAGE: return "received an invalid message";
	case PVMIG_ABORT_SHUTDOWN: return "agent shutting down";
	case PVMIG_ABORT_VERSION: return "unsupported protocol version";
	case PVMIG_ABORT_CANCEL: return "epoch cancelled by the host";
	case PVMIG_ABORT_BUSY: return "/dev/pvmig busy";
	}
	return "unknown";
}

const char *pvmig_msg_name(unsigned int type)
{
	switch (type) {
	case PVMIG_MSG_HELLO: return "HELLO";
	case PVMIG_MSG_REQUEST: return "REQUEST";
	case PVMIG_MSG_RANGES: return "RANGES";
	case PVMIG_MSG_END: return "END";
	case PVMIG_MSG_ERROR: return "ERROR";
	}
	return "unknown";
}

void pvmig_hdr_write(void *out, const struct pvmig_hdr *h)
{
	uint8_t *p = out;

	pvmig_put32(p, h->magic);
	p[4] = h->version;
	p[5] = h->type;
	pvmig_put16(p + 6, h->flags);
	pvmig_put32(p + 8, h->epoch);
	pvmig_put32(p + 12, h->length);
}

void pvmig_hdr_parse(const void *in, struct pvmig_hdr *h)
{
	const uint8_t *p = in;

	h->magic = pvmig_get32(p);
	h->version = p[4];
	h->type = p[5];
	h->flags = pvmig_get16(p + 6);
	h->epoch = pvmig_get32(p + 8);
	h->length = pvmig_get32(p + 12);
}

void pvmig_put_hdr(uint8_t *p, unsigned int type, uint32_t epoch,
		   uint32_t length)
{
	struct pvmig_hdr h = {
		.magic = PVMIG_MAGIC,
		.version = PVMIG_PROTO_VERSION,
		.type = (uint8_t)type,
		.flags = 0,
		.epoch = epoch,
		.length = length,
	};

	pvmig_hdr_write(p, &h);
}

int pvmig_build_hello(void *out, size_t cap, const struct pvmig_hello *h)
{
	uint8_t *p = out;

	if (!out || !h)
		return PVMIG_E_INVAL;
	if (cap < PVMIG_HDR_SIZE + PVMIG_HELLO_SIZE)
		return PVMIG_E_NOSPACE;
	pvmig_put_hdr(p, PVMIG_MSG_HELLO, 0, PVMIG_HELLO_SIZE);
	p += PVMIG_HDR_SIZE;
	pvmig_put32(p, h->proto_version);
	pvmig_put32(p + 4, h->page_size);
	pvmig_put64(p + 8, h->max_pfn);
	pvmig_put32(p + 16, h->caps);
	pvmig_put32(p + 20, (h->caps & PVMIG_CAP_POISONING) ?
			    h->poison_pattern : 0);
	return (int)(PVMIG_HDR_SIZE + PVMIG_HELLO_SIZE);
}

int pvmig_build_request(void *out, size_t cap, uint32_t epoch)
{
	if (!out || !epoch)
		return PVMIG_E_INVAL;
	if (cap < PVMIG_HDR_SIZE)
		return PVMIG_E_NOSPACE;
	pvmig_put_hdr(out, PVMIG_MSG_REQUEST, epoch, 0);
	return (int)PVMIG_HDR_SIZE;
}

int pvmig_build_error(void *out, size_t cap, uint32_t epoch, uint32_t code,
		      const char *reason)
{
	uint8_t *p = out;
	size_t n = reason ? strlen(reason) : 0;

	if (!out || !code)
		return PVMIG_E_INVAL;
	if (n > PVMIG_REASON_MAX)
		n = PVMIG_REASON_MAX;
	if (cap < PVMIG_HDR_SIZE + 4 + n)
		return PVMIG_E_NOSPACE;
	pvmig_put_hdr(p, PVMIG_MSG_ERROR, epoch, (uint32_t)(4 + n));
	pvmig_put32(p + PVMIG_HDR_SIZE, code);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)reason[i];

		p[PVMIG_HDR_SIZE + 4 + i] = (c >= 0x20 && c <= 0x7e) ? c : '?';
	}
	return (int)(PVMIG_HDR_SIZE + 4 + n);
}

enum pvmig_free_contract pvmig_free_contract(uint32_t caps, uint8_t pattern)
{
	int init_on_free = !!(caps & PVMIG_CAP_INIT_ON_FREE);
	int poisoning = !!(caps & PVMIG_CAP_POISONING);

	if (init_on_free && poisoning)
		return PVMIG_FREE_CONTRADICTORY;
	if (init_on_free || (poisoning && pattern == 0))
		return PVMIG_FREE_ZERO;
	return poisoning ? PVMIG_FREE_PATTERN : PVMIG_FREE_ANY;
}

const char *pvmig_free_contract_str(enum pvmig_free_contract c)
{
	switch (c) {
	case PVMIG_FREE_ANY:
		return "any";
	case PVMIG_FREE_ZERO:
		return "zero";
	case PVMIG_FREE_PATTERN:
		return "pattern";
	case PVMIG_FREE_CONTRADICTORY:
		return "contradictory";
	}
	return "unknown";
}
