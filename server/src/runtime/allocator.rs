//! The process's allocator as the engine and `/metrics` see it: returning freed memory to
//! the operating system after a flush or compaction ([`release_memory`], registered with
//! [`strata_engine::set_memory_release`] by the binary), no transparent huge pages
//! ([`disable_transparent_huge_pages`]), glibc's heap kept for the C libraries' reuse
//! ([`set_c_heap_trim_threshold`]), and, with the `alloc-stats` feature, a counting
//! wrapper (`Counting`) whose live bytes `/metrics` reports.
// Foreign calls into the allocator and a `GlobalAlloc` impl: each with its `// Safety:`.
#![allow(unsafe_code)]

#[cfg(feature = "alloc-stats")]
use std::alloc::{GlobalAlloc, Layout};
#[cfg(feature = "alloc-stats")]
use std::sync::atomic::{AtomicUsize, Ordering};

// The mimalloc static library comes with the `mimalloc` crate (the binary's allocator).
#[cfg(feature = "mimalloc")]
extern crate mimalloc as _;

#[cfg(feature = "mimalloc")]
unsafe extern "C" {
    /// mimalloc: collects the calling thread's free pages and, with `force`, purges every
    /// arena's freed pages now instead of after `MIMALLOC_PURGE_DELAY`.
    fn mi_collect(force: bool);
    /// mimalloc: sets an option's value.
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
}

/// `mi_option_purge_delay` in the `mi_option_t` enum of the mimalloc v3 the `mimalloc`
/// crate builds (`libmimalloc-sys`, `c_src/mimalloc/v3/include/mimalloc.h`), whose Rust
/// bindings do not name it. Its default there is 1,000 ms, which
/// [`tests::purge_delay_is_the_option_named`] checks.
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: std::ffi::c_int = 15;

/// How long mimalloc keeps a freed page before returning it to the system
/// ([`set_purge_delay`]) when memory is plentiful.
pub const PURGE_DELAY: std::time::Duration = std::time::Duration::from_secs(10);

/// Below this memory limit freed pages go back to the system at once ([`set_purge_delay`]).
pub const PROMPT_PURGE_BELOW: u64 = 1 << 30;

/// The purge delay for a process whose memory limit is `limit` bytes: [`PURGE_DELAY`], or
/// none below [`PROMPT_PURGE_BELOW`].
pub fn purge_delay_for(limit: u64) -> std::time::Duration {
    if limit < PROMPT_PURGE_BELOW {
        std::time::Duration::ZERO
    } else {
        PURGE_DELAY
    }
}

/// Sets mimalloc's purge delay for a memory limit of `limit` bytes ([`purge_delay_for`]),
/// unless `MIMALLOC_PURGE_DELAY` is set in the environment (then mimalloc took it from
/// there).
///
/// With its default, 1 s, the pages of the spans a flush freed went back to the system
/// before the request threads allocated the next ones in them, and each came back as a
/// page fault: the spans' dense hour (3.7 M spans) took 566-715 k faults with 1 s, 392-419 k
/// with 10 s, and ~9% more CPU per span through its flushes and compaction
/// (docs/benchmarks-history.md, "mimalloc's purge delay"). But every thread keeps its freed
/// pages that long, and queries run on many threads: in a 256 MiB container under a query
/// load the pages kept for 10 s were over 100 MiB, more than every budget together, and the
/// kernel killed the process; with no delay the same load ran at 28-155 MiB of anonymous
/// memory ("A small box: the purge delay", docs/benchmarks-history.md). So a small limit
/// purges at once and pays the page faults. An idle server gives its memory back within
/// seconds either way: the engine calls [`release_memory`] once its flushes pause. A no-op
/// without mimalloc.
pub fn set_purge_delay(limit: u64) {
    #[cfg(feature = "mimalloc")]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        let ms = purge_delay_for(limit).as_millis() as std::ffi::c_long;
        // Safety: `mi_option_set` takes an option index and a value, no pointers, and may
        // be called at any time; the index is v3's `mi_option_purge_delay` (above).
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, ms) };
    }
    #[cfg(not(feature = "mimalloc"))]
    let _ = limit;
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc: returns the free memory of every arena to the system (`malloc_trim(3)`).
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
    /// glibc: sets a parameter of its malloc (`mallopt(3)`); 1 on success.
    fn mallopt(param: std::ffi::c_int, value: std::ffi::c_int) -> std::ffi::c_int;
}

/// Returns the allocators' free memory to the operating system: mimalloc's `mi_collect`
/// (forced) and glibc's `malloc_trim(0)` (the C libraries' heap, beside mimalloc); nothing
/// for other allocators.
pub fn release_memory() {
    #[cfg(feature = "mimalloc")]
    // Safety: `mi_collect` takes no pointers and may be called from any thread at any
    // time; mimalloc is linked (the `mimalloc` crate above).
    unsafe {
        mi_collect(true)
    };
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // Safety: `malloc_trim` takes no pointers and is thread-safe (it locks each arena).
    unsafe {
        malloc_trim(0)
    };
}

