//! Tenant ids: validated before anything touches the disk.

use std::fmt;

use crate::{Error, Result};

/// The most characters a tenant id may have.
pub const MAX_TENANT_LEN: usize = 64;

/// A tenant id: 1 to 64 characters from `[A-Za-z0-9_-]`. Being a plain path component with
/// no `.` or `/`, it is safe to use in directory names as it is.
///
/// ```
/// use strata_engine::TenantId;
///
/// assert_eq!(TenantId::new("acme-prod_1")?.as_str(), "acme-prod_1");
/// assert!(TenantId::new("..").is_err());
/// assert!(TenantId::new("a/b").is_err());
/// # Ok::<(), strata_engine::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    /// The tenant used when none is named.
    pub const DEFAULT: &'static str = "default";

    /// Validates `id`.
    pub fn new(id: &str) -> Result<Self> {
        let bad = |reason| Error::InvalidTenant {
            id: id.chars().take(80).collect(),
            reason,
        };
        if id.is_empty() {
            return Err(bad("empty"));
        }
        if id.len() > MAX_TENANT_LEN {
            return Err(bad("longer than 64 characters"));
        }
        if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad("only A-Z, a-z, 0-9, '_' and '-' are allowed"));
        }
        Ok(Self(id.to_owned()))
    }

    /// The `default` tenant.
    pub fn default_tenant() -> Self {
        Self(Self::DEFAULT.to_owned())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_allowed_alphabet_up_to_64() {
        for ok in ["a", "default", "A-z_09", &"x".repeat(64)] {
            assert_eq!(TenantId::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn rejects_paths_and_everything_else() {
        let long = "x".repeat(65);
        for bad in [
            "", ".", "..", "a/b", "/", "a\\b", "a.b", "a b", "é", "a\0", "tenant=x", &long,
        ] {
            let err = TenantId::new(bad).unwrap_err();
            assert!(matches!(err, Error::InvalidTenant { .. }), "{bad:?}");
            assert!(err.to_string().contains("invalid tenant id"), "{err}");
        }
    }
}
