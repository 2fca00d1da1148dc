//! Recycled response buffers: the memory of a segment's bytes, given back when the cache evicts
//! them or when the last holder releases them (`hls_free_buffer`, `hls_free_parts`), and reused
//! for the next segment read instead of fresh memory.
//!
//! Fresh memory costs a page fault and the kernel's zeroing for every 4 KiB page before the
//! first byte is written (a 1 MB segment: 256 faults, more than reading it from the page cache
//! costs). An origin whose cache is full evicts one segment for every segment it reads, so the
//! evicted one's pages, already faulted, take the new one's bytes.
//!
//! Bounded: at most [`MAX_POOL_BYTES`] of capacity and [`MAX_BUFFERS`] buffers, process-wide;
//! a buffer given beyond that is freed (the oldest first). Counted: [`Pool::held`] is the
//! capacity held, changed only under the pool's lock where a buffer enters or leaves it.
//! Contents never leak: a buffer is handed out empty (length 0), and a caller sees only the
//! bytes it writes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// Capacity the process-wide pool holds at most: a few segments. An origin whose cache is full
/// gives one back for each it reads, so a few suffice; more would only add to the memory a
/// process holds beyond its cache budget (`benches/hls_bench.rs`'s RSS row: 32 MiB added 4 MB
/// there, 8 MiB nothing, with the same gain in a cold crawl).
pub const MAX_POOL_BYTES: u64 = 8 << 20;
/// Buffers the process-wide pool holds at most.
pub const MAX_BUFFERS: usize = 16;
/// Smaller buffers are not kept (a fresh one costs a few pages; malloc recycles them itself).
pub const MIN_KEPT: usize = 64 << 10;
/// Larger buffers are not kept.
pub const MAX_KEPT: usize = 16 << 20;

/// A bounded free list of buffers, and its counters.
pub struct Pool {
    free: Mutex<Free>,
    max_bytes: u64,
    max_buffers: usize,
    /// Buffers handed out again instead of fresh memory.
    pub reuses: AtomicU64,
    /// Buffers taken in (given back and kept).
    pub recycled: AtomicU64,
}

struct Free {
    /// Oldest first.
    bufs: Vec<Vec<u8>>,
    /// Sum of the capacities of `bufs`.
    bytes: u64,
}

impl Pool {
    /// An empty pool holding at most `max_bytes` of capacity in at most `max_buffers` buffers.
    pub const fn new(max_bytes: u64, max_buffers: usize) -> Pool {
        Pool {
            free: Mutex::new(Free { bufs: Vec::new(), bytes: 0 }),
            max_bytes,
            max_buffers,
            reuses: AtomicU64::new(0),
            recycled: AtomicU64::new(0),
        }
    }

    /// An empty buffer of capacity at least `len` and at most `len` plus a quarter (so a cache
    /// charged its capacity is not charged much beyond its bytes), if the pool has one: the
    /// smallest that fits.
    pub fn take(&self, len: usize) -> Option<Vec<u8>> {
        if !(MIN_KEPT..=MAX_KEPT).contains(&len) {
            return None;
        }
        let most = len + len / 4;
        let mut free = self.free.lock();
        let (i, _) = free
            .bufs
            .iter()
            .enumerate()
            .filter(|(_, b)| (len..=most).contains(&b.capacity()))
            .min_by_key(|(_, b)| b.capacity())?;
        let v = free.bufs.remove(i);
        free.bytes -= v.capacity() as u64;
        drop(free);
        self.reuses.fetch_add(1, Ordering::Relaxed);
        Some(v)
    }

    /// Keeps `v` for reuse, emptied; frees it instead when its capacity is outside
    /// [`MIN_KEPT`]..=[`MAX_KEPT`], and frees the oldest buffers when the pool would exceed its
    /// bounds.
    pub fn give(&self, mut v: Vec<u8>) {
        let cap = v.capacity();
        if !(MIN_KEPT..=MAX_KEPT).contains(&cap) || cap as u64 > self.max_bytes || self.max_buffers == 0 {
            return;
        }
        v.clear();
        let mut dropped = Vec::new();
        {
            let mut free = self.free.lock();
            while free.bufs.len() >= self.max_buffers || free.bytes + cap as u64 > self.max_bytes {
                let old = free.bufs.remove(0);
                free.bytes -= old.capacity() as u64;
                dropped.push(old);
            }
            free.bytes += cap as u64;
            free.bufs.push(v);
        }
        self.recycled.fetch_add(1, Ordering::Relaxed);
        drop(dropped); // freed outside the lock
    }

    /// Capacity held, and buffers held.
    pub fn held(&self) -> (u64, usize) {
        let free = self.free.lock();
        (free.bytes, free.bufs.len())
    }
}

/// The process-wide pool of segment buffers.
pub static BUFFERS: Pool = Pool::new(MAX_POOL_BYTES, MAX_BUFFERS);

