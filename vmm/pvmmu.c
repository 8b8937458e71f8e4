/* SPDX-License-Identifier: MIT */
#include "vmm/pvmmu.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/json.h"

#define PVMMU_RSVD          0x7ff0000000000000ull       /* bits 52..62 */
#define PVMMU_PAGE_MASK     0xfffull

static const char *const pvmmu_reason[PV_MMU_NR_STATUS] = {
	[PV_MMU_E_OP] = "bad_op",
	[PV_MMU_E_LEVEL] = "bad_level",
	[PV_MMU_E_ALIGN] = "unaligned",
	[PV_MMU_E_RANGE] = "out_of_range",
	[PV_MMU_E_COUNT] = "bad_count",
	[PV_MMU_E_NOTPINNED] = "not_pinned",
	[PV_MMU_E_FRAME] = "bad_frame",
	[PV_MMU_E_FLAGS] = "bad_flags",
	[PV_MMU_E_WRPT] = "writable_pt",
	[PV_MMU_E_WRRING] = "writable_ring",
	[PV_MMU_E_NOTTABLE] = "not_table",
	[PV_MMU_E_BUSY] = "busy",
	[PV_MMU_E_RING] = "bad_ring",
	[PV_MMU_E_NORING] = "no_ring",
};

const char *pvmmu_status_name(int status)
{
	return status > 0 && status < PV_MMU_NR_STATUS ? pvmmu_reason[status] : NULL;
}

int pvmmu_init(struct pvmmu *m, const struct guestmem *mem)
{
	uint64_t n2m, n1g;

	memset(m, 0, sizeof(*m));
	m->nr_frames = mem->size >> 12;
	n2m = (m->nr_frames + 511) >> 9;
	n1g = (m->nr_frames + (1u << 18) - 1) >> 18;
	/* large callocs are fresh mappings: only the pages touched cost memory */
	m->kind = calloc(m->nr_frames, sizeof(*m->kind));
	m->refs = calloc(m->nr_frames, sizeof(*m->refs));
	m->wr4k = calloc(m->nr_frames, sizeof(*m->wr4k));
	m->wr2m = calloc(n2m, sizeof(*m->wr2m));
	m->wr1g = calloc(n1g, sizeof(*m->wr1g));
	m->pt2m = calloc(n2m, sizeof(*m->pt2m));
	m->ring2m = calloc(n2m, sizeof(*m->ring2m));
	m->pt1g = calloc(n1g, sizeof(*m->pt1g));
	m->ring1g = calloc(n1g, sizeof(*m->ring1g));
	pthread_mutex_init(&m->lock, NULL);
	m->mem = mem;
	if (!m->kind || !m->refs || !m->wr4k || !m->wr2m || !m->wr1g || !m->pt2m ||
	    !m->ring2m || !m->pt1g || !m->ring1g) {
		pvmmu_destroy(m);
		return -ENOMEM;
	}
	return 0;
}

void pvmmu_destroy(struct pvmmu *m)
{
	if (!m->mem)
		return;
	free(m->kind);
	free(m->refs);
	free(m->wr4k);
	free(m->wr2m);
	free(m->wr1g);
	free(m->pt2m);
	free(m->ring2m);
	free(m->pt1g);
	free(m->ring1g);
	pthread_mutex_destroy(&m->lock);
	memset(m, 0, sizeof(*m));
}

/* Make frame @f a @kind page, keeping the per-region counts. */
static void pvmmu_set_kind(struct pvmmu *m, uint64_t f, uint8_t kind)
{
	uint8_t old = m->kind[f];

	if (old == PVMMU_KIND_RING) {
		m->ring2m[f >> 9]--;
		m->ring1g[f >> 18]--;
	} else if (old != PVMMU_KIND_NONE) {
		m->pt2m[f >> 9]--;
		m->pt1g[f >> 18]--;
		m->nr_pinned--;
	}
	m->kind[f] = kind;
	if (kind == PVMMU_KIND_RING) {
		m->ring2m[f >> 9]++;
		m->ring1g[f >> 18]++;
	} else if (kind != PVMMU_KIND_NONE) {
		m->pt2m[f >> 9]++;
		m->pt1g[f >> 18]++;
		m->nr_pinned++;
	}
}

/* log2 of the page size an entry of @level maps: 12, 21, 30, 39. */
static inline unsigned pvmmu_shift(unsigned level)
{
	return 12 + 9 * (level - 1);
}

