/* SPDX-License-Identifier: MIT */
/*
 * pvmig wire format: the messages between pvmig-agent (guest) and the
 * pvmig virtio-serial device (host, inside QEMU).
 *
 * Pure C11, standard headers only, no allocation, no global state, no
 * output: the same .c files build into the agent's static library and
 * into QEMU.  The guest is untrusted from the host's side, so the decoder
 * holds only fixed-size state and validates every byte.
 *
 * This header is the stable API.  Later changes are additive only.
 *
 * ---------------------------------------------------------------------
 * Framing
 * ---------------------------------------------------------------------
 * Every message is a 16-byte header followed by `length` payload bytes.
 * All integers are little-endian.
 *
 *   off size field
 *     0   4  magic    "PVMG" (bytes 0x50 0x56 0x4d 0x47)
 *     4   1  version  PVMIG_PROTO_VERSION
 *     5   1  type     PVMIG_MSG_*
 *     6   2  flags    reserved, must be 0
 *     8   4  epoch    see per type
 *    12   4  length   payload bytes, <= PVMIG_MAX_PAYLOAD
 *
 * A whole message is at most PVMIG_MAX_MSG (32 KiB) bytes, so it fits one
 * virtio-serial write.  Senders still loop on short writes; receivers get
 * arbitrary slices and must not assume message boundaries.
 *
 * Epochs: the host numbers its requests 1, 2, 3, ...; 0 means "no epoch".
 * The device should never reuse an epoch number for the life of the
 * device (do not restart at 1 for a new migration), so that a late answer
 * can always be told from a current one.
 *
 * ---------------------------------------------------------------------
 * Messages (direction, epoch, payload)
 * ---------------------------------------------------------------------
 * HELLO    guest->host, epoch 0, 24 bytes; sent each time the agent opens
 *          the port:
 *            0  u32 proto_version  highest version the agent speaks (>= 1)
 *            4  u32 page_size      bytes, power of two, 4096..1 MiB
 *            8  u64 max_pfn        end of the guest RAM span (exclusive), > 0
 *           16  u32 caps           PVMIG_CAP_*; unknown bits rejected
 *           20  u32 poison_pattern low byte: pattern, valid with
 *                                  PVMIG_CAP_POISONING; upper bytes 0
 *
 * REQUEST  host->guest, epoch != 0, empty payload: "take a snapshot now
 *          and send it as epoch N".  A newer REQUEST supersedes any older
 *          one still being answered.
 *
 * RANGES   guest->host, epoch != 0, one chunk of an epoch's snapshot:
 *            0  u32 seq        0, 1, 2, ... within the epoch, no gaps
 *            4  u32 nr_ranges  ranges this chunk decodes to (> 0)
 *            8  u64 base_pfn   reference point of the first item
 *           16  items...       to the end of the payload, see below
 *
 * END      guest->host, epoch != 0, 48 bytes; the epoch is complete:
 *            0  u64 nr_ranges  ranges in all chunks of the epoch
 *            8  u64 nr_pages   pages in all chunks of the epoch
 *           16  u32 nr_chunks  RANGES messages of the epoch
 *           20  u32 flags      PVMIG_END_*; unknown bits rejected
 *           24  u64 walk_ns    module: snapshot walk time (0: unknown)
 *           32  u64 max_hold_ns module: longest zone->lock hold
 *           40  u64 agent_ns   agent: REQUEST received -> END sent
 *          An epoch with no free pages is answered by END alone.
 *
 * ERROR    either direction, any epoch (0: not about one epoch):
 *            0  u32 code       PVMIG_ABORT_*, != 0 (unknown codes allowed)
 *            4  reason         0..PVMIG_REASON_MAX bytes of printable
 *                              ASCII (0x20..0x7e), not NUL-terminated
 *          guest->host: the epoch will not be completed (no module,
 *          snapshot failed, superseded).  host->guest: stop answering the
 *          epoch (its window closed).  Neither side treats it as fatal.
 *
 * ---------------------------------------------------------------------
 * Range items (RANGES payload from offset 16)
 * ---------------------------------------------------------------------
 * Ranges are in page frame numbers.  Within an epoch they are strictly
 * ascending and separated: every range starts beyond the end of the
 * previous one (adjacent ranges are merged by the sender), none is empty,
 * all end at or below max_pfn.  `prev` starts at base_pfn for each chunk
 * and becomes the end (exclusive) of each range decoded.
 *
 * varint: unsigned LEB128, at most 10 bytes, canonical (no redundant
 * 0x80 .. 0x00 tail; the 10th byte <= 1).
 *
 *   tag = varint: (gap << 1) | kind
 *   kind 0, run:     varint (nr_pages - 1)
 *                    range = [prev + gap, prev + gap + nr_pages)
 *   kind 1, bitmap:  varint (nbytes - 1), then nbytes bytes; bit i
 *                    (LSB first) set means page prev + gap + i is free.
 *                    Bit 0 and the last byte must be non-zero (canonical).
 *                    Each maximal run of set bits is one range.
 *
 * base_pfn must be >= the end of the epoch's previous range, and the
 * first range of a chunk must start beyond it (when the epoch has one).
 * Checks across chunks: seq, ordering, and END's totals.
 *
 * Why this encoding: a run item costs 2-5 bytes whatever its length, so
 * an idle guest (a few thousand 4 MiB blocks) costs a few KiB; bitmap
 * items cost 1 bit per page of span, which wins where free pages are
 * dense but fragmented.  docs/encoding.md has the measured sizes.
 *
 * ---------------------------------------------------------------------
 * Usage
 * ---------------------------------------------------------------------
 * Sender (agent), per REQUEST(epoch):
 *
 *   uint8_t buf[PVMIG_MAX_MSG];
 *   struct pvmig_encoder enc;
 *   pvmig_encoder_init(&enc, epoch, max_pfn, buf, sizeof(buf));
 *   for each range r (ascending):
 *       rc = pvmig_encoder_add(&enc, r.start, r.len);
 *       if (rc == PVMIG_ENC_FULL) {
 *           write_all(buf, pvmig_encoder_take(&enc));
 *           rc = pvmig_encoder_add(&enc, r.start, r.len);  // same range
 *       }
 *       if (rc < 0) abort the epoch (send ERROR)
 *   while ((rc = pvmig_encoder_finish(&enc)) == PVMIG_ENC_FULL)
 *       write_all(buf, pvmig_encoder_take(&enc));
 *   n = pvmig_encoder_take(&enc); if (n) write_all(buf, n);
 *   n = pvmig_encoder_end(&enc, &stats, out, sizeof(out)); write_all(out, n);
 *
 * Receiver: pvmig_decoder_init() once (the struct is about 33 KiB; embed
 * it, nothing is allocated), pvmig_decoder_feed() with whatever bytes
 * arrive; callbacks run from inside feed.  A RANGES chunk is validated
 * completely before any of its ranges is delivered.  After an error feed
 * keeps returning that error and delivers nothing until
 * pvmig_decoder_reset() (host: close the port, reset) or
 * pvmig_decoder_resync() (agent: drop bytes until the next magic).
 */
