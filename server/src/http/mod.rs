//! What HTTP handlers answer and take: [`error::ApiError`] and request parameters.

pub(crate) mod duration;
pub(crate) mod error;
pub(crate) mod params;
