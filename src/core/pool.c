/* Hologram Atlas — the linear device-memory pool (policy in atlas/pool.h).
 *
 * Layout
 *   Size classes: 64, 128, 192, 256, then four per power of two
 *   (2^k * 5/4, 6/4, 7/4, 8/4).  Every class is a multiple of 64, so blocks
 *   carved back to back from a 64-aligned slab stay AT_ALIGN-aligned.
 *
 *   Small classes (<= 1 MiB) are carved by one bump pointer from 2 MiB slabs
 *   that are mapped 2 MiB-aligned, so ptr & ~(SLAB_BYTES-1) finds the slab.
 *   Each slab has a side array with one word per 64-byte granule: for the
 *   first granule of a live block it holds requested_bytes + 1, otherwise 0.
 *   That gives free() the requested size (for the stats) and the class, and
 *   lets it reject foreign pointers and double frees without ever reading
 *   the user area.
 *
 *   Large classes get one mapping each, found through a hash map keyed by
 *   the user pointer whose value packs the requested size and a live bit.
 *
 *   Free blocks of every class sit on intrusive singly-linked lists (the
 *   link lives in the free block's first word; a free block has no user).
 *
 * Locking: one lock (spin.h: spin briefly, then yield) around list/map/stat
 * updates.  Fresh large mappings are made outside the lock; a new slab (one
 * per 2 MiB of small blocks) is made under it because that is rare and keeps
 * the bump logic simple.
 */
#include "atlas/pool.h"
#include "spin.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Anonymous mappings: MAP_ANONYMOUS where the build found it (Linux, the
 * BSDs, macOS 10.11+), else the older spelling MAP_ANON. */
#if defined(AT_HAVE_MAP_ANONYMOUS) && AT_HAVE_MAP_ANONYMOUS
#define AT_MAP_ANON MAP_ANONYMOUS
#else
#define AT_MAP_ANON MAP_ANON
#endif

#define SLAB_BYTES ((size_t)2 << 20)
#define SMALL_MAX ((size_t)1 << 20)
#define GRANULE ((size_t)AT_ALIGN)
#define SLAB_GRANULES (SLAB_BYTES / GRANULE)
#define NCLASSES 224                    /* covers sizes up to 2^62 */
#define LIVE_BIT ((uint64_t)1 << 63)

/* ---------------------------------------------------------------- classes */

static unsigned class_index(size_t n)
{
    if (n <= 256)
        return n == 0 ? 0 : (unsigned)((n - 1) / 64);
    /* 2^k < n <= 2^(k+1), k >= 8; quarter steps of 2^(k-2). */
    unsigned k = 63u - (unsigned)__builtin_clzll((unsigned long long)(n - 1));
    size_t quarter = (size_t)1 << (k - 2);
    size_t i = (n - 1 - ((size_t)1 << k)) / quarter;
    return 4 + (k - 8) * 4 + (unsigned)i;
}

static size_t class_size(unsigned c)
{
    if (c < 4)
        return (size_t)(c + 1) * 64;
    unsigned k = 8 + (c - 4) / 4;
    size_t i = (c - 4) % 4;
    return ((size_t)1 << k) + (i + 1) * ((size_t)1 << (k - 2));
}

static size_t page_round(size_t n)
{
    size_t page = 4096;
    return (n + page - 1) & ~(page - 1);
}

/* --------------------------------------------------- pointer -> value map */

/* Open addressing, linear probing, backward-shift deletion.  Key 0 marks an
 * empty slot (no mapping lives at address 0). */
typedef struct ptr_map {
    uintptr_t *keys;
    uint64_t *vals;
    size_t cap;       /* power of two, or 0 before first insert */
    size_t count;
} ptr_map;