#ifndef PVMIG_PROTO_H
#define PVMIG_PROTO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PVMIG_PROTO_VERSION	1u
#define PVMIG_MAGIC		0x474d5650u	/* "PVMG" read as LE u32 */
#define PVMIG_HDR_SIZE		16u
#define PVMIG_MAX_MSG		32768u		/* one virtio-serial write */
#define PVMIG_MAX_PAYLOAD	(PVMIG_MAX_MSG - PVMIG_HDR_SIZE)

#define PVMIG_HELLO_SIZE	24u
#define PVMIG_END_SIZE		48u
#define PVMIG_RANGES_HDR_SIZE	16u
#define PVMIG_REASON_MAX	200u

/* Largest bitmap item the encoder emits, in pages (bits). */
#define PVMIG_BITMAP_MAX_BITS	4096u

/* The smallest buffer pvmig_encoder_init() accepts. */
#define PVMIG_ENC_MIN_BUF	1024u

/* Default name of the virtio-serial port. */
#define PVMIG_PORT_NAME		"org.pvmig.0"

enum pvmig_msg_type {
	PVMIG_MSG_HELLO = 1,
	PVMIG_MSG_REQUEST = 2,
	PVMIG_MSG_RANGES = 3,
	PVMIG_MSG_END = 4,
	PVMIG_MSG_ERROR = 5,
};

/* HELLO caps */
#define PVMIG_CAP_MODULE	(1u << 0) /* /dev/pvmig present: hints follow */
#define PVMIG_CAP_POISONING	(1u << 1) /* page poisoning on: see pattern */
#define PVMIG_CAP_INIT_ON_FREE	(1u << 2) /* freed pages are zeroed */
#define PVMIG_CAP_ALL		(PVMIG_CAP_MODULE | PVMIG_CAP_POISONING | \
				 PVMIG_CAP_INIT_ON_FREE)

