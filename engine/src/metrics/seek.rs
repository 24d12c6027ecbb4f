//! Finding a time range in a series' samples held in memory, sorted by time.
//!
//! A head series keeps its unflushed samples in one `Vec` of its own: two hours at 15 s are
//! 480 samples, 7.5 KiB. A binary search over that is a cache miss per probe (nine for the
//! range's start, as many again for its end), and a rule or a query reads hundreds of
//! series, so over a large head those misses were most of a rule's cost (the rules
//! benchmark's head-heavy run: 77 % of the server's CPU in `select`'s binary searches).
//! Samples mostly come at a steady interval, so the position of a time is guessed from the
//! last two timestamps (the step) and found by a short walk from the guess: about two
//! cache lines per series, whatever its length. Irregular series fall back to a binary
//! search over what the walk left.

use std::ops::Range;

/// Steps walked from the guess before falling back to a binary search.
const WALK: usize = 4;

/// Where [`first_not_before`] looks first for `t` in `v` (sorted by `ts`): `None` when
/// the last sample answers alone (`v` is empty, or `t` is past its last time, or `v` has
/// one sample); otherwise the index `t` would have at the step between the last two
/// samples (it reads `v`'s last two samples, mostly one cache line).
pub(crate) fn guess<T>(v: &[T], ts: impl Fn(&T) -> i64, t: i64) -> Option<usize> {
    let n = v.len();
    let b = ts(v.last()?);
    if t > b || n == 1 {
        return None;
    }
    // Here t <= b. How many steps back `t` lies (none when the times do not allow it:
    // a repeated or out-of-range step, or a difference past i64).
    let back = match (b.checked_sub(t), b.checked_sub(ts(&v[n - 2]))) {
        (Some(d), Some(step)) if step > 0 => d / step,
        _ => 0,
    };
    Some((n - 1).saturating_sub(usize::try_from(back).unwrap_or(usize::MAX)))
}

/// The first index of `v` (sorted by `ts`) whose time is at least `t`: what
/// `v.partition_point(|x| ts(x) < t)` answers.
pub(crate) fn first_not_before<T>(v: &[T], ts: impl Fn(&T) -> i64, t: i64) -> usize {
    let n = v.len();
    let Some(mut i) = guess(v, &ts, t) else {
        // Empty, a single sample, or `t` past the last.
        return match v.first() {
            Some(x) if n == 1 && ts(x) >= t => 0,
            _ => n,
        };
    };
    if ts(&v[i]) >= t {
        // Back while the one before is not before `t`.
        for _ in 0..WALK {
            if i == 0 || ts(&v[i - 1]) < t {
                return i;
            }
            i -= 1;
        }
        v[..i].partition_point(|x| ts(x) < t)
    } else {
        // Forward to the first at or after `t`; v[n - 1] is, so i + 1 stays in bounds.
        for _ in 0..WALK {
            i += 1;
            if ts(&v[i]) >= t {
                return i;
            }
        }
        i + 1 + v[i + 1..].partition_point(|x| ts(x) < t)
    }
}

/// Asks the processor to bring the cache line of `v[i]` (when there is one) towards it,
/// without waiting: a hint, so that misses of many series overlap instead of being paid
/// one after another. Nothing on other architectures than x86-64.
#[inline]
pub(crate) fn prefetch<T>(v: &[T], i: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(x) = v.get(i) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // Safety: a prefetch never faults and changes nothing but the caches; the address
        // is of a live element, and SSE (which the instruction needs) is in x86-64's base.
        #[allow(unsafe_code)]
        unsafe {
            _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast::<i8>());
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (v, i);
}

/// Prefetches, for every buffer of `bufs`, what [`within`] reads first for a range from
/// `start`: its last sample in a first pass, then (once those have had time to arrive)
/// the sample where the range's start is guessed to lie. A caller about to seek a range in
/// many series calls this first, so that the two misses per series overlap across series.
pub(crate) fn prefetch_starts<'a, T: 'a>(
    bufs: impl Iterator<Item = &'a [T]> + Clone,
    ts: impl Fn(&T) -> i64 + Copy,
    start: i64,
) {
    for v in bufs.clone() {
        prefetch(v, v.len().saturating_sub(2));
        prefetch(v, v.len().saturating_sub(1));
    }
    for v in bufs {
        if let Some(i) = guess(v, ts, start) {
            prefetch(v, i);
        }
    }
}

/// The indexes of `v` (sorted by `ts`) whose times are in `[start, end]` (empty when
/// `start > end`).
pub(crate) fn within<T>(
    v: &[T],
    ts: impl Fn(&T) -> i64 + Copy,
    start: i64,
    end: i64,
) -> Range<usize> {
    let lo = first_not_before(v, ts, start);
    let hi = match end.checked_add(1) {
        Some(after) if after > start => lo + first_not_before(&v[lo..], ts, after),
        Some(_) => lo,
        None => v.len(),
    };
    lo..hi
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so failures reproduce.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    fn check(v: &[i64], t: i64) {
        let want = v.partition_point(|&x| x < t);
        assert_eq!(first_not_before(v, |&x| x, t), want, "t = {t} in {v:?}");
    }

    #[test]
    fn agrees_with_binary_search_on_steady_irregular_and_repeated_times() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for round in 0..2_000 {
            let n = rng.below(600) as usize;
            let mut t = rng.below(1_000) as i64 - 500;
            let mut v = Vec::with_capacity(n);
            for _ in 0..n {
                v.push(t);
                t += match round % 4 {
                    0 => 15,                                               // steady
                    1 => rng.below(30) as i64,                             // jitter, repeats
                    2 => [1, 1, 1, 5_000][rng.below(4) as usize],          // bursts and gaps
                    _ => 1 + (rng.below(1 << 20) as i64).pow(2) % 100_000, // skewed
                };
            }
            let (lo, hi) = (
                v.first().copied().unwrap_or(0),
                v.last().copied().unwrap_or(0),
            );
            for _ in 0..20 {
                let q = lo - 20 + rng.below((hi - lo + 40) as u64 + 1) as i64;
                check(&v, q);
            }
            for &x in v.iter().step_by(7) {
                check(&v, x);
                check(&v, x + 1);
            }
        }
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let v = [i64::MIN, -1, 0, 1, i64::MAX];
        for t in [
            i64::MIN,
            i64::MIN + 1,
            -2,
            -1,
            0,
            1,
            2,
            i64::MAX - 1,
            i64::MAX,
        ] {
            check(&v, t);
        }
        assert_eq!(within(&v, |&x| x, i64::MIN, i64::MAX), 0..5);
        assert_eq!(within(&v, |&x| x, 0, i64::MAX), 2..5);
    }

    #[test]
    fn within_is_the_closed_range() {
        let v: Vec<i64> = (0..100).map(|i| i * 15).collect();
        assert_eq!(within(&v, |&x| x, 30, 60), 2..5);
        assert_eq!(within(&v, |&x| x, 31, 59), 3..4);
        assert_eq!(within(&v, |&x| x, -100, -1), 0..0);
        assert_eq!(within(&v, |&x| x, 2_000, 3_000), 100..100);
        assert_eq!(within(&v, |&x| x, 60, 30), 4..4);
        assert_eq!(within::<i64>(&[], |&x| x, 0, 10), 0..0);
    }
}
