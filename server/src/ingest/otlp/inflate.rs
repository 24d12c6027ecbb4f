//! OTLP request bodies without their compression (`Content-Encoding: gzip` over HTTP,
//! `grpc-encoding: gzip` over gRPC), inflated into at most `server.max_body_bytes` of
//! memory: a gzip bomb costs at most the limit, however far it would inflate.
//!
//! The output goes into one buffer, allocated once at its final size, never grown by
//! doubling (a buffer grown from N to 2N holds both while the allocator copies, and the
//! steps before it stay in the allocator's free pages: the old decoder's 1 MB bomb cost
//! about twice the limit). Its size is the one the gzip trailer declares (the last
//! member's length, ISIZE), which is the body's exact length for a single-member body,
//! what OTLP clients normally send. When the body turns out longer (several members, or a
//! trailer that lies), the rest is inflated into a 64 KiB scratch buffer only to count
//! it, up to the limit; within it, the body is inflated again into a buffer of exactly
//! that length. So memory is at most `max(trailer, true length) <= limit` bytes plus 64
//! KiB, and the CPU at most twice the inflation of `limit` bytes.
//!
//! The trailer is trusted for nothing else than that first size, and for refusing at
//! once a body whose trailer declares more than the limit: such a body inflates to at
//! least that much or is corrupt (its last member fails its length check), so it is
//! refused either way, and now without inflating it.
//!
//! Over a request, [`inflate_charged`] charges each buffer to the request's share of the
//! ingest memory budget ([`crate::runtime::inflight`]) before allocating it.

use std::borrow::Cow;
use std::io::Read;

use prost::bytes::Bytes;

use super::error::OtlpError;
use crate::http::error::ApiError;
use crate::runtime::inflight::{InflightPermit, request_cost};
use crate::runtime::ingest_handle::{Ingest, cpu_work};

/// The scratch buffer of the pass that only counts what a body inflates to.
const CHUNK: usize = 64 * 1024;

/// A gzip member is at least 18 bytes: a 10-byte header, a deflate stream (2 bytes at
/// least, counted here as 0) and an 8-byte trailer (CRC-32, then ISIZE).
const GZIP_MIN: usize = 18;

/// A compressed body to inflate into at most `max_len` bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Inflater<'a> {
    body: &'a [u8],
    max_len: usize,
}

/// What one pass of an [`Inflater`] found.
#[derive(Debug)]
pub(crate) enum Pass {
    /// The whole body, inflated.
    Done(Vec<u8>),
    /// The body inflates to this many bytes (at most the limit), more than the pass's
    /// buffer held: inflate it again into a buffer of this size.
    Longer(usize),
}

impl<'a> Inflater<'a> {
    /// The inflater of `body` under `content_encoding`; `None` for a body that is not
    /// compressed (no header, or `identity`), to be used as it is (it is checked against
    /// `max_len`). A `Content-Encoding` other than `gzip` is
    /// [`OtlpError::UnsupportedContentEncoding`].
    pub(crate) fn new(
        body: &'a [u8],
        content_encoding: Option<&str>,
        max_len: usize,
    ) -> Result<Option<Self>, OtlpError> {
        let encoding = content_encoding.map(str::trim).unwrap_or("");
        if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
            if body.len() > max_len {
                return Err(OtlpError::BodyTooLarge { limit: max_len });
            }
            return Ok(None);
        }
        if !(encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip")) {
            return Err(OtlpError::UnsupportedContentEncoding {
                encoding: encoding.to_owned(),
            });
        }
        Ok(Some(Self { body, max_len }))
    }

    /// The size of the first pass's buffer: the length the gzip trailer declares (0 for a
    /// body too short to have one, which fails to inflate). A trailer declaring more than
    /// the limit is [`OtlpError::DeclaredTooLarge`] at once (see the module's
    /// documentation).
    pub(crate) fn first_len(&self) -> Result<usize, OtlpError> {
        if self.body.len() < GZIP_MIN {
            return Ok(0);
        }
        let declared = self
            .body
            .last_chunk::<4>()
            .map_or(0, |isize| u32::from_le_bytes(*isize));
        match usize::try_from(declared) {
            Ok(len) if len <= self.max_len => Ok(len),
            _ => Err(OtlpError::DeclaredTooLarge {
                declared: u64::from(declared),
                limit: self.max_len,
            }),
        }
    }

    /// Inflates the body into one buffer of `len` bytes: [`Pass::Done`] when the body fits, else the
    /// rest is only counted: [`Pass::Longer`] with the body's length when it is at most
    /// the limit, [`OtlpError::BodyTooLarge`] as soon as it passes it. The buffer is
    /// never reallocated.
    pub(crate) fn pass(&self, len: usize) -> Result<Pass, OtlpError> {
        let mut reader = flate2::read::MultiGzDecoder::new(self.body);
        // Zeroed memory from the allocator (fresh pages cost nothing until written).
        let mut out = vec![0u8; len];
        let mut filled = 0;
        while filled < out.len() {
            match read(&mut reader, &mut out[filled..])? {
                0 => {
                    out.truncate(filled);
                    return Ok(Pass::Done(out));
                }
                n => filled += n,
            }
        }
        // Full: count what is left, if anything, without keeping it.
        let mut scratch = vec![0u8; CHUNK];
        let mut total = len;
        loop {
            match read(&mut reader, &mut scratch)? {
                0 if total == len => return Ok(Pass::Done(out)),
                0 => return Ok(Pass::Longer(total)),
                n => total += n,
            }
            if total > self.max_len {
                return Err(OtlpError::BodyTooLarge {
                    limit: self.max_len,
                });
            }
        }
    }

    /// The body inflated: a first pass into a buffer of [`Inflater::first_len`] bytes, a
    /// second of the exact length if it was longer.
    pub(crate) fn inflate(&self) -> Result<Vec<u8>, OtlpError> {
        match self.pass(self.first_len()?)? {
            Pass::Done(out) => Ok(out),
            Pass::Longer(len) => self.exact(len),
        }
    }

    /// The second pass, into a buffer of the length the first one counted.
    fn exact(&self, len: usize) -> Result<Vec<u8>, OtlpError> {
        match self.pass(len)? {
            Pass::Done(out) => Ok(out),
            Pass::Longer(again) => Err(changed_length(len, again)),
        }
    }
}

