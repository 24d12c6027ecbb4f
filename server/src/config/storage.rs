//! `[storage]`: where committed partitions are mirrored (`docs/scale-out.md`), and when a
//! metrics partition turns cold (`cold_after`, read with the retention keys).
//!
//! `backend = "local"` (the default) keeps everything on the data directory's disk.
//! `backend = "s3"` mirrors every committed partition to an S3-compatible bucket through
//! the `object_store` crate; credentials and region come from the file or, when absent,
//! from the standard `AWS_*` environment variables. A query process (`--role query`,
//! `[cluster] role`) reads that bucket instead, caching up to `cache_bytes` of it.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};
use serde::Deserialize;
use strata_engine::{ReaderConfig, RemoteConfig};

use super::parse_duration;
use crate::error::{Error, Result};

/// `[storage]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageSection {
    pub(crate) backend: Option<String>,
    pub(crate) bucket: Option<String>,
    pub(crate) prefix: Option<String>,
    pub(crate) endpoint: Option<String>,
    pub(crate) region: Option<String>,
    pub(crate) allow_http: Option<bool>,
    pub(crate) access_key_id: Option<String>,
    pub(crate) secret_access_key: Option<String>,
    pub(crate) delete_grace: Option<String>,
    pub(crate) interval: Option<String>,
    pub(crate) request_timeout: Option<String>,
    pub(crate) cache_bytes: Option<u64>,
    /// The age at which a metrics partition turns cold (`strata_engine::Limits::cold_after`);
    /// every role reads it, the local backend too.
    pub(crate) cold_after: Option<String>,
}

/// The engine's mirror for `section`, or `None` for the local backend. (`delete_grace` is
/// the writer's only: one file serves every role.)
pub(crate) fn remote(section: &StorageSection) -> Result<Option<RemoteConfig>> {
    let Some((store, prefix)) = bucket(section)? else {
        return Ok(None);
    };
    let mut remote = RemoteConfig::new(store, prefix);
    if let Some(g) = &section.delete_grace {
        remote.delete_grace = parse_duration("storage.delete_grace", g)?;
    }
    if let Some(i) = &section.interval {
        remote.interval = parse_duration("storage.interval", i)?;
    }
    remote.cache_bytes = section.cache_bytes;
    Ok(Some(remote))
}

/// A query process's reader of `section`'s bucket.
pub(crate) fn reader(section: &StorageSection) -> Result<ReaderConfig> {
    let Some((store, prefix)) = bucket(section)? else {
        return Err(Error::config(
            "storage.backend",
            "a query process (--role query) reads a bucket: give backend = \"s3\"",
        ));
    };
    let mut reader = ReaderConfig::new(store, prefix);
    if let Some(i) = &section.interval {
        reader.refresh = parse_duration("storage.interval", i)?;
    }
    if let Some(n) = section.cache_bytes {
        reader.cache_bytes = n;
    }
    Ok(reader)
}

/// The bucket and prefix of `section`, or `None` for the local backend.
fn bucket(section: &StorageSection) -> Result<Option<(Arc<dyn ObjectStore>, String)>> {
    let s3_only = [
        ("bucket", section.bucket.is_some()),
        ("prefix", section.prefix.is_some()),
        ("endpoint", section.endpoint.is_some()),
        ("access_key_id", section.access_key_id.is_some()),
    ];
    match section.backend.as_deref().unwrap_or("local") {
        "local" => {
            if let Some((key, _)) = s3_only.iter().find(|(_, set)| *set) {
                return Err(Error::config(
                    format!("storage.{key}"),
                    "only with backend = \"s3\"",
                ));
            }
            Ok(None)
        }
        "s3" => s3(section).map(Some),
        other => Err(Error::config(
            "storage.backend",
            format!("{other:?} is not one of \"local\", \"s3\""),
        )),
    }
}

fn s3(s: &StorageSection) -> Result<(Arc<dyn ObjectStore>, String)> {
    let bucket = s
        .bucket
        .as_deref()
        .filter(|b| !b.is_empty())
        .ok_or_else(|| Error::config("storage.bucket", "required with backend = \"s3\""))?;
    let timeout = match &s.request_timeout {
        Some(t) => parse_duration("storage.request_timeout", t)?,
        None => Duration::from_secs(30),
    };
    // Each request retried with backoff for at most `timeout`; a pass that still fails
    // is retried by the mirror (1 s doubling to 1 min).
    let retry = RetryConfig {
        max_retries: 5,
        retry_timeout: timeout,
        ..RetryConfig::default()
    };
    // And each attempt gives up after `timeout` too (object_store's default is 30 s a
    // request): a server that accepts connections but never answers fails the pass.
    let client = ClientOptions::new()
        .with_timeout(timeout)
        .with_connect_timeout(timeout.min(Duration::from_secs(5)));
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .with_client_options(client);
    if let Some(e) = &s.endpoint {
        b = b.with_endpoint(e);
    }
    if let Some(r) = &s.region {
        b = b.with_region(r);
    }
    if let Some(on) = s.allow_http {
        b = b.with_allow_http(on);
    }
    match (&s.access_key_id, &s.secret_access_key) {
        (Some(id), Some(secret)) => {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
        }
        (None, None) => {}
        _ => {
            return Err(Error::config(
                "storage.access_key_id",
                "give both access_key_id and secret_access_key, or neither (then AWS_* \
                 variables)",
            ));
        }
    }
    let store = b
        .build()
        .map_err(|e| Error::config("storage", e.to_string()))?;
    let prefix = s.prefix.clone().unwrap_or_default();
    if prefix.starts_with('/') || prefix.ends_with('/') {
        return Err(Error::config(
            "storage.prefix",
            "no leading or trailing '/'",
        ));
    }
    Ok((Arc::new(store), prefix))
}
