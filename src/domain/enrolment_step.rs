//! An enrolment's purpose (issue or reissue) and the step it waits for: the wire types
//! themselves, whose wire names are their stored names, with the order of the steps
//! (`Step::next`). The rule that refuses a step out of turn is in `auth::enrolment::state`.

pub use fincert_client::proto::enrolment::{Purpose, Step};