/// A second pass that did not find the first one's length (a decoder bug).
fn changed_length(len: usize, again: usize) -> OtlpError {
    OtlpError::Gzip {
        source: std::io::Error::other(format!(
            "inflated to {len} bytes, then to {again} (a decoder bug)"
        )),
    }
}

/// One `read`, retried when interrupted.
fn read(reader: &mut impl Read, buf: &mut [u8]) -> Result<usize, OtlpError> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(OtlpError::Gzip { source }),
            Ok(n) => return Ok(n),
        }
    }
}

/// The body with its `Content-Encoding` removed: `identity` (or no header) as it is, `gzip`
/// inflated into at most `max_len` bytes (see the module's documentation). Fails with
/// [`OtlpError::BodyTooLarge`] as soon as the output would pass `max_len` bytes.
pub(crate) fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    max_len: usize,
) -> Result<Cow<'a, [u8]>, OtlpError> {
    match Inflater::new(body, content_encoding, max_len)? {
        None => Ok(Cow::Borrowed(body)),
        Some(inflater) => inflater.inflate().map(Cow::Owned),
    }
}

/// [`decompress`] for a request holding `permit` (its share of the ingest memory budget):
/// `None` when the body is not compressed, else the body inflated. Before each buffer is allocated, the permit is set to the request's estimate
/// ([`request_cost`]) with that many plain bytes, waiting for budget as an admission does
/// (503 after the wait) but holding none while it waits
/// ([`Ingest::resize_requeued`]), so concurrent bombs are bounded by the budget at their
/// real size and take turns. Passes over
/// [`crate::runtime::ingest_handle::INLINE_WORK_MAX_BYTES`] inflate on the blocking pool.
pub(crate) async fn inflate_charged(
    ingest: &Ingest,
    permit: &mut InflightPermit,
    body: &Bytes,
    content_encoding: Option<&str>,
    max_len: usize,
) -> Result<Option<Vec<u8>>, ApiError> {
    let Some(inflater) = Inflater::new(body, content_encoding, max_len)? else {
        return Ok(None);
    };
    let wire = body.len() as u64;
    let charge = |len: usize| request_cost(wire, len as u64, true, 0);
    let pass = |len: usize| {
        let body = body.clone();
        cpu_work(len, move || {
            Inflater {
                body: &body,
                max_len,
            }
            .pass(len)
        })
    };
    let first = inflater.first_len()?;
    ingest.resize_requeued(permit, charge(first)).await?;
    let len = match pass(first).await?? {
        Pass::Done(out) => return Ok(Some(out)),
        Pass::Longer(len) => len,
    };
    ingest.resize_requeued(permit, charge(len)).await?;
    match pass(len).await?? {
        Pass::Done(out) => Ok(Some(out)),
        Pass::Longer(again) => Err(changed_length(len, again).into()),
    }
}

#[cfg(test)]
#[path = "inflate_tests.rs"]
mod tests;
