//! The context-wide response cache: a sharded LRU with an exact byte budget, and single-flight
//! generation so that concurrent misses for one key generate it once.
//!
//! Accounting is by construction: a shard's byte count changes only where an entry enters or
//! leaves its LRU, in the same critical section, so it always equals the sum of live entries.
//! Eviction pops the least-recently-used entry (O(1)); nothing scans or sorts. Generation runs
//! with no cache lock held. Cached values are shared (`Arc`): a hit hands out a reference, and an
//! evicted entry stays alive for as long as a caller still holds it. A value is charged its real
//! size ([`Charge`]): a segment held as headers and file ranges costs its headers, not its
//! payload.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use lru::LruCache;
use parking_lot::{Condvar, Mutex};

use crate::error::Result;

/// Bytes of one response, shared without copying: the generated `Vec` moves in as is (no copy
/// into a new allocation), and every holder shares it.
pub type Bytes = Arc<Vec<u8>>;

/// What a cached value costs the budget: its real size in memory.
pub trait Charge: Sized {
    /// Bytes charged to the budget.
    fn charge(&self) -> u64;

    /// What becomes of a value the cache lets go of (evicted or replaced): dropped, unless the
    /// value says otherwise (bytes go back to the buffer pool, [`crate::engine::pool`]).
    fn retire(self) {}
}

impl Charge for Bytes {
    /// The buffer's capacity: what it holds in memory (a recycled buffer may be a little larger
    /// than its bytes).
    fn charge(&self) -> u64 {
        self.capacity() as u64
    }

    fn retire(self) {
        crate::engine::pool::recycle(self);
    }
}

const SHARDS: usize = 8;

struct Shard<K, V> {
    lru: LruCache<K, V>,
    bytes: u64,
}

/// One in-progress generation that other requesters wait for.
struct Flight<V> {
    done: Mutex<Option<Result<V>>>,
    cond: Condvar,
}

/// Counters exposed by the stats call.
#[derive(Default)]
pub struct CacheCounters {
    /// Requests answered from the cache.
    pub hits: AtomicU64,
    /// Requests that were not in the cache: `misses == generations + shared_waits` exactly.
    pub misses: AtomicU64,
    /// Generations run (one per distinct miss).
    pub generations: AtomicU64,
    /// Entries evicted to stay within the budget.
    pub evictions: AtomicU64,
    /// Requests that waited for another thread's generation.
    pub shared_waits: AtomicU64,
}

/// A byte-budgeted LRU with single-flight fill; values are charged what [`Charge`] says.
pub struct Cache<K: Hash + Eq + Clone, V: Clone + Charge = Bytes> {
    shards: Vec<Mutex<Shard<K, V>>>,
    shard_budget: u64,
    flights: Mutex<HashMap<K, Arc<Flight<V>>>>,
    /// Counters.
    pub counters: CacheCounters,
}

/// Snapshot of the cache's size.
#[derive(Clone, Copy, Debug, Default)]
pub struct CacheSize {
    /// Bytes of live entries.
    pub bytes: u64,
    /// Number of live entries.
    pub entries: u64,
}

