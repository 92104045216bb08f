//! A certificate's stored status: the wire type itself (its wire name is its stored name), with
//! the rule that an active or suspended certificate past `not_after` is expired
//! (`CertStatus::at`). The transitions between statuses are checked in `pki::lifecycle`.

pub use fincert_client::proto::certificates::CertStatus;