/// An empty buffer for `len` bytes: a recycled one (its pages already present), else a fresh
/// one whose pages are made present at once (`madvise(MADV_POPULATE_WRITE)`).
pub fn buffer(len: usize) -> Vec<u8> {
    if let Some(v) = BUFFERS.take(len) {
        return v;
    }
    let v = Vec::with_capacity(len);
    crate::util::memhint::populate(&v);
    v
}

/// Gives the memory of `bytes` (the cache's `Bytes`) to the pool when this is its last holder
/// (else the other holders keep it, and the last one's release frees it as before).
pub fn recycle(bytes: Arc<Vec<u8>>) {
    recycle_to(&BUFFERS, bytes);
}

fn recycle_to(pool: &Pool, bytes: Arc<Vec<u8>>) {
    if let Some(v) = Arc::into_inner(bytes) {
        pool.give(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: usize = 1 << 20;

    fn filled(cap: usize, byte: u8) -> Vec<u8> {
        let mut v = Vec::with_capacity(cap);
        v.resize(cap, byte);
        v
    }

    #[test]
    fn a_recycled_buffer_comes_back_empty_and_is_the_same_memory() {
        let pool = Pool::new(8 * MB as u64, 8);
        let v = filled(MB, 0xAB);
        let ptr = v.as_ptr();
        pool.give(v);
        let again = pool.take(MB - 1000).expect("a buffer that fits");
        assert_eq!(again.as_ptr(), ptr, "the same memory, not a fresh allocation");
        assert!(again.is_empty(), "a reused buffer shows none of its old bytes");
        assert_eq!(pool.held(), (0, 0));
        assert_eq!(pool.reuses.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_buffer_much_larger_than_asked_is_not_handed_out() {
        let pool = Pool::new(8 * MB as u64, 8);
        pool.give(filled(2 * MB, 1));
        assert!(pool.take(MB).is_none(), "2 MB for 1 MB would charge the cache twice the bytes");
        assert!(pool.take(3 * MB).is_none(), "too small");
        assert!(pool.take(2 * MB - 100_000).is_some());
    }

    #[test]
    fn the_pool_never_holds_more_than_its_bounds() {
        let pool = Pool::new(5 * MB as u64, 3);
        for i in 0..100 {
            pool.give(filled(MB + i * 4096, 0));
            let (bytes, n) = pool.held();
            assert!(bytes <= 5 * MB as u64 && n <= 3, "{bytes} bytes in {n} buffers");
        }
        let pool = Pool::new(3 * MB as u64 + 1, 64);
        for _ in 0..10 {
            pool.give(filled(MB, 0));
        }
        assert_eq!(pool.held(), (3 * MB as u64, 3));
        // Too small, too large, and larger than the whole bound are freed, not kept.
        pool.give(filled(1000, 0));
        pool.give(filled(MAX_KEPT + 1, 0));
        assert_eq!(pool.held(), (3 * MB as u64, 3));
        let small = Pool::new(MB as u64 / 2, 8);
        small.give(filled(MB, 0));
        assert_eq!(small.held(), (0, 0), "a buffer larger than the whole bound is freed");
    }

    #[test]
    fn accounting_stays_exact_over_many_cycles_from_many_threads() {
        let pool = Pool::new(16 * MB as u64, 16);
        std::thread::scope(|s| {
            for t in 0..4u64 {
                let pool = &pool;
                s.spawn(move || {
                    let mut seed = t * 7919 + 1;
                    let mut mine: Vec<Vec<u8>> = Vec::new();
                    for _ in 0..2000 {
                        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        let len = MIN_KEPT + (seed >> 33) as usize % (2 * MB);
                        if seed & 1 == 0 || mine.is_empty() {
                            let mut v = pool.take(len).unwrap_or_else(|| Vec::with_capacity(len));
                            assert!(v.is_empty() && v.capacity() >= len);
                            v.extend(std::iter::repeat_n(t as u8, len));
                            mine.push(v);
                        } else {
                            let v = mine.swap_remove((seed >> 20) as usize % mine.len());
                            assert!(v.iter().all(|&b| b == t as u8), "a buffer held by one user changed");
                            pool.give(v);
                        }
                    }
                });
            }
        });
        let free = pool.free.lock();
        assert_eq!(free.bytes, free.bufs.iter().map(|b| b.capacity() as u64).sum::<u64>());
        assert!(free.bytes <= 16 * MB as u64 && free.bufs.len() <= 16);
        assert!(pool.reuses.load(Ordering::Relaxed) > 0, "buffers were reused");
    }

    #[test]
    fn a_buffer_still_held_elsewhere_is_not_recycled_until_its_last_holder_lets_go() {
        let pool = Pool::new(8 * MB as u64, 8);
        let b = Arc::new(filled(MB, 3));
        let other = b.clone();
        recycle_to(&pool, b);
        assert_eq!(pool.held(), (0, 0), "another holder still reads it");
        assert!(other.len() == MB && other.iter().all(|&x| x == 3), "the other holder's bytes are untouched");
        recycle_to(&pool, other);
        assert_eq!(pool.held(), (MB as u64, 1));
    }
}