/*
 * What a guest's free pages must read as, from its HELLO caps and poison
 * pattern (docs/safety.md, "The free-page contract").
 */
enum pvmig_free_contract {
	PVMIG_FREE_ANY = 0,		/* never read before being written */
	PVMIG_FREE_ZERO,		/* zero: init_on_free, zero poisoning */
	PVMIG_FREE_PATTERN,		/* a non-zero poison pattern */
	PVMIG_FREE_CONTRADICTORY,	/* init_on_free claimed with poisoning */
};

/* END flags */
#define PVMIG_END_TRUNCATED	(1u << 0) /* walk stopped early: fewer pages */
#define PVMIG_END_ALL		(PVMIG_END_TRUNCATED)

/* ERROR codes on the wire (peer's reason for not completing an epoch). */
enum pvmig_abort_code {
	PVMIG_ABORT_NO_MODULE = 1,	/* guest has no /dev/pvmig */
	PVMIG_ABORT_SNAPSHOT = 2,	/* snapshot failed (read/ioctl error) */
	PVMIG_ABORT_SUPERSEDED = 3,	/* a newer REQUEST arrived */
	PVMIG_ABORT_BAD_MESSAGE = 4,	/* received an invalid message */
	PVMIG_ABORT_SHUTDOWN = 5,	/* agent is exiting */
	PVMIG_ABORT_VERSION = 6,	/* unsupported protocol version */
	PVMIG_ABORT_CANCEL = 7,		/* host: epoch window closed, stop */
	PVMIG_ABORT_BUSY = 8,		/* /dev/pvmig held by someone else */
};

/* Library status codes: 0 success, > 0 encoder signals, < 0 errors. */
enum pvmig_status {
	PVMIG_OK = 0,
	PVMIG_ENC_FULL = 1,		/* chunk full: take it, then retry */

	PVMIG_E_MAGIC = -1,		/* bad magic */
	PVMIG_E_VERSION = -2,		/* unsupported protocol version */
	PVMIG_E_TYPE = -3,		/* unknown message type */
	PVMIG_E_DIRECTION = -4,		/* type not valid in this direction */
	PVMIG_E_RESERVED = -5,		/* reserved field / unknown flag set */
	PVMIG_E_TOO_LONG = -6,		/* payload length over the cap */
	PVMIG_E_LENGTH = -7,		/* payload length wrong for the type */
	PVMIG_E_EPOCH = -8,		/* epoch 0 where one is required, or
					 * non-zero on HELLO */
	PVMIG_E_HELLO = -9,		/* bad HELLO field (page size, span,
					 * pattern, version 0) */
	PVMIG_E_NO_HELLO = -10,		/* RANGES/END before any HELLO */
	PVMIG_E_VARINT_TRUNC = -11,	/* varint runs past the payload */
	PVMIG_E_VARINT_OVERLONG = -12,	/* varint too long / not canonical */
	PVMIG_E_BITMAP = -13,		/* bitmap item malformed */
	PVMIG_E_RANGE_ORDER = -14,	/* not ascending, overlapping or
					 * adjacent, also across chunks */
	PVMIG_E_RANGE_EMPTY = -15,	/* zero-length range */
	PVMIG_E_RANGE_SPAN = -16,	/* range beyond max_pfn (or wraps) */
	PVMIG_E_SEQUENCE = -17,		/* chunk sequence gap / wrong epoch */
	PVMIG_E_COUNT = -18,		/* chunk nr_ranges != items decoded */
	PVMIG_E_END_TOTALS = -19,	/* END totals != what was decoded */
	PVMIG_E_TRAILING = -20,		/* trailing bytes in a payload */
	PVMIG_E_REASON = -21,		/* ERROR reason too long/unprintable */
	PVMIG_E_ABORT_CODE = -22,	/* ERROR code 0 */
	PVMIG_E_INVAL = -23,		/* API misuse (bad argument/state) */
	PVMIG_E_NOSPACE = -24,		/* output buffer too small */
};

/* Which messages a decoder accepts. */
enum pvmig_role {
	PVMIG_ROLE_HOST = 1,	/* decodes HELLO, RANGES, END, ERROR */
	PVMIG_ROLE_GUEST = 2,	/* decodes REQUEST, ERROR */
};