/* A leaf: level 1, or PS at any other level (at level 4 it is invalid). */
static inline int pvmmu_is_leaf(uint64_t v, unsigned level)
{
	return level == 1 || (v & PV_PTE_PS) != 0;
}

/*
 * Whether @v may stand in a table pinned at @level (1..4).  Non-present
 * entries are the guest's own business (swap entries live there).
 */
static inline int pvmmu_check(const struct pvmmu *m, uint64_t v, unsigned level)
{
	uint64_t addr = v & PV_PTE_ADDR, f = addr >> 12;
	unsigned shift;

	if (!(v & PV_PTE_P))
		return PV_MMU_OK;
	if (v & PVMMU_RSVD)
		return PV_MMU_E_FLAGS;
	if (!pvmmu_is_leaf(v, level))
		return f < m->nr_frames && m->kind[f] == level - 1 ? PV_MMU_OK : PV_MMU_E_NOTTABLE;
	if (level == 4 || (level == 1 && (v & PV_PTE_PS)))      /* PS at 4; PAT at 1 */
		return PV_MMU_E_FLAGS;
	shift = pvmmu_shift(level);
	/* a 2M/1G frame must be aligned: this also refuses their PAT bit (12) */
	if (addr & ((1ull << shift) - 1) || f >= m->nr_frames ||
	    m->nr_frames - f < 1ull << (shift - 12))
		return PV_MMU_E_FRAME;
	if (!(v & PV_PTE_W))
		return PV_MMU_OK;
	switch (level) {
	case 1:
		if (m->kind[f] == PVMMU_KIND_RING)
			return PV_MMU_E_WRRING;
		return m->kind[f] ? PV_MMU_E_WRPT : PV_MMU_OK;
	case 2:
		if (m->pt2m[f >> 9])
			return PV_MMU_E_WRPT;
		return m->ring2m[f >> 9] ? PV_MMU_E_WRRING : PV_MMU_OK;
	default:
		if (m->pt1g[f >> 18])
			return PV_MMU_E_WRPT;
		return m->ring1g[f >> 18] ? PV_MMU_E_WRRING : PV_MMU_OK;
	}
}

/* The count entry @v of a table at @level adds to, or NULL for none. */
static inline uint32_t *pvmmu_count_of(struct pvmmu *m, uint64_t v, unsigned level)
{
	uint64_t f = (v & PV_PTE_ADDR) >> 12;

	if (!(v & PV_PTE_P) || f >= m->nr_frames)
		return NULL;
	if (!pvmmu_is_leaf(v, level))
		return &m->refs[f];
	if (!(v & PV_PTE_W))
		return NULL;
	switch (level) {
	case 1:  return &m->wr4k[f];
	case 2:  return &m->wr2m[f >> 9];
	case 3:  return &m->wr1g[f >> 18];
	default: return NULL;
	}
}

/* Count entry @v, which pvmmu_check() accepted, of a pinned table. */
static inline void pvmmu_add(struct pvmmu *m, uint64_t v, unsigned level)
{
	uint32_t *c = pvmmu_count_of(m, v, level);

	if (c)
		(*c)++;
}

/*
 * Uncount entry @v read back from a pinned table.  The guest may have
 * written it behind our back, so it was perhaps never counted: the frame is
 * checked (pvmmu_count_of) and a count never goes below zero.
 */
static inline void pvmmu_remove(struct pvmmu *m, uint64_t v, unsigned level)
{
	uint32_t *c = pvmmu_count_of(m, v, level);

	if (c && *c)
		(*c)--;
}

