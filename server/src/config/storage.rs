//! `[storage]`: where committed partitions are mirrored (`docs/scale-out.md`).
//!
//! `backend = "local"` (the default) keeps everything on the data directory's disk.
//! `backend = "s3"` mirrors every committed partition to an S3-compatible bucket through
//! the `object_store` crate; credentials and region come from the file or, when absent,
//! from the standard `AWS_*` environment variables.

use std::sync::Arc;
use std::time::Duration;

use object_store::RetryConfig;
use object_store::aws::AmazonS3Builder;
use serde::Deserialize;
use strata_engine::RemoteConfig;

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
}

/// The engine's mirror for `section`, or `None` for the local backend.
pub(crate) fn remote(section: &StorageSection) -> Result<Option<RemoteConfig>> {
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

fn s3(s: &StorageSection) -> Result<RemoteConfig> {
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
    let mut b = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry);
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
    let mut remote = RemoteConfig::new(Arc::new(store), prefix);
    if let Some(g) = &s.delete_grace {
        remote.delete_grace = parse_duration("storage.delete_grace", g)?;
    }
    if let Some(i) = &s.interval {
        remote.interval = parse_duration("storage.interval", i)?;
    }
    Ok(remote)
}
