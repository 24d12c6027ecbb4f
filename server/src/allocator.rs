//! The process's allocator as the engine and `/metrics` see it: returning freed memory to
//! the operating system after a flush or compaction ([`release_memory`], registered with
//! [`strata_engine::set_memory_release`] by the binary), no transparent huge pages
//! ([`disable_transparent_huge_pages`]), and, with the `alloc-stats` feature, a counting
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
    /// mimalloc: its version, major × 10,000 + minor × 100 + patch.
    fn mi_version() -> std::ffi::c_int;
    /// mimalloc: sets an option (`mi_option_t`, an index into its option table).
    fn mi_option_set(option: std::ffi::c_int, value: std::ffi::c_long);
    /// mimalloc: an option's value.
    fn mi_option_get(option: std::ffi::c_int) -> std::ffi::c_long;
}

/// The mimalloc release whose option table [`MI_OPTION_PAGE_RECLAIM_ON_FREE`] indexes
/// (`libmimalloc-sys` 0.1.49 builds 3.3.2; `Cargo.lock` pins it).
#[cfg(feature = "mimalloc")]
const MI_VERSION: std::ffi::c_int = 30302;

/// `mi_option_page_reclaim_on_free` in mimalloc 3.3.2's `mi_option_t` (`mimalloc.h`);
/// `libmimalloc-sys` does not name it.
#[cfg(feature = "mimalloc")]
const MI_OPTION_PAGE_RECLAIM_ON_FREE: std::ffi::c_int = 35;

/// Stops mimalloc from taking over, on a free, a full page another thread allocated from
/// (`page_reclaim_on_free = -1`). The flush thread frees every record the runtime's
/// workers built; with the default, such a free into a full page claims the page and
/// collects it (`mi_free_try_collect_mt`), ~1,900 instructions per span in a flush. Off, a
/// span cost ~5% less server CPU, with the same resident memory after a load
/// (docs/benchmarks.md, "Request bombs, and a cheaper span reader"). Returns whether it
/// was set: not for another mimalloc release, whose option table may differ, nor without
/// mimalloc.
pub fn keep_pages_with_their_threads() -> bool {
    #[cfg(feature = "mimalloc")]
    // Safety: the three calls take integers only and may be made from any thread at any
    // time; mimalloc is linked (the `mimalloc` crate above), and the option index is used
    // only with the release it was read from.
    unsafe {
        if mi_version() != MI_VERSION {
            return false;
        }
        mi_option_set(MI_OPTION_PAGE_RECLAIM_ON_FREE, -1);
        mi_option_get(MI_OPTION_PAGE_RECLAIM_ON_FREE) == -1
    }
    #[cfg(not(feature = "mimalloc"))]
    false
}

#[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
unsafe extern "C" {
    /// glibc: returns the free memory of every arena to the system (`malloc_trim(3)`).
    fn malloc_trim(pad: usize) -> std::ffi::c_int;
}

/// Returns the allocator's free memory to the operating system: mimalloc's `mi_collect`
/// (forced), glibc's `malloc_trim(0)`; nothing for other allocators.
pub fn release_memory() {
    #[cfg(feature = "mimalloc")]
    // Safety: `mi_collect` takes no pointers and may be called from any thread at any
    // time; mimalloc is linked (the `mimalloc` crate above).
    unsafe {
        mi_collect(true)
    };
    #[cfg(all(not(feature = "mimalloc"), target_os = "linux", target_env = "gnu"))]
    // Safety: `malloc_trim` takes no pointers and is thread-safe (it locks each arena).
    unsafe {
        malloc_trim(0)
    };
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
/// resident set after a flush is ~45 MB smaller without them (docs/benchmarks.md).
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
    /// Fails when `libmimalloc-sys` moves to another mimalloc release: then read
    /// `mi_option_page_reclaim_on_free`'s index from its `mimalloc.h` again and update
    /// `MI_VERSION` and the index.
    #[test]
    fn the_reclaim_option_is_set_on_the_linked_mimalloc() {
        // Safety: as in `keep_pages_with_their_threads`.
        let version = unsafe { super::mi_version() };
        assert_eq!(version, super::MI_VERSION, "re-check the option index");
        assert!(super::keep_pages_with_their_threads());
    }
}