impl<K: Hash + Eq + Clone, V: Clone + Charge> Cache<K, V> {
    /// A cache holding at most `budget` bytes in total.
    pub fn new(budget: u64) -> Cache<K, V> {
        Cache {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard { lru: LruCache::unbounded(), bytes: 0 })).collect(),
            shard_budget: budget / SHARDS as u64,
            flights: Mutex::new(HashMap::new()),
            counters: CacheCounters::default(),
        }
    }

    fn shard(&self, key: &K) -> &Mutex<Shard<K, V>> {
        let mut h = DefaultHasher::new();
        key.hash(&mut h);
        &self.shards[(h.finish() as usize) % SHARDS]
    }

    /// Cached value for `key`, marking it recently used.
    pub fn get(&self, key: &K) -> Option<V> {
        self.shard(key).lock().lru.get(key).cloned()
    }

    /// Whether `key` is cached (neither marked recently used nor counted).
    pub fn contains(&self, key: &K) -> bool {
        self.shard(key).lock().lru.contains(key)
    }

    /// Cached value for `key`, marking it recently used and counting a hit when found (a miss
    /// is not counted: the caller goes on to [`Cache::get_or_generate`], which counts it).
    pub fn get_counted(&self, key: &K) -> Option<V> {
        let hit = self.get(key);
        if hit.is_some() {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Inserts `value`, evicting least-recently-used entries of its shard to stay within budget.
    /// Values larger than a shard's budget are not cached.
    pub fn insert(&self, key: K, value: V) {
        let size = value.charge();
        if size > self.shard_budget {
            return;
        }
        let mut gone = Vec::new();
        {
            let mut shard = self.shard(&key).lock();
            if let Some(old) = shard.lru.pop(&key) {
                shard.bytes -= old.charge();
                gone.push(old);
            }
            while shard.bytes + size > self.shard_budget {
                match shard.lru.pop_lru() {
                    Some((_, old)) => {
                        shard.bytes -= old.charge();
                        self.counters.evictions.fetch_add(1, Ordering::Relaxed);
                        gone.push(old);
                    }
                    None => break,
                }
            }
            shard.bytes += size;
            shard.lru.put(key, value);
        }
        // Outside the shard's lock.
        gone.into_iter().for_each(Charge::retire);
    }

    /// Returns the cached value or generates it once for all concurrent callers of the same key.
    /// `generate` runs on the calling thread with no cache lock held.
    pub fn get_or_generate(&self, key: &K, generate: impl FnOnce() -> Result<V>) -> Result<V> {
        if let Some(hit) = self.get(key) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(hit);
        }
        self.fly(key, true, generate)
    }

    /// Runs `work` once for all concurrent callers of `key`: the others wait for it and get its
    /// result. Nothing is looked up or kept under `key`, and nothing is counted: for work that
    /// caches its results itself, under other keys (one read that fills several entries).
    pub fn run_once(&self, key: &K, work: impl FnOnce() -> Result<V>) -> Result<V> {
        self.fly(key, false, work)
    }

    /// The flight of `key`: `work` run by the first caller (the leader), the others waiting for
    /// its result. `cached`: a generation, looked up again under the flights lock, counted, and
    /// its result cached under `key`.
    fn fly(&self, key: &K, cached: bool, work: impl FnOnce() -> Result<V>) -> Result<V> {
        let (flight, leader) = {
            let mut flights = self.flights.lock();
            if cached {
                // Re-check under the flights lock: a leader inserts into the cache before it
                // removes its flight, so a key is always either cached, in flight, or truly
                // missing here.
                if let Some(hit) = self.get(key) {
                    self.counters.hits.fetch_add(1, Ordering::Relaxed);
                    return Ok(hit);
                }
                // A miss: this request either generates (leader) or waits for the one generating.
                self.counters.misses.fetch_add(1, Ordering::Relaxed);
            }
            match flights.get(key) {
                Some(f) => (f.clone(), false),
                None => {
                    let f = Arc::new(Flight { done: Mutex::new(None), cond: Condvar::new() });
                    flights.insert(key.clone(), f.clone());
                    (f, true)
                }
            }
        };
        if !leader {
            if cached {
                self.counters.shared_waits.fetch_add(1, Ordering::Relaxed);
            }
            let mut done = flight.done.lock();
            while done.is_none() {
                flight.cond.wait(&mut done);
            }
            return done.clone().unwrap_or_else(|| Err(crate::error::Error::internal("generation vanished")));
        }
        if cached {
            self.counters.generations.fetch_add(1, Ordering::Relaxed);
        }
        // Finish the flight even if `work` panics, so waiters are never stranded.
        let guard = FlightGuard { cache: self, key, flight: &flight, cached, result: None };
        let result = work();
        let mut guard = guard;
        guard.result = Some(result.clone());
        drop(guard);
        result
    }

    /// Current bytes and entries (sum over shards).
    pub fn size(&self) -> CacheSize {
        self.shards.iter().fold(CacheSize::default(), |acc, s| {
            let s = s.lock();
            CacheSize { bytes: acc.bytes + s.bytes, entries: acc.entries + s.lru.len() as u64 }
        })
    }

    /// The configured budget (sum of shard budgets).
    pub fn budget(&self) -> u64 {
        self.shard_budget * SHARDS as u64
    }
}

