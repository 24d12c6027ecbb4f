//! Spans and logs: their store in memory, checks, the record encoders and writer, flush, reads, compaction and deletes.

pub(crate) mod arrow;
pub(crate) mod bloom;
pub(crate) mod check;
pub(crate) mod compact;
pub(crate) mod cursor;
pub(crate) mod flush;
#[doc(hidden)]
pub mod flush_stages;
pub(crate) mod logs;
pub(crate) mod map_chunk;
pub(crate) mod meta;
pub(crate) mod order;
pub(crate) mod ranged;
pub(crate) mod read;
#[doc(hidden)]
pub mod record_memory;
pub(crate) mod row_filter;
pub(crate) mod shared_lists;
pub(crate) mod spans;
pub(crate) mod store;
pub(crate) mod writer;
