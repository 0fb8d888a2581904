// SPDX-License-Identifier: MIT
#include "hintlog.h"
#include "util.h"

#include "pvmig_page_hash.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void hintlog_init(struct hintlog *h, uint64_t block_bytes)
{
	memset(h, 0, sizeof(*h));
	h->npages = block_bytes / PVMIG_PAGE_SIZE;
	h->hash = xcalloc(h->npages, sizeof(*h->hash));
	h->present = xcalloc((h->npages + 7) / 8, 1);
}

/* Strict hex: optional 0x, at least one digit, no sign, no overflow. */
static bool parse_hex(const char *s, const char **end, uint64_t *out)
{
	const char *p = s;
	uint64_t v = 0;
	int digits = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X') && isxdigit((unsigned char)p[2]))
		p += 2;
	for (; isxdigit((unsigned char)*p); p++, digits++) {
		unsigned d = isdigit((unsigned char)*p) ? (unsigned)(*p - '0') :
			     (unsigned)(tolower((unsigned char)*p) - 'a' + 10);

		if (v >> 60)
			return false;
		v = v << 4 | d;
	}
	if (!digits)
		return false;
	*end = p;
	*out = v;
	return true;
}

void hintlog_parse_line(struct hintlog *h, const char *line, const char *block)
{
	const char *p = line, *name, *end;
	size_t name_len;
	uint64_t off, hash, page, count = 1;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '\n')
		return;
	if (*p == '#') {
		if (sscanf(p, "#pvmig-hint-log %d", &h->version) != 1)
			goto bad;
		return;
	}
	name = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	name_len = (size_t)(p - name);
	while (*p == ' ' || *p == '\t')
		p++;
	if (!parse_hex(p, &end, &off) || !isspace((unsigned char)*end))
		goto bad;
	p = end;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!parse_hex(p, &end, &hash))
		goto bad;
	while (*end == ' ' || *end == '\t')
		end++;
	/* Optional: a run of pages with the same hash (zero pages, say). */
	if (isxdigit((unsigned char)*end) &&
	    (!parse_hex(end, &end, &count) || !count))
		goto bad;
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end != '\0' && *end != '\n')
		goto bad;

	if (name_len != strlen(block) || memcmp(name, block, name_len) != 0) {
		h->other_blocks++;
		return;
	}
	/* An entry we cannot place must not excuse anything: drop it. */
	if (off % PVMIG_PAGE_SIZE || off / PVMIG_PAGE_SIZE >= h->npages ||
	    count > h->npages - off / PVMIG_PAGE_SIZE)
		goto bad;
	for (page = off / PVMIG_PAGE_SIZE; count--; page++) {
		if (!(h->present[page / 8] & (1u << (page % 8)))) {
			h->present[page / 8] |= (uint8_t)(1u << (page % 8));
			h->pages++;
		}
		h->hash[page] = hash;
	}
	h->entries++;
	return;
bad:
	h->malformed++;
}

int hintlog_load(struct hintlog *h, const char *path, const char *block,
		 uint64_t block_bytes)
{
	char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int ret = 0;

	hintlog_init(h, block_bytes);
	f = fopen(path, "r");
	if (!f)
		return errno == ENOENT ? 0 : -1;
	while (getline(&line, &cap, f) != -1)
		hintlog_parse_line(h, line, block);
	if (ferror(f))
		ret = -1;
	free(line);
	fclose(f);
	if (!ret && (h->entries || h->other_blocks || h->version) &&
	    h->version != PVMIG_HINT_LOG_VERSION)
		ret = -2;
	return ret;
}

bool hintlog_lookup(const struct hintlog *h, uint64_t page, uint64_t *hash)
{
	if (page >= h->npages || !(h->present[page / 8] & (1u << (page % 8))))
		return false;
	*hash = h->hash[page];
	return true;
}

void hintlog_free(struct hintlog *h)
{
	free(h->hash);
	free(h->present);
	memset(h, 0, sizeof(*h));
}