/// Free bytes glibc's malloc may keep at the top of an arena before it gives them back
/// ([`set_c_heap_trim_threshold`]).
pub const C_HEAP_TRIM_THRESHOLD: usize = 1 << 20;

/// Sets glibc's `M_TRIM_THRESHOLD` to [`C_HEAP_TRIM_THRESHOLD`], unless
/// `MALLOC_TRIM_THRESHOLD_` is set in the environment (then glibc took it from there); a
/// no-op on other C libraries. The C code in the process allocates through glibc even
/// with mimalloc as Rust's allocator: zstd's contexts, one pair (~200 KB) per Parquet
/// column chunk a query reads. Freed at the top of a thread's arena, each was handed back
/// to the kernel at once (`madvise`), and the TLB flush that costs on every core was ~15%
/// of a log search's CPU: the needle query took 707-720 ms of CPU with glibc's default,
/// 616 ms with 1 MiB (docs/benchmarks-history.md, "C heap trim threshold"). What stays is
/// at most this much per arena, and [`release_memory`] still trims it when flushes pause.
pub fn set_c_heap_trim_threshold() -> std::io::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_TRIM_THRESHOLD_").is_none() {
        const M_TRIM_THRESHOLD: std::ffi::c_int = -1;
        let bytes = std::ffi::c_int::try_from(C_HEAP_TRIM_THRESHOLD).unwrap_or(i32::MAX);
        // Safety: `mallopt` takes two integers, no pointers, and locks the arenas itself.
        if unsafe { mallopt(M_TRIM_THRESHOLD, bytes) } != 1 {
            return Err(std::io::Error::other("mallopt(M_TRIM_THRESHOLD) refused"));
        }
    }
    Ok(())
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    /// Linux `prctl(2)`.
    fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
}

/// Turns transparent huge pages off for this process (Linux `PR_SET_THP_DISABLE`; a
/// no-op elsewhere). mimalloc asks for huge pages on its arenas, and a 2 MiB page stays
/// resident while any of it is used, so the memory a flush frees would stay resident
/// (and the kernel's `khugepaged` would refill partly freed ranges): at 200 k series the
/// resident set after a flush is ~45 MB smaller without them (docs/benchmarks-history.md).
pub fn disable_transparent_huge_pages() -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        const PR_SET_THP_DISABLE: std::ffi::c_int = 41;
        // Safety: PR_SET_THP_DISABLE takes integer arguments only and changes a flag of
        // this process's memory map, nothing Rust relies on.
        let (on, zero): (std::ffi::c_ulong, std::ffi::c_ulong) = (1, 0);
        let r = unsafe { prctl(PR_SET_THP_DISABLE, on, zero, zero, zero) };
        if r != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Bytes currently allocated through [`Counting`] (as requested, not as rounded up by the
/// allocator).
#[cfg(feature = "alloc-stats")]
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// A global allocator that counts the bytes allocated and not yet freed through it
/// (feature `alloc-stats`, for memory measurements: one atomic add per call).
#[cfg(feature = "alloc-stats")]
#[derive(Debug)]
pub struct Counting<A>(pub A);

/// Heap bytes in use now, as counted by [`Counting`].
#[cfg(feature = "alloc-stats")]
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

// Safety: every call is forwarded to `A` unchanged; only the counter is added.
#[cfg(feature = "alloc-stats")]
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // Safety: the caller's contract is `A::alloc`'s.
        let p = unsafe { self.0.alloc(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // Safety: the caller's contract is `A::alloc_zeroed`'s.
        let p = unsafe { self.0.alloc_zeroed(layout) };
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // Safety: the caller's contract is `A::dealloc`'s.
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Safety: the caller's contract is `A::realloc`'s.
        let p = unsafe { self.0.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_add(new_size, Ordering::Relaxed);
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        }
        p
    }
}

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    use super::*;

    unsafe extern "C" {
        /// mimalloc: an option's value (`mi_option_t` of `mimalloc.h`).
        fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
    }

    /// mimalloc's purge delay in milliseconds.
    fn purge_delay_ms() -> std::ffi::c_long {
        // Safety: `mi_option_get` takes an option index, no pointers.
        unsafe { mi_option_get(MI_OPTION_PURGE_DELAY) }
    }

    /// Option 15 is the purge delay: it has that option's default (1,000 ms in v3) until
    /// [`set_purge_delay`] sets it. (One test: the option is process-wide.)
    #[test]
    fn purge_delay_is_the_option_named() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        assert_eq!(purge_delay_ms(), 1_000);
        set_purge_delay(8 << 30);
        assert_eq!(
            purge_delay_ms(),
            PURGE_DELAY.as_millis() as std::ffi::c_long
        );
        set_purge_delay(192 << 20);
        assert_eq!(purge_delay_ms(), 0, "a small limit purges at once");
    }
}
