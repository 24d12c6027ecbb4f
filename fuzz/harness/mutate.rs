//! Deterministic input mutation for the corpus replay tests (`query/tests/fuzz_promql.rs`,
//! `server/tests/fuzz_decoders.rs`): a few seconds of fuzzing on every CI run, the same
//! inputs every time. libFuzzer does the real, coverage-guided work (`fuzz/README.md`).

use std::path::{Path, PathBuf};

/// Every file of `dir`, sorted by name; nothing when the directory does not exist.
pub(crate) fn inputs(dir: &Path) -> Vec<Vec<u8>> {
    let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => return Vec::new(),
    };
    files.sort();
    files.iter().filter_map(|p| std::fs::read(p).ok()).collect()
}

/// splitmix64: a fixed, dependency-free generator so every CI run mutates the same way.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to three edits of a random seed: a bit flip, a token inserted, a short deletion, or a
/// splice with the tail of another seed.
pub(crate) fn mutate(rng: &mut Rng, seeds: &[Vec<u8>], tokens: &[&[u8]]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].clone();
    for _ in 0..=rng.below(3) {
        let at = rng.below(data.len() + 1);
        match rng.below(4) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !tokens.is_empty() => {
                let tok = tokens[rng.below(tokens.len())];
                data.splice(at..at, tok.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(8)).min(data.len());
                data.drain(at..end);
            }
            _ => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[from..]);
            }
        }
    }
    data
}
