//! The worker's side of the cluster token (`[cluster] token_file`, `docs/scale-out.md`):
//! with one configured, a `--role worker` process runs only the tasks whose gRPC request
//! carries `authorization: Bearer <token>` (query processes and other workers send it,
//! `strata_query::sql`'s distributed module), and refuses the rest with `UNAUTHENTICATED`.
//! The presented token is hashed and compared with the configured one's digest in
//! constant time, as `[[auth.tokens]]` are.

use sha2::{Digest, Sha256};
use strata_query::sql::ClusterToken;
use subtle::ConstantTimeEq;
use tonic::service::Interceptor;
use tonic::{Request, Status};

/// Admits the requests that carry the cluster token.
#[derive(Clone)]
pub(crate) struct TaskCheck {
    digest: [u8; 32],
}

impl TaskCheck {
    /// A check for `token`.
    pub(crate) fn new(token: &ClusterToken) -> Self {
        let mut digest = [0; 32];
        digest.copy_from_slice(Sha256::digest(token.secret().as_bytes()).as_slice());
        Self { digest }
    }

    fn admits(&self, req: &Request<()>) -> Result<(), &'static str> {
        let value = req
            .metadata()
            .get("authorization")
            .ok_or("missing the cluster token (authorization: Bearer <token>)")?;
        let presented = super::bearer(value.as_bytes())
            .ok_or("the authorization metadata is not \"Bearer <token>\"")?;
        let digest = Sha256::digest(presented.as_bytes());
        if bool::from(self.digest[..].ct_eq(digest.as_slice())) {
            Ok(())
        } else {
            Err("not the cluster token")
        }
    }
}

impl Interceptor for TaskCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        match self.admits(&req) {
            Ok(()) => Ok(req),
            Err(why) => {
                tracing::warn!(
                    peer = ?req.remote_addr(),
                    "refused a distributed query task: {why}"
                );
                Err(Status::unauthenticated(format!("worker: {why}")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: Option<&str>) -> Request<()> {
        let mut req = Request::new(());
        if let Some(v) = value {
            req.metadata_mut()
                .insert("authorization", v.parse().expect("ascii"));
        }
        req
    }

    #[test]
    fn only_the_configured_token_is_admitted() {
        let token = ClusterToken::new("0123456789abcdef-secret").expect("token");
        let mut check = TaskCheck::new(&token);
        assert!(
            check
                .call(with(Some("Bearer 0123456789abcdef-secret")))
                .is_ok()
        );
        assert!(
            check
                .call(with(Some("bearer 0123456789abcdef-secret")))
                .is_ok()
        );
        for bad in [
            None,
            Some("Bearer 0123456789abcdef-other"),
            Some("Basic 0123456789abcdef-secret"),
            Some("0123456789abcdef-secret"),
        ] {
            let status = check.call(with(bad)).expect_err("refused");
            assert_eq!(status.code(), tonic::Code::Unauthenticated, "{bad:?}");
            assert!(status.message().starts_with("worker: "), "{bad:?}");
        }
    }
}