struct pvmig_hello {
	uint32_t proto_version;
	uint32_t page_size;
	uint64_t max_pfn;
	uint32_t caps;			/* PVMIG_CAP_* */
	uint8_t poison_pattern;
};

struct pvmig_end {
	uint64_t nr_ranges;
	uint64_t nr_pages;
	uint32_t nr_chunks;
	uint32_t flags;			/* PVMIG_END_* */
	uint64_t walk_ns;
	uint64_t max_hold_ns;
	uint64_t agent_ns;
};

/* Fixed-layout header, host byte order (see pvmig_hdr_parse). */
struct pvmig_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint32_t epoch;
	uint32_t length;
};

/* Human-readable text of a status code (static string, never NULL). */
const char *pvmig_strerror(int status);
/* Text of a PVMIG_ABORT_* code ("unknown" for others). */
const char *pvmig_abort_str(uint32_t code);
/* Name of a PVMIG_MSG_* type ("unknown" for others). */
const char *pvmig_msg_name(unsigned int type);

/*
 * The contract of a HELLO's @caps and @pattern.  Linux turns init_on_free
 * off when page poisoning is on (init_mem_debugging_and_hardening() in
 * 6.1), so a guest claiming both is not telling the truth about one.
 */
enum pvmig_free_contract pvmig_free_contract(uint32_t caps, uint8_t pattern);
/* Its name: "any", "zero", "pattern", "contradictory". */
const char *pvmig_free_contract_str(enum pvmig_free_contract c);

/* ---- Message builders: return bytes written (> 0) or PVMIG_E_*. ---- */

int pvmig_build_hello(void *out, size_t cap, const struct pvmig_hello *h);
int pvmig_build_request(void *out, size_t cap, uint32_t epoch);
int pvmig_build_error(void *out, size_t cap, uint32_t epoch, uint32_t code,
		      const char *reason);	/* reason may be NULL; it is
						 * truncated to PVMIG_REASON_MAX
						 * and non-printables become '?' */

/* Raw header access (16 bytes <-> struct); parse does not validate. */
void pvmig_hdr_write(void *out, const struct pvmig_hdr *h);
void pvmig_hdr_parse(const void *in, struct pvmig_hdr *h);

/* ---- Streaming encoder of one epoch's ranges ---- */

struct pvmig_encoder {
	/* private: fields may change, use the functions */
	uint8_t *buf;
	size_t cap;
	size_t len;		/* bytes in buf, header included */
	uint32_t epoch;
	uint32_t seq;		/* seq of the chunk being filled */
	uint32_t chunk_ranges;
	uint32_t nr_chunks;	/* chunks taken */
	uint64_t max_pfn;
	uint64_t chunk_base;
	uint64_t prev_end;	/* end of the last range emitted */
	uint64_t nr_ranges;	/* emitted */
	uint64_t nr_pages;
	int have_prev;		/* a range was emitted in this epoch */
	int error;		/* sticky PVMIG_E_* */
	/* pending group, not yet emitted */
	int have_added;		/* a range was added in this epoch */
	int finished;		/* finish was called */
	int have_in;		/* [in_start, in_end) awaits placement */
	uint64_t in_end;
	uint64_t pend_start;	/* first pfn of the group */
	uint64_t pend_end;	/* end of the group's last range */
	uint64_t in_start;	/* last range added, not yet placed */
	uint32_t pend_ranges;
	uint64_t pend_pages;
	size_t pend_run_cost;	/* bytes as run items, last range excluded */
	uint8_t bitmap[PVMIG_BITMAP_MAX_BITS / 8];
};

/*
 * Start an epoch.  buf receives whole RANGES messages (header included);
 * cap must be PVMIG_ENC_MIN_BUF..PVMIG_MAX_MSG.  Ranges must end at or
 * below max_pfn.
 */
int pvmig_encoder_init(struct pvmig_encoder *enc, uint32_t epoch,
		       uint64_t max_pfn, void *buf, size_t cap);
/*
 * Add one range.  Ranges must be ascending and non-overlapping; adjacent
 * ones are merged.  Returns 0, PVMIG_ENC_FULL (nothing consumed: take the
 * chunk, then add the same range again), or an error (sticky).
 */
int pvmig_encoder_add(struct pvmig_encoder *enc, uint64_t start_pfn,
		      uint64_t nr_pages);
/*
 * Emit everything pending.  Returns 0 when done, PVMIG_ENC_FULL when the
 * chunk must be taken first (then call finish again), or an error.
 */
