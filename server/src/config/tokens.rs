//! `[[auth.tokens]]`: the bearer tokens the server accepts, as configured, and the checks
//! a token must pass before the server starts (`auth/` holds requests against them).

use strata_engine::TenantId;

use super::file::TokenEntry;
use crate::error::{Error, Result};

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Query.
    Read,
    /// Ingest.
    Write,
    /// Operate: reload rules, take snapshots, delete series.
    Admin,
}

impl Scope {
    /// `read`, `write` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
            Self::Admin => "admin",
        }
    }
}

/// One configured token (`[[auth.tokens]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Hex SHA-256 of the bearer token.
    pub sha256: String,
    /// The tenant the token acts for (and the fallback when it may choose).
    pub tenant: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Whether `X-Scope-OrgID` may pick another tenant.
    pub choose_tenant: bool,
}

impl TokenConfig {
    /// The `i`th `[[auth.tokens]]` entry of the file, its scopes parsed.
    pub(super) fn from_entry(i: usize, t: TokenEntry) -> Result<Self> {
        let key = |k: &str| format!("auth.tokens[{i}].{k}");
        let mut scopes = Vec::new();
        for s in &t.scopes {
            scopes.push(match s.as_str() {
                "read" => Scope::Read,
                "write" => Scope::Write,
                "admin" => Scope::Admin,
                other => {
                    return Err(Error::config(
                        key("scopes"),
                        format!("{other:?} is not \"read\", \"write\" or \"admin\""),
                    ));
                }
            });
        }
        Ok(Self {
            sha256: t.sha256,
            tenant: t.tenant,
            scopes,
            choose_tenant: t.choose_tenant,
        })
    }

    /// The token's digest and tenant, checked: 64 hex digits (upper or lower case), a valid
    /// tenant id, at least one scope. `i` is its place in `[[auth.tokens]]`, for the key an
    /// error names.
    pub(crate) fn checked(&self, i: usize) -> Result<([u8; 32], TenantId)> {
        let key = |k: &str| format!("auth.tokens[{i}].{k}");
        let mut digest = [0u8; 32];
        hex::decode_to_slice(self.sha256.trim(), &mut digest).map_err(|_| {
            Error::config(
                key("sha256"),
                "must be 64 hex digits: the SHA-256 of the token (`printf %s TOKEN | sha256sum`)",
            )
        })?;
        let tenant =
            TenantId::new(&self.tenant).map_err(|e| Error::config(key("tenant"), e.to_string()))?;
        if self.scopes.is_empty() {
            return Err(Error::config(
                key("scopes"),
                "must name at least one of \"read\", \"write\", \"admin\"",
            ));
        }
        Ok((digest, tenant))
    }
}
