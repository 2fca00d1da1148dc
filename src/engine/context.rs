//! The engine shared by every thread of a server: configuration, the registry of opened media
//! (single-flight opens, idle retention) and the response cache (single-flight generation).

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use lru::LruCache;
use parking_lot::{Condvar, Mutex};

use crate::container::read::{thread_reads, ByteSource, CallbackSource, SourceCache};
use crate::engine::body::{Body, Parts};
use crate::engine::cache::{Bytes, Cache};
use crate::engine::index_dir::{IndexDir, IndexDirCounters, IndexOrigin};
use crate::engine::media::{self, Cost, Media};
use crate::error::{Error, Result};
use crate::model::config::Config;
use crate::model::identity::FileIdentity;
use crate::model::names::{Resource, TrackId};
use crate::model::open::{Location, MediaKey, OpenOptions};

/// Cache key: one version of one file, how it is presented (its open options), a resource
/// name, and which form is cached: the form generation gives (bytes, or headers and file
/// ranges) or, for `hls_get` callers of a segment held as ranges, its bytes read once (so that
/// their cache hits stay a reference count).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    identity: FileIdentity,
    options: Arc<OpenOptions>,
    resource: Resource,
    form: Form,
}

/// What a [`Key`] stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Form {
    /// The resource as generated: bytes, or headers and file ranges.
    Generated,
    /// A resource generated as file ranges, read into bytes.
    Bytes,
    /// Never an entry: the one read that brings a media segment of several tracks into bytes
    /// together ([`Context::get_body_small_as_bytes`]), which concurrent requests for any of
    /// them wait for.
    SegmentRead,
}

impl Key {
    /// The key of `resource` of `media` as generated.
    fn generated(media: &Media, resource: Resource) -> Key {
        Key::of(media, resource, Form::Generated)
    }

    /// The key of the bytes of `resource` of `media` (generated as file ranges).
    fn bytes(media: &Media, resource: Resource) -> Key {
        Key::of(media, resource, Form::Bytes)
    }

    /// The flight key of the read of media segment `k` of `media`'s tracks together.
    fn segment_read(media: &Media, k: usize) -> Key {
        Key::of(media, Resource::Segment(TrackId::source(0), k), Form::SegmentRead)
    }

    fn of(media: &Media, resource: Resource, form: Form) -> Key {
        Key { identity: media.index.identity, options: media.key.options.clone(), resource, form }
    }
}

/// One indexing in progress: concurrent openers of the same file wait for its result.
struct OpenFlight {
    identity: FileIdentity,
    result: Mutex<Option<Result<Arc<Media>>>>,
    done: Condvar,
}

impl OpenFlight {
    fn wait(&self) -> Result<Arc<Media>> {
        let mut r = self.result.lock();
        while r.is_none() {
            self.done.wait(&mut r);
        }
        r.clone().unwrap_or_else(|| Err(Error::internal("open vanished")))
    }
}

enum Slot {
    /// Being indexed by one thread; others wait for its result (and share it).
    Opening(Arc<OpenFlight>),
    /// Indexed; shared by every handle (the registry itself holds only a weak reference).
    Ready(Weak<Media>),
}

struct Registry {
    live: HashMap<MediaKey, Slot>,
    /// Closed media kept indexed for reuse: most recently closed last; bounded by count and age.
    idle: LruCache<MediaKey, (Arc<Media>, Instant)>,
}

/// Engine counters for the stats call.
#[derive(Default)]
struct OpenCounters {
    opens: AtomicU64,
    indexings: AtomicU64,
    reuses: AtomicU64,
    index_time_us: AtomicU64,
    /// Times a key provider was asked (once per media and rendition opened with one).
    key_requests: AtomicU64,
    /// Opens that failed for want of a key.
    key_failures: AtomicU64,
    /// Encrypted resources generated (segments, I-frames, WebVTT segments).
    encrypted_generations: AtomicU64,
    /// Reads of responses held as file ranges into bytes (one read for the same segment of
    /// several tracks read together).
    range_reads: AtomicU64,
    // --- clip ---
    /// Opens of clipped presentations (counted in `opens` too).
    clip_opens: AtomicU64,
    /// Reads of caller-supplied sources (opens and segments).
    source_reads: AtomicU64,
    /// Bytes read from caller-supplied sources.
    source_bytes: AtomicU64,
}