struct FlightGuard<'a, K: Hash + Eq + Clone, V: Clone + Charge> {
    cache: &'a Cache<K, V>,
    key: &'a K,
    flight: &'a Arc<Flight<V>>,
    /// Whether a successful result is cached under `key`.
    cached: bool,
    result: Option<Result<V>>,
}

impl<K: Hash + Eq + Clone, V: Clone + Charge> Drop for FlightGuard<'_, K, V> {
    fn drop(&mut self) {
        let result = self
            .result
            .take()
            .unwrap_or_else(|| Err(crate::error::Error::new(crate::error::ErrorKind::Panic, "generation panicked")));
        if let (true, Ok(bytes)) = (self.cached, &result) {
            self.cache.insert(self.key.clone(), bytes.clone());
        }
        self.cache.flights.lock().remove(self.key);
        *self.flight.done.lock() = Some(result);
        self.flight.cond.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn bytes(n: usize) -> Bytes {
        Arc::new(vec![7u8; n])
    }

    #[test]
    fn budget_is_exact_and_eviction_is_lru() {
        let c: Cache<u32> = Cache::new(8 * 100);
        for k in 0..1000u32 {
            c.insert(k, bytes(30 + (k as usize % 40)));
            let s = c.size();
            assert!(s.bytes <= c.budget());
            let sum: u64 = c.shards.iter().map(|s| s.lock().lru.iter().map(|(_, v)| v.charge()).sum::<u64>()).sum();
            assert_eq!(s.bytes, sum);
        }
        assert!(c.counters.evictions.load(Ordering::Relaxed) > 0);
        assert!(c.get(&999).is_some());
    }

    #[test]
    fn held_bytes_survive_eviction() {
        let c: Cache<u32> = Cache::new(8 * 10);
        c.insert(1, bytes(10));
        let held = c.get(&1).unwrap();
        for k in 2..100 {
            c.insert(k, bytes(10));
        }
        assert_eq!(held.len(), 10);
        assert!(held.iter().all(|&b| b == 7));
    }

    /// `call` (a cache call given the work to do, which lasts 50 ms and counts its runs) made
    /// by 16 threads at once: the lengths they got, and how often the work ran.
    fn at_once(
        c: &Cache<u32>,
        call: impl Fn(&Cache<u32>, &dyn Fn() -> Result<Bytes>) -> Result<Bytes> + Sync,
    ) -> (Vec<usize>, usize) {
        let runs = AtomicUsize::new(0);
        let work = || {
            runs.fetch_add(1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(50));
            Ok(bytes(64))
        };
        let lens = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16).map(|_| s.spawn(|| call(c, &work).unwrap().len())).collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        (lens, runs.load(Ordering::SeqCst))
    }

    #[test]
    fn concurrent_misses_generate_once() {
        let c: Cache<u32> = Cache::new(1 << 20);
        let (lens, runs) = at_once(&c, |c, work| c.get_or_generate(&5, work));
        assert!(lens.iter().all(|&n| n == 64));
        assert_eq!(runs, 1);
        assert_eq!(c.counters.generations.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn work_run_once_for_concurrent_callers_keeps_nothing_under_its_key() {
        let c: Cache<u32> = Cache::new(1 << 20);
        // The work fills another entry itself.
        let (lens, runs) = at_once(&c, |c, work| {
            c.run_once(&9, || {
                c.insert(10, bytes(8));
                work()
            })
        });
        assert!(lens.iter().all(|&n| n == 64), "every caller gets the leader's result");
        assert_eq!(runs, 1);
        assert!(c.get(&9).is_none(), "nothing kept under the flight's key");
        assert_eq!(c.get(&10).map(|b| b.len()), Some(8));
        assert!(c.flights.lock().is_empty());
        let counted = |x: &AtomicU64| x.load(Ordering::Relaxed);
        assert_eq!((counted(&c.counters.misses), counted(&c.counters.generations)), (0, 0));
        assert_eq!(c.run_once(&9, || Ok(bytes(1))).unwrap().len(), 1, "a later call runs its own work");
    }

    #[test]
    fn oversized_values_are_not_cached() {
        let c: Cache<u32> = Cache::new(80);
        c.insert(1, bytes(11));
        assert!(c.get(&1).is_none());
        assert_eq!(c.size().bytes, 0);
    }
}