static inline uint64_t pvmmu_load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* One 8-byte store: a vCPU walking the table never sees half an entry. */
static inline void pvmmu_store(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

void pvmmu_prefault_flush(struct pvmmu *m)
{
	if (!m->pf_n)
		return;
	guestmem_prefault(m->mem, m->pf_first, m->pf_n);
	m->c.prefault_runs++;
	m->pf_n = 0;
}

/* Leaf entry @v (checked) of a table at @level was stored: its frames join the prefault run. */
static void pvmmu_prefault_add(struct pvmmu *m, uint64_t v, unsigned level)
{
	uint64_t f = (v & PV_PTE_ADDR) >> 12, n = 1ull << (pvmmu_shift(level) - 12);

	if (!(v & PV_PTE_P) || !pvmmu_is_leaf(v, level))
		return;
	if (m->pf_n && m->pf_first + m->pf_n == f) {
		m->pf_n += n;
		return;
	}
	pvmmu_prefault_flush(m);
	m->pf_first = f;
	m->pf_n = n;
}

/* SET, MAP, PROTECT, CLEAR on the @r->count entries at @pte, checked to be in one pinned table. */
static int pvmmu_pte_apply(struct pvmmu *m, const struct pv_mmu_rec *r, uint64_t *pte)
{
	uint64_t old[PV_MMU_RANGE_MAX], val[PV_MMU_RANGE_MAX];
	unsigned level = r->level, n = r->count, written = 0;
	uint64_t step, addr;
	int st;

	step = 1ull << pvmmu_shift(level);
	for (unsigned i = 0; i < n; i++) {
		old[i] = pvmmu_load(&pte[i]);
		switch (r->op) {
		case PV_MMU_SET:
			val[i] = r->val;
			break;
		case PV_MMU_MAP:
			/* at most 2^52 + 511 * 2^39: no wrap, but it may leave the field */
			addr = (r->val & PV_PTE_ADDR) + i * step;
			if (addr & ~PV_PTE_ADDR)
				return PV_MMU_E_FRAME;
			val[i] = (r->val & ~PV_PTE_ADDR) | addr;
			break;
		case PV_MMU_PROTECT:    /* P is not a PROT bit: non-present stays so */
			val[i] = (old[i] & ~r->mask) | r->val;
			break;
		default:        /* PV_MMU_CLEAR */
			val[i] = 0;
			break;
		}
		st = pvmmu_check(m, val[i], level);
		if (st)
			return st;
	}
	for (unsigned i = 0; i < n; i++) {
		if (r->op == PV_MMU_PROTECT && !(old[i] & PV_PTE_P))
			continue;       /* left alone */
		pvmmu_remove(m, old[i], level);
		pvmmu_add(m, val[i], level);
		pvmmu_store(&pte[i], val[i]);
		if (r->op == PV_MMU_SET || r->op == PV_MMU_MAP)
			pvmmu_prefault_add(m, val[i], level);
		written++;
	}
	m->c.ptes_written += written;
	return PV_MMU_OK;
}

/* SET, MAP, PROTECT, CLEAR: validate every entry, then write them all. */
static int pvmmu_pte_op(struct pvmmu *m, const struct pv_mmu_rec *r)
{
	uint64_t len = 8ull * r->count, *pte;
	int st;

	if (r->level < 1 || r->level > 4)
		return PV_MMU_E_LEVEL;
	if (r->ptep & 7)
		return PV_MMU_E_ALIGN;
	if (r->count == 0 || r->count > PV_MMU_RANGE_MAX || (r->op == PV_MMU_SET && r->count != 1))
		return PV_MMU_E_COUNT;
	if (r->op == PV_MMU_PROTECT && ((r->mask | r->val) & ~PV_PTE_PROT_BITS))
		return PV_MMU_E_FLAGS;
	if (!guestmem_range_ok(m->mem->size, r->ptep, len) ||
	    (r->ptep & PVMMU_PAGE_MASK) + len > 4096)
		return PV_MMU_E_RANGE;
	if (m->kind[r->ptep >> 12] != r->level)
		return PV_MMU_E_NOTPINNED;
	pte = guestmem_get(m->mem, r->ptep, len, true);
	if (!pte)
		return PV_MMU_E_RANGE;  /* its swap-in failed: the VM is ending */
	st = pvmmu_pte_apply(m, r, pte);
	guestmem_put(m->mem, r->ptep, len);
	return st;
}

/*
 * The page @gpa must be page-aligned and in RAM: its 512 entries (held
 * until pvmmu_table_put()), or a status.
 */
static int pvmmu_table(const struct pvmmu *m, uint64_t gpa, uint64_t **pte)
{
	if (gpa & PVMMU_PAGE_MASK)
		return PV_MMU_E_ALIGN;
	*pte = guestmem_get(m->mem, gpa, 4096, false);
	return *pte ? PV_MMU_OK : PV_MMU_E_RANGE;
}

static int pvmmu_table_put(const struct pvmmu *m, uint64_t gpa, int st)
{
	guestmem_put(m->mem, gpa, 4096);
	return st;
}

static int pvmmu_pin(struct pvmmu *m, const struct pv_mmu_rec *r)
{
	uint64_t v[PV_MMU_RANGE_MAX], *pte, f = r->ptep >> 12;
	unsigned level = r->level;
	int st;

	if (level < 1 || level > 4)
		return PV_MMU_E_LEVEL;
	st = pvmmu_table(m, r->ptep, &pte);
	if (st)
		return st;
	if (m->kind[f] != PVMMU_KIND_NONE || pvmmu_mapped_writable(m, f) ||
	    m->nr_pinned >= PVMMU_PINNED_MAX)
		return pvmmu_table_put(m, r->ptep, PV_MMU_E_BUSY);
	/* pinned while its own entries are checked: no writable map of itself */
	pvmmu_set_kind(m, f, (uint8_t)level);
	for (unsigned i = 0; i < PV_MMU_RANGE_MAX; i++) {
		v[i] = pvmmu_load(&pte[i]);
		st = pvmmu_check(m, v[i], level);
		if (st) {
			pvmmu_set_kind(m, f, PVMMU_KIND_NONE);
			return pvmmu_table_put(m, r->ptep, st);
		}
	}
	for (unsigned i = 0; i < PV_MMU_RANGE_MAX; i++)
		pvmmu_add(m, v[i], level);
	m->c.pins++;
	return pvmmu_table_put(m, r->ptep, PV_MMU_OK);
}

static int pvmmu_unpin(struct pvmmu *m, const struct pv_mmu_rec *r)
{
	uint64_t *pte, f = r->ptep >> 12;
	unsigned level;
	int st;

	st = pvmmu_table(m, r->ptep, &pte);
	if (st)
		return st;
	level = m->kind[f];
	if (level < 1 || level > 4 || m->refs[f])
		return pvmmu_table_put(m, r->ptep, PV_MMU_E_BUSY);
	for (unsigned i = 0; i < PV_MMU_RANGE_MAX; i++)
		pvmmu_remove(m, pvmmu_load(&pte[i]), level);
	pvmmu_set_kind(m, f, PVMMU_KIND_NONE);
	m->c.unpins++;
	return pvmmu_table_put(m, r->ptep, PV_MMU_OK);
}

bool pvmmu_frames_free(const struct pvmmu *m, uint64_t f, uint64_t n)
{
	for (uint64_t g = f, e; g < f + n; g = e) {
		e = ((g >> 9) + 1) << 9;
		e = e < f + n ? e : f + n;
		if (!m->pt2m[g >> 9] && !m->ring2m[g >> 9])
			continue;
		for (uint64_t h = g; h < e; h++)
			if (m->kind[h] != PVMMU_KIND_NONE)
				return false;
	}
	return true;
}

/* RELEASE: frames [ptep, ptep + count pages), none pinned or a ring page, are dropped. */
static int pvmmu_release(struct pvmmu *m, const struct pv_mmu_rec *r)
{
	uint64_t f = r->ptep >> 12, n = r->count;

	if (r->ptep & PVMMU_PAGE_MASK)
		return PV_MMU_E_ALIGN;
	if (n == 0 || n > PV_MMU_RELEASE_MAX)
		return PV_MMU_E_COUNT;
	if (f >= m->nr_frames || m->nr_frames - f < n)
		return PV_MMU_E_RANGE;
	if (!pvmmu_frames_free(m, f, n))
		return PV_MMU_E_BUSY;
	/* frames this batch mapped before are claimed first: the release waits for them */
	pvmmu_prefault_flush(m);
	if (guestmem_release(m->mem, r->ptep, n << 12))
		return PV_MMU_E_RANGE;  /* the VMM could not drop them (the VM is ending) */
	m->c.released_requests++;
	m->c.released_pages += n;
	return PV_MMU_OK;
}

/* Widen @acc by [val, val + count pages); count 0 means everything. */
static void pvmmu_flush_add(struct pvmmu_flush *acc, uint64_t va, uint32_t count)
{
	uint64_t end;

	if (acc->mode == PV_MMU_FLUSH_ALL)
		return;
	if (count == 0 || __builtin_add_overflow(va, (uint64_t)count << 12, &end) ||
	    __builtin_add_overflow(end, PVMMU_PAGE_MASK, &end)) {
		acc->mode = PV_MMU_FLUSH_ALL;
		return;
	}
	va &= ~PVMMU_PAGE_MASK;
	end &= ~PVMMU_PAGE_MASK;
	if (acc->mode == PV_MMU_FLUSH_NONE) {
		acc->mode = PV_MMU_FLUSH_RANGE;
		acc->va = va;
		acc->end = end;
	} else {
		acc->va = va < acc->va ? va : acc->va;
		acc->end = end > acc->end ? end : acc->end;
	}
	if (acc->end - acc->va > (uint64_t)PVMMU_FLUSH_RANGE_MAX << 12)
		acc->mode = PV_MMU_FLUSH_ALL;
}

int pvmmu_apply(struct pvmmu *m, const struct pv_mmu_rec *rec, struct pvmmu_flush *acc)
{
	int st;

	switch (rec->op) {
	case PV_MMU_SET:
	case PV_MMU_MAP:
	case PV_MMU_PROTECT:
	case PV_MMU_CLEAR:
		st = pvmmu_pte_op(m, rec);
		break;
	case PV_MMU_PIN:
		st = pvmmu_pin(m, rec);
		break;
	case PV_MMU_UNPIN:
		st = pvmmu_unpin(m, rec);
		break;
	case PV_MMU_RELEASE:
		st = pvmmu_release(m, rec);
		break;
	case PV_MMU_FLUSH_TLB:
		pvmmu_flush_add(acc, rec->val, rec->count);
		m->c.flushes++;
		st = PV_MMU_OK;
		break;
	default:
		st = PV_MMU_E_OP;
		break;
	}
	m->c.records++;
	if (st == PV_MMU_OK) {
		m->c.applied++;
	} else {
		m->c.rejected++;
		m->c.by_reason[st]++;
	}
	return st;
}

static uint64_t pvmmu_ring_bytes(uint32_t nr)
{
	return sizeof(struct pv_mmu_ring) + (uint64_t)nr * sizeof(struct pv_mmu_rec);
}

int pvmmu_setup(struct pvmmu *m, struct pvmmu_ring_state *rs, const struct pv_mmu_setup *s)
{
	uint64_t gpa = s->ring_gpa, first, last, old_first = 0, old_last = 0, f;
	int ret = PV_OK;

	pthread_mutex_lock(&m->lock);
	m->c.setups++;
	if (s->version != PV_ABI_VERSION) {
		ret = PV_EVERSION;
		goto out;
	}
	if (s->nr_records == 0 || s->nr_records > PV_MMU_RING_MAX || (gpa & PVMMU_PAGE_MASK)) {
		ret = PV_EINVAL;
		goto out;
	}
	if (!guestmem_range_ok(m->mem->size, gpa, pvmmu_ring_bytes(s->nr_records))) {
		ret = PV_EFAULT;
		goto out;
	}
	first = gpa >> 12;
	last = (gpa + pvmmu_ring_bytes(s->nr_records) - 1) >> 12;
	if (rs->nr) {
		old_first = rs->gpa >> 12;
		old_last = (rs->gpa + pvmmu_ring_bytes(rs->nr) - 1) >> 12;
	}
	for (f = first; f <= last; f++) {
		int own = rs->nr && f >= old_first && f <= old_last;

		if ((m->kind[f] != PVMMU_KIND_NONE && !own) || pvmmu_mapped_writable(m, f)) {
			ret = PV_EINVAL;
			goto out;
		}
	}
	for (f = old_first; rs->nr && f <= old_last; f++)
		pvmmu_set_kind(m, f, PVMMU_KIND_NONE);
	for (f = first; f <= last; f++)
		pvmmu_set_kind(m, f, PVMMU_KIND_RING);
	rs->gpa = gpa;
	rs->nr = s->nr_records;
out:
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/* Copy a record out of the ring with one read of each word. */
static void pvmmu_read_rec(struct pv_mmu_rec *dst, const struct pv_mmu_rec *src)
{
	const uint64_t *s = (const uint64_t *)src;
	uint64_t w[4];

	for (int i = 0; i < 4; i++)
		w[i] = pvmmu_load(&s[i]);
	memcpy(dst, w, sizeof(*dst));
}

/*
 * The ring's records, one page of them held (guestmem_get) at a time: O(1)
 * per record.  A record (32 bytes, after a 64-byte header, in a page-aligned
 * ring) never crosses a page.
 */
struct pvmmu_window {
	uint64_t page;
	uint8_t *p;
};

static struct pv_mmu_rec *pvmmu_rec_at(struct pvmmu *m, struct pvmmu_window *w, uint64_t gpa)
{
	uint64_t page = gpa & ~PVMMU_PAGE_MASK;

	if (!w->p || w->page != page) {
		if (w->p)
			guestmem_put(m->mem, w->page, 4096);
		w->p = guestmem_get(m->mem, page, 4096, true);
		w->page = page;
	}
	return w->p ? (struct pv_mmu_rec *)(w->p + (gpa & PVMMU_PAGE_MASK)) : NULL;
}

int pvmmu_doorbell(struct pvmmu *m, const struct pvmmu_ring_state *rs)
{
	struct pvmmu_flush acc = { .mode = PV_MMU_FLUSH_NONE };
	struct pvmmu_window win = { 0 };
	struct pv_mmu_ring *ring = NULL;
	uint32_t count, done = 0, rejected = 0;
	int32_t status = PV_MMU_OK;

	pthread_mutex_lock(&m->lock);
	m->c.doorbells++;
	if (rs->nr)
		ring = guestmem_get(m->mem, rs->gpa, sizeof(*ring), true);
	if (!ring) {
		status = PV_MMU_E_NORING;
		m->c.by_reason[status]++;
		goto out;
	}
	count = __atomic_load_n(&ring->count, __ATOMIC_RELAXED);
	if (count > rs->nr) {
		status = PV_MMU_E_RING;
		m->c.by_reason[status]++;
	}
	for (; status == PV_MMU_OK && done < count; done++) {
		struct pv_mmu_rec rec, *slot;
		int st;

		slot = pvmmu_rec_at(m, &win, rs->gpa + sizeof(*ring) + (uint64_t)done * sizeof(rec));
		if (!slot)
			break;  /* its swap-in failed: the VM is ending */
		pvmmu_read_rec(&rec, slot);
		st = pvmmu_apply(m, &rec, &acc);
		__atomic_store_n(&slot->status, (int16_t)st, __ATOMIC_RELAXED);
		rejected += st != PV_MMU_OK;
	}
	if (win.p)
		guestmem_put(m->mem, win.page, 4096);
	ring->processed = done;
	ring->rejected = rejected;
	ring->status = status;
	ring->flush = acc.mode;
	ring->flush_va = acc.mode == PV_MMU_FLUSH_RANGE ? acc.va : 0;
	ring->flush_pages = acc.mode == PV_MMU_FLUSH_RANGE ? (acc.end - acc.va) >> 12 : 0;
	guestmem_put(m->mem, rs->gpa, sizeof(*ring));
out:
	pvmmu_prefault_flush(m);        /* claims only: it never waits */
	pthread_mutex_unlock(&m->lock);
	return status;
}

void pvmmu_json(struct json *j, const struct pvmmu *m, const char *mode)
{
	const struct pvmmu_counters *c = &m->c;

	json_obj_begin(j, "pvmmu");
	json_str(j, "mode", mode);
	json_u64(j, "doorbells", c->doorbells);
	json_u64(j, "records", c->records);
	json_u64(j, "applied", c->applied);
	json_u64(j, "rejected", c->rejected);
	json_u64(j, "flushes", c->flushes);
	json_u64(j, "pins", c->pins);
	json_u64(j, "unpins", c->unpins);
	json_u64(j, "ptes_written", c->ptes_written);
	json_u64(j, "setups", c->setups);
	json_obj_begin(j, "rejected_by_reason");
	for (int s = 1; s < PV_MMU_NR_STATUS; s++)
		json_u64(j, pvmmu_reason[s], c->by_reason[s]);
	json_obj_end(j);
	json_obj_end(j);
}

void pvmmu_print(FILE *f, const struct pvmmu *m, const char *mode)
{
	const struct pvmmu_counters *c = &m->c;

	fprintf(f, "pvmmu (%s): doorbells %" PRIu64 ", records %" PRIu64 ", applied %" PRIu64
		", rejected %" PRIu64 ", ptes %" PRIu64 ", pins %" PRIu64 ", unpins %" PRIu64
		", flushes %" PRIu64 "\n", mode, c->doorbells, c->records, c->applied, c->rejected,
		c->ptes_written, c->pins, c->unpins, c->flushes);
}