/// A libhls engine.
pub struct Context {
    /// Settings, fixed at creation.
    pub config: Config,
    cache: Cache<Key, Body>,
    registry: Mutex<Registry>,
    counters: OpenCounters,
    /// Where indexes are persisted (`hls_config_set_index_dir`).
    index_dir: Option<IndexDir>,
    /// The block cache of caller-supplied sources' bytes (none when its budget is 0).
    source_cache: Option<Arc<SourceCache>>,
}

/// The list of closed media kept indexed, holding at most `max` entries. Its memory grows with
/// what it holds: `LruCache::new` would reserve room for `max` entries at once (68 GB for the
/// `u32::MAX` a caller may configure).
fn idle_list(max: NonZeroUsize) -> LruCache<MediaKey, (Arc<Media>, Instant)> {
    let mut idle = LruCache::unbounded();
    idle.resize(max);
    idle
}

impl Context {
    /// A context with `config`.
    pub fn new(config: Config) -> Context {
        crate::container::demux::init_ffmpeg();
        let idle = NonZeroUsize::new(config.idle_media_max.max(1)).unwrap_or(NonZeroUsize::MIN);
        Context {
            cache: Cache::new(config.cache_bytes),
            registry: Mutex::new(Registry { live: HashMap::new(), idle: idle_list(idle) }),
            counters: OpenCounters::default(),
            index_dir: IndexDir::of(&config),
            source_cache: (config.source_cache_bytes > 0)
                .then(|| Arc::new(SourceCache::new(config.source_cache_bytes))),
            config,
        }
    }

    /// Opens `path` with the default options (the whole file, in the clear).
    pub fn open(&self, path: &Path) -> Result<Arc<Media>> {
        self.open_with(path, &OpenOptions::default())
    }

    /// Opens `path` as `options` say: concurrent opens of one file with equal options index it
    /// once; an already indexed, unchanged file costs one `stat`.
    pub fn open_with(&self, path: &Path, options: &OpenOptions) -> Result<Arc<Media>> {
        self.counters.opens.fetch_add(1, Ordering::Relaxed);
        if options.clip.is_some() {
            self.counters.clip_opens.fetch_add(1, Ordering::Relaxed);
        }
        let identity = FileIdentity::of(path)?;
        let key = MediaKey { location: Location::Path(path.to_path_buf()), options: Arc::new(options.clone()) };
        self.open_key(key, identity, None)
    }

    /// The block cache that caller-supplied sources of this context read through (give it to
    /// [`CallbackSource::new`]); none when its budget is 0.
    pub fn source_cache(&self) -> Option<Arc<SourceCache>> {
        self.source_cache.clone()
    }

    /// The media of `path` with `options` if an open would cost no indexing: it is indexed
    /// already (open, or idle) and unchanged on disk (one `stat`, no read of the file); `None`
    /// otherwise (not indexed yet, changed, or being indexed by another thread). Counted as an
    /// open when found.
    pub fn open_indexed(&self, path: &Path, options: &OpenOptions) -> Result<Option<Arc<Media>>> {
        self.open_indexed_as(path, options, FileIdentity::of(path)?)
    }

