//! Memory hints for the few large, short-lived buffers of indexing (a 2-hour MP4 has a 5 MB
//! moov and half a million sample records): asking for transparent huge pages turns thousands of
//! page faults into a handful. Advice only: contents and behaviour are unchanged, and where the
//! kernel ignores it nothing happens.

/// Advises the kernel to back the allocation of `v` with huge pages (Linux `MADV_HUGEPAGE`),
/// for the whole 2 MiB-aligned part of its capacity. No-op for small buffers.
pub fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    advise(v, HUGE, 2 * HUGE, libc::MADV_HUGEPAGE);
}

/// Asks the kernel to back the whole capacity of `v` with memory now, in one call (Linux
/// `MADV_POPULATE_WRITE`), instead of one page fault per 4 KiB page as it is first written: for
/// a new buffer about to be filled whole (a segment's bytes). Advice only: contents are
/// unchanged; no-op for small buffers and where the kernel does not know it.
pub fn populate<T>(v: &Vec<T>) {
    const PAGE: usize = 4096;
    advise(v, PAGE, 16 * PAGE, libc::MADV_POPULATE_WRITE);
}

/// [`huge_pages`] for the whole huge pages of `b` only (a buffer kept: the pages past its last
/// whole huge page are not backed by one more huge page, most of it unused).
pub fn huge_pages_part(b: &mut [u8]) {
    const HUGE: usize = 2 << 20;
    advise_at(b.as_ptr() as usize, b.len(), HUGE, HUGE, libc::MADV_HUGEPAGE);
}

/// [`populate`] for the whole pages of `b`, a part of a buffer about to be filled.
pub fn populate_part(b: &mut [u8]) {
    const PAGE: usize = 4096;
    advise_at(b.as_ptr() as usize, b.len(), PAGE, 16 * PAGE, libc::MADV_POPULATE_WRITE);
}

/// `madvise(advice)` over the `unit`-aligned part of `v`'s capacity, when that capacity is at
/// least `min_bytes`. Only for advice that never changes the memory's contents or validity
/// (`MADV_HUGEPAGE`; `MADV_POPULATE_WRITE`, which makes the pages present as writing to them
/// would).
fn advise<T>(v: &Vec<T>, unit: usize, min_bytes: usize, advice: libc::c_int) {
    advise_at(v.as_ptr() as usize, v.capacity() * std::mem::size_of::<T>(), unit, min_bytes, advice);
}

/// [`advise`] over the `bytes` bytes at `start`, memory the caller owns.
fn advise_at(start: usize, bytes: usize, unit: usize, min_bytes: usize, advice: libc::c_int) {
    if bytes < min_bytes {
        return;
    }
    let aligned = (start + unit - 1) & !(unit - 1);
    let end = (start + bytes) & !(unit - 1);
    if end > aligned {
        // SAFETY: [aligned, end) lies inside memory the caller owns, and `advice` is one that
        // never changes its contents or validity (see above).
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, advice);
        }
    }
}
