//! [`EngineSlot`]: where the opened engine sits once recovery is done, shared by every
//! handle that reaches it (ingest, queries, the router's state).

use std::sync::{Arc, PoisonError, RwLock};

use strata_engine::Engine;

use crate::http::error::{ApiError, RETRY_AFTER_SECS};

/// The engine, once it is open; empty while it recovers and after shutdown. Cheap to
/// clone: clones share one slot.
#[derive(Debug, Clone, Default)]
pub(crate) struct EngineSlot(Arc<RwLock<Option<Arc<Engine>>>>);

impl EngineSlot {
    /// Installs the opened engine: from now on the server is ready.
    pub(crate) fn set(&self, engine: Arc<Engine>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(engine);
    }

    /// Takes the engine out (at shutdown); later requests get 503.
    pub(crate) fn take(&self) -> Option<Arc<Engine>> {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The engine, or 503 while it is still recovering (or shutting down).
    pub(crate) fn get(&self) -> Result<Arc<Engine>, ApiError> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| ApiError::Unavailable {
                message:
                    "not ready: the engine is recovering its write-ahead log (or shutting down)"
                        .into(),
                retry_after: RETRY_AFTER_SECS,
            })
    }

    /// Whether the engine is open.
    pub(crate) fn is_ready(&self) -> bool {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }
}
