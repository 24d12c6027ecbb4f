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

/// The first index of `v` (sorted by `ts`) whose time is at least `t`: what
/// `v.partition_point(|x| ts(x) < t)` answers.
pub(crate) fn first_not_before<T>(v: &[T], ts: impl Fn(&T) -> i64, t: i64) -> usize {
    let n = v.len();
    let Some(last) = v.last() else {
        return 0;
    };
    let b = ts(last);
    if t > b {
        return n;
    }
    if n == 1 {
        return 0;
    }
    // Here t <= b, so the answer is in 0..n. How far back `t` lies, at the step between
    // the last two samples (mostly one cache line with the last).
    let step = i128::from(b) - i128::from(ts(&v[n - 2]));
    let back = if step > 0 {
        (i128::from(b) - i128::from(t)) / step
    } else {
        0
    };
    let mut i = (n - 1).saturating_sub(usize::try_from(back).unwrap_or(usize::MAX));
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
