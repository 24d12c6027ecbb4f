//! The line filter of a summary: per block of consecutive records of the logs file (in
//! file order), a bit set of the byte trigrams of their lines. A substring of three bytes
//! or more can be in a block's lines only if every one of its trigrams' bits is set; a
//! reader skips the blocks where one is not (the pages that hold only such blocks are
//! never read).
//!
//! A block is one `body` page of the logs file (cut every [`BLOCK_ROWS`] records), so a
//! block that passes costs its reader one page. Blocks of a fixed 512 records (version 1
//! summaries) spanned ~2.8 pages of ~290 records each, all of which a search decompressed.
//!
//! Why trigrams: LogQL's `|=` is a substring test, so whole-word tokens could not rule a
//! block out (`needle` is in `haystackneedle`); every substring's trigrams are trigrams
//! of the line.

/// Most records in a block: a block is a `body` page of the logs file, or a part of one
/// of at most this many records (`storage::parquet_io::LOG_BODY_PAGE_ROWS`: the rows the
/// writer adds to a page between checks of its size). Files whose page layout is unknown
/// are cut in blocks of exactly this many.
pub const BLOCK_ROWS: u64 = 512;
/// Bits per block: 4,096 (512 bytes). A page of ~110-byte logfmt lines (32 KiB, ~290
/// records) holds ~1,500 distinct trigrams: about 30% of the bits set, so a needle of four
/// trigrams none of which the page has passes one page in ~100, and of eight one in
/// ~15,000.
pub(crate) const BLOCK_BITS: usize = 4096;
const BLOCK_BYTES: usize = BLOCK_BITS / 8;

/// The bit of a trigram.
fn bit(a: u8, b: u8, c: u8) -> usize {
    let x = u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c);
    (x.wrapping_mul(0x9E37_79B1) >> (32 - BLOCK_BITS.trailing_zeros())) as usize
}

/// The records of each block of a logs file whose `body` pages hold `pages` records each
/// (in file order): a page is a block, cut every [`BLOCK_ROWS`] records.
pub(crate) fn blocks_of_pages(pages: impl IntoIterator<Item = u64>) -> Vec<u32> {
    let mut out = Vec::new();
    for mut rows in pages {
        while rows > 0 {
            let n = rows.min(BLOCK_ROWS);
            out.push(n as u32);
            rows -= n;
        }
    }
    out
}

/// Builds the blocks, record by record in file order.
pub(crate) struct LineFilterBuilder {
    rows: u64,
    /// The records of each block, as given; past them, blocks of [`BLOCK_ROWS`].
    planned: Vec<u32>,
    /// The records of each block begun.
    blocks: Vec<u32>,
    bytes: Vec<u8>,
}

impl LineFilterBuilder {
    /// A builder of blocks of `planned` records each (see [`blocks_of_pages`]); empty:
    /// blocks of [`BLOCK_ROWS`].
    pub(crate) fn new(planned: Vec<u32>) -> Self {
        Self {
            rows: 0,
            planned,
            blocks: Vec::new(),
            bytes: Vec::new(),
        }
    }

    /// Adds the next record's line (empty: none).
    pub(crate) fn add(&mut self, line: &[u8]) {
        let full = match self.blocks.last() {
            None => true,
            Some(&n) => {
                let k = self.blocks.len() - 1;
                let cap = self.planned.get(k).copied().unwrap_or(BLOCK_ROWS as u32);
                n >= cap.max(1)
            }
        };
        if full {
            self.blocks.push(0);
            self.bytes.resize(self.bytes.len() + BLOCK_BYTES, 0);
        }
        if let Some(n) = self.blocks.last_mut() {
            *n += 1;
        }
        self.rows += 1;
        let start = self.bytes.len() - BLOCK_BYTES;
        let block = &mut self.bytes[start..];
        for w in line.windows(3) {
            let b = bit(w[0], w[1], w[2]);
            block[b / 8] |= 1 << (b % 8);
        }
    }

    /// Records added, the records of each block, and the blocks' bit sets.
    pub(crate) fn finish(self) -> BuiltFilter {
        BuiltFilter {
            rows: self.rows,
            blocks: self.blocks,
            bits: self.bytes,
        }
    }
}

