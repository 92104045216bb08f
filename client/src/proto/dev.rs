//! The development outbox (`GET /dev/outbox/{phone}`, off unless configured): the newest
//! message the development sender "sent" to a phone. Members in byte order of their names, as
//! the server has always written them.

use serde::{Deserialize, Serialize};

use super::enrolment::Channel;

/// A message the development sender kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// The text (it may hold a one-time code: development only).
    pub body: String,
    /// SMS or ARS.
    pub channel: Channel,
    /// The phone it went to (digits).
    pub to: String,
}
