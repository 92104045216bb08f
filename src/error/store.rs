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

#[cfg(test)]
mod tests {
    use actix_web::ResponseError;

    use super::*;

    #[test]
    fn a_corrupt_row_is_an_internal_error_that_names_nothing() {
        let e = ApiError::from(crate::store::columns::corrupt(
            "certificates",
            "status",
            "\"on_hold\" is not a stored certificate status",
        ));
        assert_eq!(e.status_code().as_u16(), 500);
        assert_eq!(e.code(), "internal_error");
        let p = e.problem();
        for hidden in ["certificates", "status", "on_hold"] {
            assert!(!p.detail.contains(hidden), "{}", p.detail);
        }
        let down = ApiError::from(StoreError::Unavailable(sea_orm::DbErr::Custom("x".into())));
        assert_eq!(down.status_code().as_u16(), 503);
    }
}
