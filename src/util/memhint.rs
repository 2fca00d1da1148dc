//! Memory hints for the few large, short-lived buffers of indexing (a 2-hour MP4 has a 5 MB
//! moov and half a million sample records): asking for transparent huge pages turns thousands of
//! page faults into a handful. Advice only: contents and behaviour are unchanged, and where the
//! kernel ignores it nothing happens.

/// Advises the kernel to back the allocation of `v` with huge pages (Linux `MADV_HUGEPAGE`),
/// for the whole 2 MiB-aligned part of its capacity (from the boundary just below its start when
/// that lies in the page the start is in). No-op for small buffers.
pub fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    const PAGE: usize = 4096;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 2 * HUGE {
        return;
    }
    let start = v.as_ptr() as usize;
    // A large allocation is a mapping of its own, which the kernel places on a 2 MiB boundary
    // (Linux 6.7 and later), the allocator's header before the data: when the data starts in
    // the first 4 KiB page after a boundary, that page, boundary included, is the allocation's
    // own, and the huge page from it holds the first records too.
    let below = start & !(HUGE - 1);
    let aligned = if start - below < PAGE { below } else { (start + HUGE - 1) & !(HUGE - 1) };
    let end = (start + bytes) & !(HUGE - 1);
    if end > aligned {
        // SAFETY: [aligned, end) lies inside the Vec's own allocation (and, from a boundary
        // below its start, inside the page that holds its start); MADV_HUGEPAGE is advice that
        // never changes the memory's contents or validity.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
        }
    }
}
