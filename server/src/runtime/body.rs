//! [`BodyLimits`]: reading a request body under `server.max_body_bytes` (413 beyond it),
//! and growing a chunked ingest body's share of the ingest memory budget as it is read.

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use http_body_util::BodyExt;

use crate::http::error::ApiError;
use crate::runtime::inflight::{Inflight, InflightPermit, declared_cost};

/// After refusing a body over the limit, how much more of it is read and discarded (so the
/// client, still sending, gets the 413 instead of a connection reset) and for how long.
const DRAIN_BYTES: u64 = 16 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and discards up to [`DRAIN_BYTES`] of `body` for at most [`DRAIN_TIME`].
pub(crate) async fn drain(mut body: Body) {
    let discard = async {
        let mut n = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            n += frame.data_ref().map_or(0, |d| d.len() as u64);
            if n > DRAIN_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// The request body limit (`server.max_body_bytes`). Copied into every handle that reads
/// bodies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    /// `server.max_body_bytes`.
    pub(crate) max_bytes: u64,
}

impl BodyLimits {
    /// Reads a request body of at most `max_bytes` (413 beyond it, refused from the
    /// Content-Length before reading when the client declares one).
    pub(crate) async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, ApiError> {
        self.read_limited(headers, body, None).await
    }

    /// [`BodyLimits::read_body`]; with `chunked` (a body without a declared length, its
    /// permit, whether it is compressed, and the budget the permit is from), the permit
    /// grows as the body is read ([`chunked_charge`]). A grow refused after the wait ends
    /// the read (the rest of the body is drained, as for one over the limit) and is the
    /// answer.
    pub(crate) async fn read_limited(
        &self,
        headers: &HeaderMap,
        body: Body,
        mut chunked: Option<(&mut InflightPermit, bool, &Inflight)>,
    ) -> Result<Bytes, ApiError> {
        let limit = self.max_bytes;
        let declared = content_length(headers);
        if let Some(len) = declared
            && len > limit
        {
            return Err(too_large(limit, Some(len)));
        }
        let mut body = body;
        // Sized from a declared length (under the limit here; at most 16 MiB reserved ahead
        // of the data), so the copy does not grow by doubling.
        let declared = declared.unwrap_or(0);
        let mut buf: Vec<u8> = Vec::with_capacity(declared.min(limit).min(16 << 20) as usize);
        let mut charged = 0; // wire bytes a chunked body's permit covers
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if (buf.len() + data.len()) as u64 > limit {
                drain(body).await;
                return Err(too_large(limit, None));
            }
            if buf.capacity() - buf.len() < data.len() {
                // Grow by doubling, but never past the limit.
                let want = (buf.capacity() * 2)
                    .max(buf.len() + data.len())
                    .min(limit as usize);
                buf.reserve_exact(want - buf.len());
            }
            buf.extend_from_slice(&data);
            let read = buf.len() as u64;
            if let Some((permit, compressed, budget)) = chunked.as_mut()
                && read > charged
            {
                charged = chunked_charge(read, charged, limit);
                if let Err(e) = budget
                    .resize(permit, declared_cost(charged, *compressed))
                    .await
                {
                    drain(body).await;
                    return Err(e);
                }
            }
        }
        Ok(Bytes::from(buf))
    }
}

/// 413 for a body over `limit` bytes (`declared`: its declared length, when known).
pub(crate) fn too_large(limit: u64, declared: Option<u64>) -> ApiError {
    let size = declared.map_or(String::new(), |n| format!(" of {n} bytes"));
    ApiError::PayloadTooLarge(format!(
        "request body{size} is over the limit of {limit} bytes (server.max_body_bytes)"
    ))
}

/// The wire bytes a chunked body being read is charged for once it has read `read`
/// bytes, having been charged for `charged`: at least twice the old charge and
/// [`CHUNKED_STEP`] (so a body grows its share a logarithmic number of times), never
/// less than what it has read, never over `limit` (`server.max_body_bytes`).
fn chunked_charge(read: u64, charged: u64, limit: u64) -> u64 {
    charged
        .saturating_mul(2)
        .max(CHUNKED_STEP)
        .min(limit)
        .max(read)
}

/// The first step of a chunked body's share of the ingest budget, in wire bytes.
const CHUNKED_STEP: u64 = 64 * 1024;

/// The request's declared `Content-Length`, if it has a valid one.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunked body's charge covers what it has read, never more than twice that (or the
    /// first step), never over the limit, and grows a logarithmic number of times.
    #[test]
    fn a_chunked_body_is_charged_between_what_it_read_and_twice_that() {
        let limit = 8 << 20;
        for frame in [1u64, 1000, 16 * 1024, 1 << 20] {
            let (mut read, mut charged, mut grows) = (0u64, 0u64, 0);
            while read < limit {
                read = (read + frame).min(limit);
                if read > charged {
                    charged = chunked_charge(read, charged, limit);
                    grows += 1;
                }
                assert!(charged >= read, "{charged} < {read}");
                assert!(charged <= (2 * read).max(CHUNKED_STEP).min(limit));
            }
            assert!(grows <= 8, "{grows} grows for {frame}-byte frames");
        }
    }
}
