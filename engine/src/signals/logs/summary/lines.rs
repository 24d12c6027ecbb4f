//! The line filter of a summary: per block of [`BLOCK_ROWS`] consecutive records of the
//! logs file (in file order), a bit set of the byte trigrams of their lines. A substring
//! of three bytes or more can be in a block's lines only if every one of its trigrams'
//! bits is set; a reader skips the blocks where one is not (the pages that hold only
//! such blocks are never read).
//!
//! Why trigrams: LogQL's `|=` is a substring test, so whole-word tokens could not rule a
//! block out (`needle` is in `haystackneedle`); every substring's trigrams are trigrams
//! of the line.

/// Records per block: the rows the writer adds to a `body` page between checks of its
/// size (`storage::parquet_io::LOG_BODY_PAGE_ROWS`; the parquet crate cuts them at the
/// page's byte budget, so a block spans ~2.8 pages of ~110-byte lines).
pub const BLOCK_ROWS: u64 = 512;
/// Bits per block: 4,096 (512 bytes), 1 byte per record. A block of ~110-byte logfmt
/// lines holds ~2,000 distinct trigrams: about 40% of the bits set, so a needle of four
/// trigrams none of which the block has passes one block in ~40, and of eight one in
/// ~1,500.
pub(crate) const BLOCK_BITS: usize = 4096;
const BLOCK_BYTES: usize = BLOCK_BITS / 8;

/// The bit of a trigram.
fn bit(a: u8, b: u8, c: u8) -> usize {
    let x = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    (x.wrapping_mul(0x9E37_79B1) >> (32 - BLOCK_BITS.trailing_zeros())) as usize
}

/// Builds the blocks, record by record in file order.
#[derive(Default)]
pub(crate) struct LineFilterBuilder {
    rows: u64,
    bytes: Vec<u8>,
}

impl LineFilterBuilder {
    /// Adds the next record's line (empty: none).
    pub(crate) fn add(&mut self, line: &[u8]) {
        if self.rows.is_multiple_of(BLOCK_ROWS) {
            self.bytes.resize(self.bytes.len() + BLOCK_BYTES, 0);
        }
        self.rows += 1;
        let start = self.bytes.len() - BLOCK_BYTES;
        let block = &mut self.bytes[start..];
        for w in line.windows(3) {
            let b = bit(w[0], w[1], w[2]);
            block[b / 8] |= 1 << (b % 8);
        }
    }

    /// Records added, and the blocks' bit sets.
    pub(crate) fn finish(self) -> (u64, Vec<u8>) {
        (self.rows, self.bytes)
    }
}

/// A summary's line filter: the logs file's records and their blocks' bit sets.
#[derive(Debug, Clone, Copy)]
pub struct LineFilter<'a> {
    pub(crate) rows: u64,
    pub(crate) bits: &'a [u8],
}

impl LineFilter<'_> {
    /// Records of the logs file it covers.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Whether block `k`'s lines may contain `needle` (always, for a needle shorter than
    /// three bytes).
    pub fn may_contain(&self, k: usize, needle: &[u8]) -> bool {
        let Some(block) = self.bits.get(k * BLOCK_BYTES..(k + 1) * BLOCK_BYTES) else {
            return true;
        };
        needle.windows(3).all(|w| {
            let b = bit(w[0], w[1], w[2]);
            block[b / 8] & (1 << (b % 8)) != 0
        })
    }

    /// The row ranges `[start, end)` of the file whose lines may satisfy `need`: for every
    /// entry of `need`, one of its needles (a conjunction of disjunctions, as line filters
    /// chain), merged where adjacent.
    pub fn candidate_rows(&self, need: &[Vec<Vec<u8>>]) -> Vec<(u64, u64)> {
        let blocks = self.rows.div_ceil(BLOCK_ROWS) as usize;
        let mut out: Vec<(u64, u64)> = Vec::new();
        for k in 0..blocks {
            let keep = need
                .iter()
                .all(|any| any.iter().any(|n| self.may_contain(k, n)));
            if !keep {
                continue;
            }
            let (start, end) = (
                k as u64 * BLOCK_ROWS,
                ((k as u64 + 1) * BLOCK_ROWS).min(self.rows),
            );
            match out.last_mut() {
                Some(last) if last.1 == start => last.1 = end,
                _ => out.push((start, end)),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible logfmt-like line.
    fn line(i: u64) -> String {
        let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
        format!(
            "level=info method=GET path=/api/v{} status={} duration={}ms user=u{} msg=\"served\"",
            x % 7,
            200 + x % 300,
            x % 997,
            x % 100_000
        )
    }

    #[test]
    fn every_substring_of_a_block_passes_and_most_absent_ones_do_not() {
        // A block is what the writer adds to a `body` page between checks of its size.
        assert_eq!(
            BLOCK_ROWS as usize,
            crate::storage::parquet_io::LOG_BODY_PAGE_ROWS
        );
        let mut b = LineFilterBuilder::default();
        let n = 5 * BLOCK_ROWS + 17;
        for i in 0..n {
            if i == 3 * BLOCK_ROWS + 5 {
                b.add(b"a haystackneedle here");
            } else {
                b.add(line(i).as_bytes());
            }
        }
        let (rows, bits) = b.finish();
        assert_eq!(rows, n);
        assert_eq!(bits.len(), 6 * BLOCK_BITS / 8);
        let f = LineFilter { rows, bits: &bits };
        // No false negatives: every substring of every line passes in its block.
        for i in (0..n).step_by(97) {
            let l = line(i);
            let k = (i / BLOCK_ROWS) as usize;
            for start in 0..l.len() {
                for end in (start + 1..=l.len()).step_by(5) {
                    assert!(
                        f.may_contain(k, &l.as_bytes()[start..end]),
                        "{i} {start}..{end}"
                    );
                }
            }
        }
        assert!(f.may_contain(3, b"needle") && f.may_contain(3, b"ackne"));
        assert_eq!(
            f.candidate_rows(&[vec![b"needle".to_vec()]]),
            vec![(3 * BLOCK_ROWS, 4 * BLOCK_ROWS)]
        );
        // Short needles rule nothing out; one of two alternatives is enough.
        assert_eq!(f.candidate_rows(&[vec![b"ne".to_vec()]]), vec![(0, n)]);
        assert_eq!(
            f.candidate_rows(&[vec![b"needle".to_vec(), b"status=".to_vec()]]),
            vec![(0, n)]
        );
        // Every filter of a conjunction applies.
        assert!(
            f.candidate_rows(&[vec![b"needle".to_vec()], vec![b"zzqqxx".to_vec()]])
                .is_empty()
        );
        // Words absent from the lines: few blocks pass.
        let words = [
            "needle",
            "panic",
            "timeout",
            "Exception",
            "xyzzy",
            "0xdeadbeef",
        ];
        let passed: usize = words
            .iter()
            .map(|w| {
                (0..6)
                    .filter(|&k| k != 3 && f.may_contain(k, w.as_bytes()))
                    .count()
            })
            .sum();
        assert!(passed <= 2, "{passed} of {} blocks", words.len() * 5);
    }
}
