//! How a [`StoreError`] reads over HTTP: an unreachable database is a 503 (nothing was
//! changed, retry); a corrupt row (a stored value that does not parse, a row of the wrong
//! shape) is an invariant broken, logged with its table, column and cause, and answered as a
//! 500 `internal_error` that says nothing of it.

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
            StoreError::Corrupt {
                table,
                column,
                problem,
            } => {
                tracing::error!(table, column, problem = %problem, "corrupt row: storage invariant broken");
                Self::Internal
            }
        }
    }
}