    /// [`Context::open_indexed`] with the identity a `stat` of `path` by the caller gave just now
    /// (a server that has `stat`ed the file for its own checks), instead of a second `stat`:
    /// `None` unless the media indexed is that version of the file.
    pub fn open_indexed_as(
        &self,
        path: &Path,
        options: &OpenOptions,
        identity: FileIdentity,
    ) -> Result<Option<Arc<Media>>> {
        let key = MediaKey { location: Location::Path(path.to_path_buf()), options: Arc::new(options.clone()) };
        let mut reg = self.registry.lock();
        let live = match reg.live.get(&key) {
            Some(Slot::Ready(w)) => w.upgrade().filter(|m| m.index.identity == identity && !m.index_damaged()),
            _ => None,
        };
        let found = match live {
            Some(m) => Some(m),
            None => match reg.idle.peek(&key) {
                Some((m, _)) if m.index.identity == identity && !m.index_damaged() => {
                    let m = m.clone();
                    reg.idle.pop(&key);
                    reg.live.insert(key, Slot::Ready(Arc::downgrade(&m)));
                    Some(m)
                }
                _ => None,
            },
        };
        if found.is_some() {
            self.counters.opens.fetch_add(1, Ordering::Relaxed);
            self.counters.reuses.fetch_add(1, Ordering::Relaxed);
            if options.clip.is_some() {
                self.counters.clip_opens.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(found)
    }

    /// Opens a caller-supplied source as `options` say. The registry knows it by its identity
    /// string: an open of an identity already open (or idle) shares that presentation, and
    /// `src` is dropped (its release called) at once; a new identity is a new presentation.
    pub fn open_source(&self, src: Arc<CallbackSource>, options: &OpenOptions) -> Result<Arc<Media>> {
        self.counters.opens.fetch_add(1, Ordering::Relaxed);
        let identity = FileIdentity::of_source(src.identity(), src.size());
        let key =
            MediaKey { location: Location::Source(src.identity().to_string()), options: Arc::new(options.clone()) };
        self.open_key(key, identity, Some(ByteSource::Callback(src)))
    }

    /// The single-flight open of `key` (whose current identity is `identity`); `input` is the
    /// caller-supplied source of a [`Location::Source`].
    fn open_key(&self, key: MediaKey, identity: FileIdentity, input: Option<ByteSource>) -> Result<Arc<Media>> {
        let flight = {
            let mut reg = self.registry.lock();
            if let Some((m, _)) = reg.idle.pop(&key) {
                if m.index.identity == identity && !m.index_damaged() {
                    reg.live.insert(key.clone(), Slot::Ready(Arc::downgrade(&m)));
                    self.counters.reuses.fetch_add(1, Ordering::Relaxed);
                    return Ok(m);
                }
            }
            match reg.live.get(&key) {
                Some(Slot::Ready(w)) => {
                    if let Some(m) = w.upgrade().filter(|m| m.index.identity == identity && !m.index_damaged()) {
                        self.counters.reuses.fetch_add(1, Ordering::Relaxed);
                        return Ok(m);
                    }
                }
                Some(Slot::Opening(f)) if f.identity == identity => {
                    let f = f.clone();
                    drop(reg);
                    self.counters.reuses.fetch_add(1, Ordering::Relaxed);
                    return f.wait();
                }
                _ => {}
            }
            let f = Arc::new(OpenFlight { identity, result: Mutex::new(None), done: Condvar::new() });
            reg.live.insert(key.clone(), Slot::Opening(f.clone()));
            f
        };
        let started = Instant::now();
        let (r0, b0) = thread_reads();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            media::open(&key, identity, input, &self.config, self.index_dir.as_ref())
        }))
        .unwrap_or_else(|_| Err(Error::new(crate::error::ErrorKind::Panic, "panic while indexing")));
        self.count_source_reads(r0, b0);
        if result.as_ref().map_or(true, |m| !matches!(m.origin, IndexOrigin::Disk(_))) {
            self.counters.indexings.fetch_add(1, Ordering::Relaxed);
        }
        self.counters.index_time_us.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        match &result {
            Ok(m) => self.counters.key_requests.fetch_add(m.key_requests, Ordering::Relaxed),
            Err(e) if e.kind == crate::error::ErrorKind::KeyUnavailable => {
                self.counters.key_failures.fetch_add(1, Ordering::Relaxed)
            }
            Err(_) => 0,
        };
        {
            let mut reg = self.registry.lock();
            let ours = matches!(reg.live.get(&key), Some(Slot::Opening(f)) if Arc::ptr_eq(f, &flight));
            match &result {
                Ok(m) if ours => {
                    reg.live.insert(key, Slot::Ready(Arc::downgrade(m)));
                }
                Err(_) if ours => {
                    reg.live.remove(&key);
                }
                _ => {}
            }
        }
        *flight.result.lock() = Some(result.clone());
        flight.done.notify_all();
        if let Err(e) = &result {
            log::debug!("open failed: {e}");
        }
        result
    }

    /// Called when a handle is closed: if it was the last handle, the media stays indexed in the
    /// idle list (bounded by count and age) instead of being dropped at once.
    pub fn release(&self, media: Arc<Media>) {
        let mut reg = self.registry.lock();
        // Another handle or a generation in progress still holds it: nothing to do.
        if Arc::strong_count(&media) > 1 {
            return;
        }
        let key = media.key.clone();
        let ttl = self.config.idle_media_ttl;
        // Age out from the cold end only: O(1) per expired entry, no sweep of everything.
        let mut dropped = Vec::new();
        while let Some((_, (_, closed))) = reg.idle.peek_lru() {
            if closed.elapsed() < ttl {
                break;
            }
            dropped.extend(reg.idle.pop_lru());
        }
        if ttl.is_zero() {
            // Nothing is kept: this is the last handle (it drops on return), so forget its slot
            // now, or every distinct path ever opened would keep an entry.
            if matches!(reg.live.get(&key), Some(Slot::Ready(w)) if w.ptr_eq(&Arc::downgrade(&media))) {
                reg.live.remove(&key);
            }
        } else {
            dropped.extend(reg.idle.push(key, (media, Instant::now())));
        }
        for (key, (m, _)) in dropped {
            drop(m);
            // Forget the registry slot of media nobody holds any more.
            if matches!(reg.live.get(&key), Some(Slot::Ready(w)) if w.strong_count() == 0) {
                reg.live.remove(&key);
            }
        }
    }

    /// Serves one resource of `media` through the cache, as bytes: a segment held as file
    /// ranges is read once (positioned reads, identity checked; concurrent requests wait for
    /// that one read) and its bytes cached beside its ranges, so a hit hands out a reference as
    /// for any other resource.
    pub fn get(&self, media: &Media, name: &str) -> Result<(Bytes, &'static str)> {
        let resource = Resource::parse(name)?;
        let bytes_key = Key::bytes(media, resource);
        if let Some(Body::Bytes(b)) = self.cache.get_counted(&bytes_key) {
            return Ok((b, media.content_type(&resource)));
        }
        let (body, ct) = self.get_body(media, name)?;
        match body {
            Body::Bytes(b) => Ok((b, ct)),
            parts => Ok((self.read_once(media, &bytes_key, parts)?, ct)),
        }
    }

    /// The bytes of `parts` (a response held as file ranges, whose bytes are cached under
    /// `bytes_key`): from the cache, or read by one of the threads asking at once.
    fn read_once(&self, media: &Media, bytes_key: &Key, parts: Body) -> Result<Bytes> {
        let body = self.cache.get_or_generate(bytes_key, || {
            self.counters.range_reads.fetch_add(1, Ordering::Relaxed);
            media.materialise(parts).map(Body::Bytes)
        })?;
        match body {
            Body::Bytes(b) => Ok(b),
            Body::Parts(_) => Err(Error::internal("bytes cached as ranges")),
        }
    }

    /// Serves one resource of `media` through the cache, as it is held: bytes, or headers and
    /// ranges of the file (send them from [`Media::checked_file`], which checks the file first).
    pub fn get_body(&self, media: &Media, name: &str) -> Result<(Body, &'static str)> {
        let resource = Resource::parse(name)?;
        media.check_named(&resource, name)?;
        let key = Key::generated(media, resource);
        let (r0, b0) = thread_reads();
        let body = self
            .cache
            .get_or_generate(&key, || {
                let body = media.generate(&resource)?;
                if media.is_encrypted(&resource) {
                    self.counters.encrypted_generations.fetch_add(1, Ordering::Relaxed);
                }
                Ok(body)
            })
            .inspect_err(|_| {
                if media.index_damaged() {
                    self.forget_damaged(media);
                }
            });
        self.count_source_reads(r0, b0);
        Ok((body?, media.content_type(&resource)))
    }

    /// As [`Context::get_body`], except that a media segment whose file ranges average fewer
    /// than `min_range` bytes (samples interleaved one by one: hundreds of small ranges per
    /// segment, which a server would otherwise read again on every request) is bytes: read
    /// once (positioned reads, identity checked) and cached as bytes beside its ranges, charged
    /// to the cache budget like any other bytes. The same segment of the other tracks whose
    /// ranges are small too comes in with that read (`Context::segment_read`), so the
    /// player's next requests are hits; requests for any of them while it runs wait for it. A
    /// hit is one lookup. `min_range` 0: as [`Context::get_body`].
    pub fn get_body_small_as_bytes(&self, media: &Media, name: &str, min_range: u64) -> Result<(Body, &'static str)> {
        if min_range == 0 {
            return self.get_body(media, name);
        }
        let resource = Resource::parse(name)?;
        let bytes_key = Key::bytes(media, resource);
        if matches!(resource, Resource::Segment(..)) {
            if let Some(body @ Body::Bytes(_)) = self.cache.get_counted(&bytes_key) {
                return Ok((body, media.content_type(&resource)));
            }
        }
        let (body, ct) = self.get_body(media, name)?;
        let Body::Parts(p) = &body else { return Ok((body, ct)) };
        if !p.small_ranges(min_range) {
            return Ok((body, ct));
        }
        if let (Resource::Segment(_, k), true) = (resource, self.cache.budget() > 0) {
            let mut mine = None;
            self.cache.run_once(&Key::segment_read(media, k), || {
                // A read of this segment that ended between the lookup above and this flight
                // brought these bytes in with it: no second read.
                let own = match self.cache.get_counted(&bytes_key) {
                    Some(Body::Bytes(b)) => b,
                    _ => self.segment_read(media, resource, p, min_range)?,
                };
                mine = Some(own.clone());
                Ok(Body::Bytes(own))
            })?;
            if let Some(own) = mine {
                return Ok((Body::Bytes(own), ct));
            }
            // Another thread's read of this segment: its bytes came with it (unless evicted
            // since, or that read's tracks were not this one's).
            if let Some(hit @ Body::Bytes(_)) = self.cache.get_counted(&bytes_key) {
                return Ok((hit, ct));
            }
        }
        Ok((Body::Bytes(self.read_once(media, &bytes_key, body)?), ct))
    }

    /// Reads `own` (`resource` of `media`, held as small file ranges) into bytes together
    /// with the same segment of the other tracks whose ranges are small too and whose bytes
    /// are not cached (a file that interleaves its tracks sample by sample stores them among
    /// the segment's own samples, so one read brings them in with it), caches them all, and
    /// returns `own`'s bytes.
    fn segment_read(&self, media: &Media, resource: Resource, own: &Arc<Parts>, min_range: u64) -> Result<Bytes> {
        let siblings = self.small_siblings(media, resource, min_range);
        let mut all = vec![&**own];
        all.extend(siblings.iter().map(|(_, s)| &**s));
        self.counters.range_reads.fetch_add(1, Ordering::Relaxed);
        let mut bytes = media.materialise_all(&all)?.into_iter();
        let own = bytes.next().ok_or_else(|| Error::internal("no bytes"))?;
        for ((r, _), b) in siblings.iter().zip(bytes) {
            self.cache.insert(Key::bytes(media, *r), Body::Bytes(b));
        }
        self.cache.insert(Key::bytes(media, resource), Body::Bytes(own.clone()));
        Ok(own)
    }

    /// The same segment of the other tracks, when its ranges are small too and its bytes not
    /// cached. Nothing when the cache keeps nothing.
    fn small_siblings(&self, media: &Media, resource: Resource, min_range: u64) -> Vec<(Resource, Arc<Parts>)> {
        let Resource::Segment(n, k) = resource else { return Vec::new() };
        if self.cache.budget() == 0 {
            return Vec::new();
        }
        media
            .segment_siblings(n, k)
            .into_iter()
            .filter(|r| !self.cache.contains(&Key::bytes(media, *r)))
            .filter_map(|r| match media.generate(&r) {
                Ok(Body::Parts(p)) if p.small_ranges(min_range) => Some((r, p)),
                _ => None,
            })
            .collect()
    }

    /// What serving `name` of `media` costs now (see [`Cost`]): `NotFound` for a name its
    /// playlists do not name. Generates nothing and does not mark the cache entry used.
    pub fn cost(&self, media: &Media, name: &str) -> Result<Cost> {
        self.cost_of(media, Resource::parse(name)?, name)
    }

    /// [`Context::cost`] of `name`, parsed already as `resource`.
    fn cost_of(&self, media: &Media, resource: Resource, name: &str) -> Result<Cost> {
        media.check_named(&resource, name)?;
        // Held as ranges, or as bytes (which outlive the ranges' entry when only they are hit).
        if self.cache.contains(&Key::generated(media, resource)) || self.cache.contains(&Key::bytes(media, resource)) {
            return Ok(Cost::Cached);
        }
        Ok(media.cost(&resource))
    }

    /// Whether serving `name` of `media` now is light enough for a server's event loop (see
    /// [`Media::light`]): a cache hit, or a name made from the index and positioned reads of the
    /// local file. `NotFound` for a name its playlists do not name. Generates nothing.
    pub fn light(&self, media: &Media, name: &str) -> Result<bool> {
        let resource = Resource::parse(name)?;
        Ok(match self.cost_of(media, resource, name)? {
            Cost::Cached => true,
            _ => media.light(&resource),
        })
    }

    /// Adds this thread's reads of caller-supplied sources since `(r0, b0)` to the counters.
    fn count_source_reads(&self, r0: u64, b0: u64) {
        let (r1, b1) = thread_reads();
        self.counters.source_reads.fetch_add(r1 - r0, Ordering::Relaxed);
        self.counters.source_bytes.fetch_add(b1 - b0, Ordering::Relaxed);
    }

    /// A media whose index file turned out damaged: the file is removed and the media is not
    /// handed out again (the next open indexes it again).
    fn forget_damaged(&self, media: &Media) {
        if let (Some(dir), Some(file)) = (&self.index_dir, media.origin.file()) {
            if file.exists() {
                dir.discard(file);
            }
        }
        let mut reg = self.registry.lock();
        let key = &media.key;
        if reg.idle.peek(key).is_some_and(|(m, _)| std::ptr::eq(Arc::as_ptr(m), media)) {
            reg.idle.pop(key);
        }
        if matches!(reg.live.get(key), Some(Slot::Ready(w)) if std::ptr::eq(w.as_ptr(), media)) {
            reg.live.remove(key);
        }
    }

    /// Counters as a JSON object.
    pub fn stats_json(&self) -> String {
        let size = self.cache.size();
        let c = &self.cache.counters;
        let (live, idle) = {
            let reg = self.registry.lock();
            (reg.live.len(), reg.idle.len())
        };
        let ld = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let dir = self.index_dir.as_ref().map(|d| &d.counters);
        let dir_count = |f: fn(&IndexDirCounters) -> &AtomicU64| dir.map_or(0, |c| ld(f(c)));
        serde_json::json!({
            "index_dir": self.index_dir.as_ref().map(|d| d.dir().display().to_string()),
            "index_file_hits": dir_count(|c| &c.hits),
            "index_file_misses": dir_count(|c| &c.misses),
            "index_file_rewrites": dir_count(|c| &c.rewrites),
            "index_file_writes": dir_count(|c| &c.writes),
            "index_file_write_failures": dir_count(|c| &c.write_failures),
            "cache_hits": ld(&c.hits),
            "cache_misses": ld(&c.misses),
            "cache_bytes": size.bytes,
            "cache_entries": size.entries,
            "cache_budget": self.cache.budget(),
            "evictions": ld(&c.evictions),
            "generations": ld(&c.generations),
            "shared_waits": ld(&c.shared_waits),
            "opens": ld(&self.counters.opens),
            "indexings": ld(&self.counters.indexings),
            "open_reuses": ld(&self.counters.reuses),
            "index_time_us": ld(&self.counters.index_time_us),
            "key_requests": ld(&self.counters.key_requests),
            "key_failures": ld(&self.counters.key_failures),
            "encrypted_generations": ld(&self.counters.encrypted_generations),
            "range_reads": ld(&self.counters.range_reads),
            "buffer_pool_bytes": crate::engine::pool::BUFFERS.held().0,
            "buffer_pool_buffers": crate::engine::pool::BUFFERS.held().1,
            "buffer_pool_reuses": ld(&crate::engine::pool::BUFFERS.reuses),
            "source_reads": ld(&self.counters.source_reads),
            "source_bytes": ld(&self.counters.source_bytes),
            "source_cache_budget": self.source_cache.as_ref().map_or(0, |c| c.budget()),
            "source_cache_bytes": self.source_cache.as_ref().map_or(0, |c| c.held().0),
            "source_cache_blocks": self.source_cache.as_ref().map_or(0, |c| c.held().1),
            "source_cache_hit_bytes": self.source_cache.as_ref().map_or(0, |c| c.hit_bytes()),
            "media_registered": live,
            "media_idle": idle,
            "clip_opens": ld(&self.counters.clip_opens),
        })
        .to_string()
    }
}
