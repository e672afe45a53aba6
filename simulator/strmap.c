/* strmap.c: open-addressing string map. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "strmap.h"

#include "error.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct strmap_slot {
	char *key;
	void *value;
};

struct strmap {
	struct strmap_slot *slots;
	size_t capacity; /* a power of two */
	size_t count;
};

static uint64_t strmap_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= 0x100000001b3ULL;
	}
	return h;
}

struct strmap *strmap_new(void)
{
	struct strmap *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->capacity = 64;
	m->slots = calloc(m->capacity, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void strmap_free(struct strmap *m, void (*free_value)(void *))
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->capacity; i++) {
		if (!m->slots[i].key)
			continue;
		free(m->slots[i].key);
		if (free_value)
			free_value(m->slots[i].value);
	}
	free(m->slots);
	free(m);
}

static struct strmap_slot *strmap_slot(struct strmap_slot *slots,
				       size_t capacity, const char *key)
{
	size_t i = strmap_hash(key) & (capacity - 1);

	while (slots[i].key && strcmp(slots[i].key, key) != 0)
		i = (i + 1) & (capacity - 1);
	return &slots[i];
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_slot *slot = strmap_slot(m->slots, m->capacity, key);

	return slot->key ? slot->value : NULL;
}

static int strmap_grow(struct strmap *m)
{
	size_t capacity = m->capacity * 2, i;
	struct strmap_slot *slots = calloc(capacity, sizeof(*slots));

	if (!slots)
		return DN_ERR_NOMEM;
	for (i = 0; i < m->capacity; i++)
		if (m->slots[i].key)
			*strmap_slot(slots, capacity, m->slots[i].key) =
				m->slots[i];
	free(m->slots);
	m->slots = slots;
	m->capacity = capacity;
	return DN_OK;
}

int strmap_put(struct strmap *m, const char *key, void *value, void **old)
{
	struct strmap_slot *slot;

	if (old)
		*old = NULL;
	if ((m->count + 1) * 10 > m->capacity * 7 && strmap_grow(m))
		return DN_ERR_NOMEM;
	slot = strmap_slot(m->slots, m->capacity, key);
	if (slot->key) {
		if (old)
			*old = slot->value;
		slot->value = value;
		return DN_OK;
	}
	slot->key = strdup(key);
	if (!slot->key)
		return DN_ERR_NOMEM;
	slot->value = value;
	m->count++;
	return DN_OK;
}

size_t strmap_count(const struct strmap *m)
{
	return m->count;
}
