//! Giving memory back to the operating system after the background thread's large
//! short-lived allocations: a flush's cut and its Parquet buffers, a compaction's merge.
//!
//! Allocators keep freed memory for reuse (mimalloc until a later allocation on the same
//! thread purges it, glibc until `malloc_trim`), so after a flush an idle server would keep
//! the resident set of its busiest moment. The engine does not know the process's
//! allocator: the program that chose it registers how to release with
//! [`set_memory_release`] (the `strata` binary: `mi_collect` or `malloc_trim`).

use std::sync::OnceLock;
use std::time::Duration;

/// How long the background thread goes without a flush before it releases what its
/// flushes freed. Under a steady load a flush comes every fraction of a second; a release
/// after each one returned the memory the request threads were about to allocate again,
/// and they paid for it in page faults, each new page zeroed by the kernel: a quarter of
/// their CPU and a tenth of the span path's (`docs/benchmarks-history.md`, "Memory released when
/// the flushes pause"). Meanwhile the allocator still returns, by itself, pages it has not
/// reused for a while (mimalloc's `purge_delay`, which `strata serve` sets to 10 s).
pub(crate) const RELEASE_QUIET: Duration = Duration::from_secs(1);

static RELEASE: OnceLock<fn()> = OnceLock::new();

/// Registers `release`, which the engines' background threads call once their flushes
/// have paused for [`RELEASE_QUIET`] after one that wrote something, and after each
/// maintenance pass (retention and compaction). It should return the allocator's free
/// memory to the operating system. Process-wide, like the allocator: the first
/// registration wins; returns whether this one did.
pub fn set_memory_release(release: fn()) -> bool {
    RELEASE.set(release).is_ok()
}

/// Calls the registered release function, if any.
pub(crate) fn release_memory() {
    if let Some(release) = RELEASE.get() {
        release();
    }
}
