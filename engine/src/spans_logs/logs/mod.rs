//! What belongs to logs alone: their Arrow schema and well-known columns.

pub(crate) mod arrow;
pub(crate) mod columns;
pub(crate) mod summary;
