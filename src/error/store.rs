//! How a [`StoreError`] reads over HTTP: an unreachable database is a 503 (nothing was
//! changed, retry); any other storage failure is an invariant broken, logged and answered as
//! an internal error.

use super::ApiError;
use crate::store::StoreError;

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(cause) => {
                tracing::error!(error = %cause, "database operation failed");
                Self::Unavailable {
                    dependency: "database",
                }
            }
            other => {
                tracing::error!(error = %other, "storage invariant broken");
                Self::Internal
            }
        }
    }
}
