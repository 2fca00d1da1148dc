//! Memory hints for the few large, short-lived buffers of indexing (a 2-hour MP4 has a 5 MB
//! moov and half a million sample records): asking for transparent huge pages turns thousands of
//! page faults into a handful. Advice only: contents and behaviour are unchanged, and where the
//! kernel ignores it nothing happens.

/// Advises the kernel to back the allocation of `v` with huge pages (Linux `MADV_HUGEPAGE`),
/// for the whole 2 MiB-aligned part of its capacity. No-op for small buffers.
pub fn huge_pages<T>(v: &Vec<T>) {
    const HUGE: usize = 2 << 20;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 2 * HUGE {
        return;
    }
    let start = v.as_ptr() as usize;
    let aligned = (start + HUGE - 1) & !(HUGE - 1);
    let end = (start + bytes) & !(HUGE - 1);
    if end > aligned {
        // SAFETY: [aligned, end) lies inside the Vec's own allocation; MADV_HUGEPAGE is advice
        // that never changes the memory's contents or validity.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_HUGEPAGE);
        }
    }
}

/// Asks the kernel to back the whole capacity of `v` with memory now, in one call (Linux
/// `MADV_POPULATE_WRITE`), instead of one page fault per 4 KiB page as it is first written: for
/// a new buffer about to be filled whole (a segment's bytes). Advice only: contents are
/// unchanged; no-op for small buffers and where the kernel does not know it.
pub fn populate<T>(v: &Vec<T>) {
    const PAGE: usize = 4096;
    let bytes = v.capacity() * std::mem::size_of::<T>();
    if bytes < 16 * PAGE {
        return;
    }
    let start = v.as_ptr() as usize;
    let aligned = (start + PAGE - 1) & !(PAGE - 1);
    let end = (start + bytes) & !(PAGE - 1);
    if end > aligned {
        // SAFETY: [aligned, end) lies inside the Vec's own allocation; MADV_POPULATE_WRITE only
        // makes its pages present (as writing to them would), never changes their contents.
        unsafe {
            libc::madvise(aligned as *mut libc::c_void, end - aligned, libc::MADV_POPULATE_WRITE);
        }
    }
}