/// A built line filter, for the summary's bytes.
pub(crate) struct BuiltFilter {
    pub(crate) rows: u64,
    pub(crate) blocks: Vec<u32>,
    pub(crate) bits: Vec<u8>,
}

/// Where each block of a [`LineFilter`] begins.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Blocks<'a> {
    /// Every block holds this many records (summaries of version 1).
    Fixed(u64),
    /// The records of each block, little-endian `u32`s.
    Listed(&'a [u8]),
}

/// A summary's line filter: the logs file's records and their blocks' bit sets.
#[derive(Debug, Clone, Copy)]
pub struct LineFilter<'a> {
    pub(crate) rows: u64,
    pub(crate) blocks: Blocks<'a>,
    pub(crate) bits: &'a [u8],
}

impl LineFilter<'_> {
    /// Records of the logs file it covers.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Its blocks' row ranges `[start, end)`, in file order.
    pub fn block_rows(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let n = self.bits.len() / BLOCK_BYTES;
        let rows = self.rows;
        let mut at = 0u64;
        (0..n).map(move |k| {
            let len = match self.blocks {
                Blocks::Fixed(r) => r,
                Blocks::Listed(b) => b.get(k * 4..k * 4 + 4).map_or(0, |x| {
                    u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]]))
                }),
            };
            let start = at;
            at = (at + len).min(rows);
            (start, at)
        })
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
        let mut out: Vec<(u64, u64)> = Vec::new();
        for (k, (start, end)) in self.block_rows().enumerate() {
            let keep = need
                .iter()
                .all(|any| any.iter().any(|n| self.may_contain(k, n)));
            if !keep || start == end {
                continue;
            }
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
        let mut b = LineFilterBuilder::new(Vec::new());
        let n = 5 * BLOCK_ROWS + 17;
        for i in 0..n {
            if i == 3 * BLOCK_ROWS + 5 {
                b.add(b"a haystackneedle here");
            } else {
                b.add(line(i).as_bytes());
            }
        }
        let built = b.finish();
        assert_eq!(built.rows, n);
        assert_eq!(built.bits.len(), 6 * BLOCK_BITS / 8);
        let counts: Vec<u8> = built.blocks.iter().flat_map(|c| c.to_le_bytes()).collect();
        assert_eq!(built.blocks, [512, 512, 512, 512, 512, 17]);
        let f = LineFilter {
            rows: n,
            blocks: Blocks::Listed(&counts),
            bits: &built.bits,
        };
        // The same as blocks of a fixed 512 records (version 1 summaries).
        let fixed = LineFilter {
            blocks: Blocks::Fixed(BLOCK_ROWS),
            ..f
        };
        assert!(f.block_rows().eq(fixed.block_rows()));
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

#[cfg(test)]
mod page_tests {
    use super::*;

    #[test]
    fn blocks_follow_the_pages_they_are_given_and_hold_at_most_512_records() {
        assert_eq!(
            blocks_of_pages([290, 300, 1200, 0, 7]),
            [290, 300, 512, 512, 176, 7]
        );
        let planned = blocks_of_pages([3, 2, 4]);
        let mut b = LineFilterBuilder::new(planned);
        let lines: [&[u8]; 11] = [
            b"aaa", b"bbb", b"ccc", b"needle", b"ddd", b"eee", b"fff", b"ggg", b"hhh",
            // Past the planned blocks: blocks of 512.
            b"iii", b"needle",
        ];
        for l in lines {
            b.add(l);
        }
        let built = b.finish();
        assert_eq!(built.blocks, [3, 2, 4, 2]);
        let counts: Vec<u8> = built.blocks.iter().flat_map(|c| c.to_le_bytes()).collect();
        let f = LineFilter {
            rows: built.rows,
            blocks: Blocks::Listed(&counts),
            bits: &built.bits,
        };
        assert_eq!(
            f.block_rows().collect::<Vec<_>>(),
            [(0, 3), (3, 5), (5, 9), (9, 11)]
        );
        assert_eq!(
            f.candidate_rows(&[vec![b"needle".to_vec()]]),
            [(3, 5), (9, 11)]
        );
        assert_eq!(f.candidate_rows(&[vec![b"ggg".to_vec()]]), [(5, 9)]);
    }
}
