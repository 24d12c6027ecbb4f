//! Reading ahead: the byte ranges a read of some rows of a Parquet file will need, asked
//! of the kernel all at once (`posix_fadvise(POSIX_FADV_WILLNEED)`), before the reader
//! asks for them one by one.
//!
//! Why: a trace lookup decodes one page of each of ~70 leaf columns, and the parquet
//! crate reads them in turn. From the page cache that costs nothing; from the disk (a week
//! of spans is larger than a small box's memory, and nothing is cached after a restart)
//! it was ~70 reads in a row, each waiting for the last. Asked for together, the disk
//! serves them in parallel. On a cached page the request is a page-cache lookup.

use std::fs::File;
use std::ops::Range;

use parquet::file::metadata::ParquetMetaData;

/// Ranges closer than this are asked for as one (the gap is read too).
const MERGE_GAP: u64 = 16 * 1024;

/// Asks the kernel to start reading `ranges` (offset, length) of `file` into the page
/// cache, sorted and merged; returns at once. Advice only: an error is ignored (the reads
/// that follow are then served as before).
pub(crate) fn will_need(file: &File, ranges: Vec<(u64, u64)>) {
    for (offset, len) in merged(ranges) {
        advise(file, offset, len);
    }
}

#[cfg(target_os = "linux")]
#[allow(unsafe_code)]
fn advise(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // Safety: `posix_fadvise` takes a file descriptor, which `file` keeps open for the
    // call, and integers; it reads or writes no memory of this process.
    let _ =
        unsafe { libc::posix_fadvise(file.as_raw_fd(), offset, len, libc::POSIX_FADV_WILLNEED) };
}

#[cfg(not(target_os = "linux"))]
fn advise(_file: &File, _offset: u64, _len: u64) {}

/// `ranges` sorted, empty ones dropped, those overlapping or within [`MERGE_GAP`] of each
/// other joined.
fn merged(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.retain(|r| r.1 > 0);
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (start, len) in ranges {
        let end = start.saturating_add(len);
        match out.last_mut() {
            Some((s, l)) if start <= (*s + *l).saturating_add(MERGE_GAP) => {
                *l = end.max(*s + *l) - *s;
            }
            _ => out.push((start, len)),
        }
    }
    out
}

/// The byte ranges that decoding `rows[g]` (row ranges within row group `g` of `md`) of
/// the leaf columns `leaves` reads: each such column chunk's dictionary page and the data
/// pages holding those rows, by the offset index; a chunk without one, whole. Row groups
/// past `rows` are not read.
pub(crate) fn page_ranges(
    md: &ParquetMetaData,
    rows: &[Vec<Range<usize>>],
    leaves: &[usize],
) -> Vec<(u64, u64)> {
    let mut out = Vec::new();
    for (g, wanted) in rows.iter().enumerate() {
        let Some(rg) = md.row_groups().get(g) else {
            break;
        };
        if wanted.is_empty() {
            continue;
        }
        for &leaf in leaves {
            let Some(chunk) = rg.columns().get(leaf) else {
                continue;
            };
            let pages = md
                .offset_index()
                .and_then(|o| o.get(g))
                .and_then(|o| o.get(leaf))
                .map(|o| o.page_locations())
                .filter(|p| !p.is_empty());
            let Some(pages) = pages else {
                out.push(chunk.byte_range());
                continue;
            };
            let first_data = u64::try_from(pages[0].offset).unwrap_or(0);
            let (chunk_start, _) = chunk.byte_range();
            if chunk_start < first_data {
                // The dictionary page (or whatever precedes the first data page).
                out.push((chunk_start, first_data - chunk_start));
            }
            for (p, loc) in pages.iter().enumerate() {
                let first = usize::try_from(loc.first_row_index).unwrap_or(0);
                let end = pages.get(p + 1).map_or(usize::MAX, |n| {
                    usize::try_from(n.first_row_index).unwrap_or(usize::MAX)
                });
                if wanted.iter().any(|r| r.start < end && first < r.end) {
                    let len = u64::try_from(loc.compressed_page_size).unwrap_or(0);
                    out.push((u64::try_from(loc.offset).unwrap_or(0), len));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_sorted_and_near_ones_joined() {
        let gap = MERGE_GAP;
        let got = merged(vec![
            (100_000, 10),
            (0, 100),
            (50, 100),
            (150 + gap, 5),
            (500_000, 0),
            (200_000, 1),
        ]);
        assert_eq!(got, vec![(0, 155 + gap), (100_000, 10), (200_000, 1)]);
    }
}