int pvmig_encoder_finish(struct pvmig_encoder *enc);
/*
 * Seal the chunk being filled and return its message length in buf (0 if
 * it holds no range: send nothing).  The bytes stay valid until the next
 * add/finish call.
 */
size_t pvmig_encoder_take(struct pvmig_encoder *enc);
/*
 * Build the END message for the epoch into out (>= PVMIG_HDR_SIZE +
 * PVMIG_END_SIZE bytes).  Totals (ranges, pages, chunks) come from the
 * encoder; flags, walk_ns, max_hold_ns, agent_ns from stats (may be
 * NULL).  Call after finish returned 0 and the last chunk was taken.
 */
int pvmig_encoder_end(const struct pvmig_encoder *enc,
		      const struct pvmig_end *stats, void *out, size_t cap);

/* ---- Streaming decoder ---- */

/*
 * Callbacks, each optional (NULL: not called).  They run inside
 * pvmig_decoder_feed(); they must not call feed/reset/resync themselves.
 */
struct pvmig_decoder_ops {
	void (*hello)(void *opaque, const struct pvmig_hello *hello);
	void (*request)(void *opaque, uint32_t epoch);
	/* Before the first range of a validated chunk. */
	void (*chunk_begin)(void *opaque, uint32_t epoch, uint32_t seq,
			    uint32_t nr_ranges);
	void (*range)(void *opaque, uint32_t epoch, uint64_t start_pfn,
		      uint64_t nr_pages);
	/* After the last range of a chunk. */
	void (*chunk_end)(void *opaque, uint32_t epoch, uint32_t seq);
	/* Totals already checked against what was decoded. */
	void (*end)(void *opaque, uint32_t epoch, const struct pvmig_end *end);
	/* A peer's ERROR message; reason is NUL-terminated printable ASCII. */
	void (*error)(void *opaque, uint32_t epoch, uint32_t code,
		      const char *reason);
};

struct pvmig_decoder {
	/* private: fields may change, use the functions */
	const struct pvmig_decoder_ops *ops;
	void *opaque;
	int role;
	int error;		/* sticky PVMIG_E_*, 0: none */
	int hunting;		/* resync: dropping bytes until magic */
	uint64_t limit_pfn;	/* from init */
	uint64_t span_pfn;	/* min(limit, HELLO's max_pfn) */
	int have_hello;
	/* stream of the current epoch */
	int stream_open;
	uint32_t stream_epoch;
	uint32_t next_seq;
	int have_prev;
	uint64_t prev_end;
	uint64_t nr_ranges;
	uint64_t nr_pages;
	/* message being assembled */
	size_t have;		/* bytes of header+payload received */
	struct pvmig_hdr hdr;
	uint8_t hdr_bytes[PVMIG_HDR_SIZE];
	uint8_t payload[PVMIG_MAX_PAYLOAD];
	size_t consumed;	/* of the last feed call */
};

/*
 * role: which side decodes.  max_pfn: host role: the end of the guest RAM
 * span as the host knows it; a HELLO claiming more is rejected and ranges
 * beyond the HELLO's (smaller) span too.  Guest role: ignored.
 */
void pvmig_decoder_init(struct pvmig_decoder *dec, enum pvmig_role role,
			uint64_t max_pfn, const struct pvmig_decoder_ops *ops,
			void *opaque);
/* Back to the state right after init (new connection). */
void pvmig_decoder_reset(struct pvmig_decoder *dec);
/*
 * Clear the error and any partial message and drop input until the next
 * magic.  Keeps the HELLO, forgets the open epoch stream.  For the agent,
 * which has nobody to close the port on.
 */
void pvmig_decoder_resync(struct pvmig_decoder *dec);
/*
 * Feed len bytes (any slicing, one byte at a time included).  Returns 0
 * or the decoder's sticky error (< 0); after an error nothing more is
 * delivered until reset/resync.
 */
int pvmig_decoder_feed(struct pvmig_decoder *dec, const void *data,
		       size_t len);
/* The sticky error, 0 if none. */
int pvmig_decoder_error(const struct pvmig_decoder *dec);
/*
 * Bytes of the last feed call that were consumed: all of them on success;
 * on error, up to and including the byte that completed the bad header or
 * message.  After resync, feed the rest (data + consumed) again.
 */
size_t pvmig_decoder_consumed(const struct pvmig_decoder *dec);

#ifdef __cplusplus
}
#endif

#endif /* PVMIG_PROTO_H */