static size_t map_home(const ptr_map *m, uintptr_t key)
{
    /* Fibonacci hashing: keep the top bits of the product, since keys are
     * page- or slab-aligned and their low bits carry no information. */
    unsigned bits = (unsigned)__builtin_ctzll((unsigned long long)m->cap);
    return (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static size_t map_find_slot(const ptr_map *m, uintptr_t key)
{
    size_t i = map_home(m, key);
    while (m->keys[i] != 0 && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    return i;
}

static uint64_t *map_get(const ptr_map *m, uintptr_t key)
{
    if (m->cap == 0)
        return NULL;
    size_t i = map_find_slot(m, key);
    return m->keys[i] == key ? &m->vals[i] : NULL;
}

static int map_grow(ptr_map *m)
{
    size_t ncap = m->cap ? m->cap * 2 : 64;
    ptr_map n = {calloc(ncap, sizeof *n.keys), calloc(ncap, sizeof *n.vals),
                 ncap, 0};
    if (n.keys == NULL || n.vals == NULL) {
        free(n.keys);
        free(n.vals);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == 0)
            continue;
        size_t j = map_find_slot(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.vals[j] = m->vals[i];
        n.count++;
    }
    free(m->keys);
    free(m->vals);
    *m = n;
    return 0;
}

static int map_put(ptr_map *m, uintptr_t key, uint64_t val)
{
    if ((m->count + 1) * 2 > m->cap && map_grow(m) != 0)
        return -1;
    size_t i = map_find_slot(m, key);
    if (m->keys[i] == 0)
        m->count++;
    m->keys[i] = key;
    m->vals[i] = val;
    return 0;
}

static void map_del(ptr_map *m, uintptr_t key)
{
    if (m->cap == 0)
        return;
    size_t mask = m->cap - 1;
    size_t i = map_find_slot(m, key);
    if (m->keys[i] != key)
        return;
    /* Shift later members of the probe run back so no tombstones build up. */
    for (size_t j = (i + 1) & mask; m->keys[j] != 0; j = (j + 1) & mask) {
        size_t h = map_home(m, m->keys[j]);
        int movable = (i <= j) ? (h <= i || h > j) : (h <= i && h > j);
        if (movable) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->count--;
}

static void map_release(ptr_map *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------ pool */

typedef struct slab {
    char *base;                 /* SLAB_BYTES-aligned mapping            */
    size_t live;                /* live blocks carved from this slab     */
    uint32_t granule[];         /* requested+1 at a live block's start   */
} slab;

typedef struct free_node {
    struct free_node *next;
} free_node;

struct at_pool {
    at_spin_lock lock;          /* spin.h: short sections, then yield    */
    free_node *free_list[NCLASSES];
    ptr_map slabs;              /* slab base -> (slab *)                 */
    ptr_map large;              /* user ptr -> requested | LIVE_BIT      */
    slab *bump_slab;            /* slab currently being carved           */
    size_t bump_off;
    at_pool_stats st;
};

at_pool *at_pool_create(void)
{
    at_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    at_spin_init(&p->lock);
    return p;
}

/* Map SLAB_BYTES at a SLAB_BYTES-aligned address by over-mapping and
 * trimming, so a block's slab is found by masking its address. */
static char *map_aligned_slab(void)
{
    size_t len = 2 * SLAB_BYTES;
    char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | AT_MAP_ANON, -1, 0);
    if (raw == MAP_FAILED)
        return NULL;
    uintptr_t a =
        ((uintptr_t)raw + SLAB_BYTES - 1) & ~(uintptr_t)(SLAB_BYTES - 1);
    char *base = (char *)a;
    size_t head = (size_t)(base - raw);
    if (head > 0)
        munmap(raw, head);
    size_t tail = len - head - SLAB_BYTES;
    if (tail > 0)
        munmap(base + SLAB_BYTES, tail);
    return base;
}

/* Called with the lock held: start carving a fresh slab.  The unused tail
 * of the previous slab (< the class size asked for) is simply abandoned. */
static int new_bump_slab(at_pool *p)
{
    slab *s = calloc(1, sizeof *s + SLAB_GRANULES * sizeof s->granule[0]);
    if (s == NULL)
        return -1;
    s->base = map_aligned_slab();
    if (s->base == NULL
        || map_put(&p->slabs, (uintptr_t)s->base, (uintptr_t)s) != 0)
    {
        if (s->base != NULL)
            munmap(s->base, SLAB_BYTES);
        free(s);
        return -1;
    }
    p->bump_slab = s;
    p->bump_off = 0;
    p->st.bytes_reserved += SLAB_BYTES;
    return 0;
}

static slab *slab_of(const at_pool *p, const void *ptr)
{
    uintptr_t base = (uintptr_t)ptr & ~(uintptr_t)(SLAB_BYTES - 1);
    /* most small blocks come from the slab being carved: skip the map */
    if (p->bump_slab != NULL && (uintptr_t)p->bump_slab->base == base)
        return p->bump_slab;
    uint64_t *v = map_get(&p->slabs, base);
    return v ? (slab *)(uintptr_t)*v : NULL;
}

static void note_alloc(at_pool *p, size_t csize, size_t nbytes, int hit)
{
    p->st.bytes_in_use += csize;
    p->st.bytes_requested += nbytes;
    if (p->st.bytes_in_use > p->st.peak_bytes_in_use)
        p->st.peak_bytes_in_use = p->st.bytes_in_use;
    p->st.allocs++;
    if (hit)
        p->st.hits++;
    else
        p->st.misses++;
}

static void *pop_free(at_pool *p, unsigned c)
{
    free_node *n = p->free_list[c];
    if (n != NULL)
        p->free_list[c] = n->next;
    return n;
}

static void push_free(at_pool *p, unsigned c, void *ptr)
{
    free_node *n = ptr;
    n->next = p->free_list[c];
    p->free_list[c] = n;
}

static void *alloc_small(at_pool *p, unsigned c, size_t nbytes)
{
    size_t csize = class_size(c);
    at_spin_acquire(&p->lock);
    char *ptr = pop_free(p, c);
    int hit = ptr != NULL;
    if (!hit) {
        if ((p->bump_slab == NULL || SLAB_BYTES - p->bump_off < csize)
            && new_bump_slab(p) != 0)
        {
            at_spin_release(&p->lock);
            return NULL;
        }
        ptr = p->bump_slab->base + p->bump_off;
        p->bump_off += csize;
    }
    slab *s = hit ? slab_of(p, ptr) : p->bump_slab;
    s->granule[(size_t)(ptr - s->base) / GRANULE] = (uint32_t)nbytes + 1;
    s->live++;
    note_alloc(p, csize, nbytes, hit);
    at_spin_release(&p->lock);
    return ptr;
}

static void *map_large(size_t len)
{
    void *ptr = mmap(NULL, len, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | AT_MAP_ANON, -1, 0);
    if (ptr == MAP_FAILED)
        return NULL;
    /* Transparent huge pages are Linux advice; elsewhere the mapping keeps
     * the system's page size. */
#if defined(AT_HAVE_MADV_HUGEPAGE) && AT_HAVE_MADV_HUGEPAGE
    if (len >= SLAB_BYTES)
        madvise(ptr, len, MADV_HUGEPAGE);   /* advice only; failure is fine */
#endif
    return ptr;
}

static void *alloc_large(at_pool *p, unsigned c, size_t nbytes)
{
    size_t csize = class_size(c);
    size_t len = page_round(csize);
    at_spin_acquire(&p->lock);
    void *ptr = pop_free(p, c);
    if (ptr != NULL) {
        *map_get(&p->large, (uintptr_t)ptr) = nbytes | LIVE_BIT;
        note_alloc(p, csize, nbytes, 1);
        at_spin_release(&p->lock);
        return ptr;
    }
    at_spin_release(&p->lock);

    /* Fresh mapping outside the lock: mmap of a big range is a syscall we
     * do not want other allocating threads to queue behind. */
    ptr = map_large(len);
    if (ptr == NULL)
        return NULL;
    at_spin_acquire(&p->lock);
    if (map_put(&p->large, (uintptr_t)ptr, nbytes | LIVE_BIT) != 0) {
        at_spin_release(&p->lock);
        munmap(ptr, len);
        return NULL;
    }
    p->st.bytes_reserved += len;
    note_alloc(p, csize, nbytes, 0);
    at_spin_release(&p->lock);
    return ptr;
}

void *at_pool_alloc(at_pool *pool, size_t nbytes)
{
    if (pool == NULL || nbytes > (size_t)PTRDIFF_MAX / 2)
        return NULL;
    unsigned c = class_index(nbytes);
    if (class_size(c) <= SMALL_MAX)
        return alloc_small(pool, c, nbytes);
    return alloc_large(pool, c, nbytes);
}

static void note_free(at_pool *p, size_t nbytes)
{
    p->st.bytes_in_use -= class_size(class_index(nbytes));
    p->st.bytes_requested -= nbytes;
    p->st.frees++;
}

/* Unknown pointers, interior pointers and double frees are ignored: the
 * side tables are consulted before anything touches the block. */
void at_pool_free(at_pool *pool, void *ptr)
{
    if (pool == NULL || ptr == NULL || ((uintptr_t)ptr & (GRANULE - 1)) != 0)
        return;
    at_spin_acquire(&pool->lock);
    slab *s = slab_of(pool, ptr);
    if (s != NULL) {
        uint32_t *g = &s->granule[(size_t)((char *)ptr - s->base) / GRANULE];
        if (*g != 0) {
            size_t nbytes = (size_t)*g - 1;
            *g = 0;
            s->live--;
            push_free(pool, class_index(nbytes), ptr);
            note_free(pool, nbytes);
        }
    } else {
        uint64_t *v = map_get(&pool->large, (uintptr_t)ptr);
        if (v != NULL && (*v & LIVE_BIT)) {
            size_t nbytes = (size_t)(*v & ~LIVE_BIT);
            *v = nbytes;
            push_free(pool, class_index(nbytes), ptr);
            note_free(pool, nbytes);
        }
    }
    at_spin_release(&pool->lock);
}

/* Drop from class c's free list every block whose slab has no live block;
 * those slabs are about to be unmapped. */
static void unlink_empty_slab_blocks(at_pool *p, unsigned c)
{
    free_node **link = &p->free_list[c];
    while (*link != NULL) {
        slab *s = slab_of(p, *link);
        if (s->live == 0)
            *link = (*link)->next;
        else
            link = &(*link)->next;
    }
}

static void release_slab(at_pool *p, slab *s)
{
    map_del(&p->slabs, (uintptr_t)s->base);
    munmap(s->base, SLAB_BYTES);
    p->st.bytes_reserved -= SLAB_BYTES;
    if (p->bump_slab == s)
        p->bump_slab = NULL;
    free(s);
}

/* Collect slabs with no live block.  Returns how many were collected. */
static size_t collect_empty_slabs(at_pool *p, slab **out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < p->slabs.cap && n < cap; i++) {
        if (p->slabs.keys[i] == 0)
            continue;
        slab *s = (slab *)(uintptr_t)p->slabs.vals[i];
        if (s->live == 0)
            out[n++] = s;
    }
    return n;
}

static void trim_small(at_pool *p)
{
    size_t cap = p->slabs.count;
    if (cap == 0)
        return;
    slab **empty = malloc(cap * sizeof *empty);
    if (empty == NULL)
        return;                 /* trimming is best effort */
    size_t n = collect_empty_slabs(p, empty, cap);
    if (n > 0) {
        for (unsigned c = 0; c < NCLASSES && class_size(c) <= SMALL_MAX; c++)
            unlink_empty_slab_blocks(p, c);
        for (size_t i = 0; i < n; i++)
            release_slab(p, empty[i]);
    }
    free(empty);
}

static void trim_large(at_pool *p)
{
    for (unsigned c = 0; c < NCLASSES; c++) {
        size_t csize = class_size(c);
        if (csize <= SMALL_MAX)
            continue;
        void *ptr;
        while ((ptr = pop_free(p, c)) != NULL) {
            map_del(&p->large, (uintptr_t)ptr);
            munmap(ptr, page_round(csize));
            p->st.bytes_reserved -= page_round(csize);
        }
    }
}

/* Releases every cached large block and every slab with no live block.
 * Runs under the lock: it is rare and must not race with allocation. */
void at_pool_trim(at_pool *pool)
{
    if (pool == NULL)
        return;
    at_spin_acquire(&pool->lock);
    trim_large(pool);
    trim_small(pool);
    at_spin_release(&pool->lock);
}

void at_pool_get_stats(at_pool *pool, at_pool_stats *out)
{
    if (out == NULL)
        return;
    if (pool == NULL) {
        memset(out, 0, sizeof *out);
        return;
    }
    at_spin_acquire(&pool->lock);
    *out = pool->st;
    at_spin_release(&pool->lock);
}

void at_pool_destroy(at_pool *pool)
{
    if (pool == NULL)
        return;
    for (size_t i = 0; i < pool->slabs.cap; i++) {
        if (pool->slabs.keys[i] == 0)
            continue;
        slab *s = (slab *)(uintptr_t)pool->slabs.vals[i];
        munmap(s->base, SLAB_BYTES);
        free(s);
    }
    for (size_t i = 0; i < pool->large.cap; i++) {
        if (pool->large.keys[i] == 0)
            continue;
        size_t nbytes = (size_t)(pool->large.vals[i] & ~LIVE_BIT);
        munmap((void *)pool->large.keys[i],
               page_round(class_size(class_index(nbytes))));
    }
    map_release(&pool->slabs);
    map_release(&pool->large);
    free(pool);
}
