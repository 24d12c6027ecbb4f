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
