//! Which certificate (financial or joint) and where its key lives (cloud or device): the wire
//! types themselves, whose wire names are their stored names. The rules over them (validity,
//! which storage a kind allows) are in `pki::profile`.

pub use fincert_client::proto::certificates::{CertKind, Storage};
