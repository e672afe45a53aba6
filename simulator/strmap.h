/* strmap.h: a hash map from strings to pointers. */
/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Open addressing with linear probing; grows at 70% load. Keys are copied;
 * values are the caller's (strmap_free can free them with a callback). Not
 * thread-safe: the owner locks.
 */
#ifndef DUNNING_SIM_STRMAP_H
#define DUNNING_SIM_STRMAP_H

#include <stddef.h>

struct strmap;

/* Caller frees with strmap_free. NULL when out of memory. */
struct strmap *strmap_new(void);

/* Frees the map, calling free_value on each value when not NULL. */
void strmap_free(struct strmap *m, void (*free_value)(void *));

/* The value stored under key, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/*
 * Stores value under key, replacing (and returning in *old, when old is
 * not NULL) any previous value. Returns 0 or DN_ERR_NOMEM.
 */
int strmap_put(struct strmap *m, const char *key, void *value, void **old);

/* Number of keys. */
size_t strmap_count(const struct strmap *m);

#endif
