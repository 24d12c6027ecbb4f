//! Prefetch hints: asking the CPU to start loading memory into cache before the code
//! reads it. Used where a flush walks records in file order, which scatters them over the
//! heap (`spans_logs::spans::columns::prefetch`, `spans_logs::logs::columns::prefetch`).

/// Hints every cache line of `value`'s struct (not what it points to).
#[inline(always)]
pub(crate) fn touch_struct<T>(value: &T) {
    let p = std::ptr::from_ref::<T>(value).cast::<u8>();
    for line in (0..std::mem::size_of::<T>()).step_by(64) {
        touch(p.wrapping_add(line));
    }
}

/// Hints the cache lines of the first 512 bytes of `items` (a record's attribute list: the
/// keys and values it points to are hinted apart, as they are needed).
#[inline(always)]
pub(crate) fn touch_slice<T>(items: &[T]) {
    let p = items.as_ptr().cast::<u8>();
    for line in (0..std::mem::size_of_val(items).min(512)).step_by(64) {
        touch(p.wrapping_add(line));
    }
}

/// A prefetch hint for the cache line holding `p`.
#[inline(always)]
pub(crate) fn touch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // Safety: a prefetch only hints the cache: it never faults, whatever the address, and
    // reads or writes nothing the program sees.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}
