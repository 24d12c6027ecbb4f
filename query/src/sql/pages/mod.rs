//! Parquet pages read in place, beside the parquet crate's reader: positioned reads of a
//! local file ([`pread`]), a column chunk's pages decompressed here ([`raw`]), the
//! RLE/bit-packing hybrid encoding read by position ([`hybrid`]), the row ranges an access
//! plan reads ([`access`]) and the attribute maps of chosen rows ([`map_rows`]). The log
//! line search (`super::search`) is built on them.

pub(crate) mod access;
pub(crate) mod hybrid;
pub(crate) mod map_rows;
pub(crate) mod pread;
pub(crate) mod raw;
