//! [`Chunks`]: a list that grows by fixed-size chunks, never by reallocating what it holds.
//!
//! A span head partition holds millions of records of ~300 bytes. In one `Vec`, every
//! doubling copied all of them into fresh memory (page faults included) on the request
//! path: ~12% of its CPU in a profile of the OTLP span load (`docs/benchmarks.md`).

/// Records per chunk: ~1 MiB of spans, small enough that the last chunk's unused capacity
/// does not matter, large enough that readers see few slices.
const CHUNK: usize = 4096;

/// An append-only list stored as chunks of at most [`CHUNK`] items, in push order.
#[derive(Debug, Clone)]
pub(crate) struct Chunks<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Chunks<T> {
    fn default() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Chunks<T> {
    /// Appends `item` after the last one.
    pub(crate) fn push(&mut self, item: T) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < c.capacity() => c.push(item),
            _ => {
                let mut c = Vec::with_capacity(CHUNK);
                c.push(item);
                self.chunks.push(c);
            }
        }
        self.len += 1;
    }

    /// Appends every item of `other`, in order.
    pub(crate) fn append(&mut self, other: Chunks<T>) {
        self.len += other.len;
        self.chunks.extend(other.chunks);
    }

    /// Items held.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether it holds nothing.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The items as consecutive slices, in push order.
    pub(crate) fn slices(&self) -> impl Iterator<Item = &[T]> {
        self.chunks.iter().map(Vec::as_slice)
    }

    /// Every item, in push order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.chunks.iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_come_back_in_push_order_across_chunks_and_appends() {
        let mut a = Chunks::default();
        for i in 0..CHUNK * 2 + 5 {
            a.push(i);
        }
        assert_eq!(a.len(), CHUNK * 2 + 5);
        assert_eq!(a.slices().count(), 3);
        assert!(a.slices().all(|s| s.len() <= CHUNK));
        let mut b = Chunks::default();
        assert!(b.is_empty());
        b.push(usize::MAX);
        a.append(b);
        let want: Vec<usize> = (0..CHUNK * 2 + 5).chain([usize::MAX]).collect();
        assert_eq!(a.iter().copied().collect::<Vec<_>>(), want);
        assert_eq!(a.slices().flatten().count(), a.len());
        // A push after an append goes after every item appended.
        a.push(7);
        assert_eq!(a.iter().last(), Some(&7));
        assert_eq!(a.len(), want.len() + 1);
    }
}
