//! [`Cursor`]: bounds-checked little-endian reads over a derived file's bytes (the spans
//! and logs summaries), each `None` past the end.

/// A read position in `bytes`; every read checks bounds.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at `at` in `bytes`.
    pub(crate) fn new(bytes: &'a [u8], at: usize) -> Self {
        Self { bytes, at }
    }

    /// Where the next read starts.
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(s)
    }

    pub(crate) fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }

    pub(crate) fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    /// A string written as its `u32` length and UTF-8 bytes.
    pub(crate) fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::Cursor;

    #[test]
    fn reads_stop_at_the_end_and_strings_must_be_utf8() {
        let mut b = vec![7u8];
        b.extend(2u32.to_le_bytes());
        b.extend(b"hi");
        b.extend(9u64.to_le_bytes());
        let mut c = Cursor::new(&b, 0);
        assert_eq!(c.u8(), Some(7));
        assert_eq!(c.str().as_deref(), Some("hi"));
        assert_eq!(c.u64(), Some(9));
        assert_eq!(c.at(), b.len());
        assert_eq!(c.u8(), None);
        let bad = [1, 0, 0, 0, 0xff];
        assert_eq!(Cursor::new(&bad, 0).str(), None);
        assert_eq!(Cursor::new(&[1, 0], 0).u32(), None);
        assert_eq!(Cursor::new(&[], 0).take(usize::MAX), None);
    }
}
