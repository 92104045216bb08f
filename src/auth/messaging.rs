//! Messages to people (one-time codes by SMS or ARS call, device notices) behind a trait: the
//! development adapter keeps them in memory for tests and local runs; a production adapter
//! hands them to a telecom gateway over HTTP. Message bodies may hold one-time codes: they are
//! never logged and never written to the database.

use std::{collections::VecDeque, sync::Mutex};

use serde::Serialize;

use crate::domain::person::Phone;

/// How a one-time code reaches the user: the wire type itself.
pub use fincert_client::proto::enrolment::Channel;

/// Sending failed (the caller fails closed: 503, and the code is not stored as sent).
#[derive(Debug, Clone, thiserror::Error)]
#[error("message sending unavailable: {0}")]
pub struct SendError(pub String);

/// Delivers messages.
#[async_trait::async_trait]
pub trait MessageSender: Send + Sync {
    /// Sends `body` to `to` over `channel`.
    async fn send(&self, to: &Phone, channel: Channel, body: &str) -> Result<(), SendError>;
}

/// A delivered message, as the development outbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Recipient (digits).
    pub to: String,
    /// Channel.
    pub channel: Channel,
    /// Body.
    pub body: String,
}

/// Development adapter: the last 1,000 messages, in memory only.
#[derive(Default)]
pub struct DevOutbox {
    messages: Mutex<VecDeque<Message>>,
}

impl DevOutbox {
    /// The newest message to `phone`, if any.
    pub fn last_to(&self, phone: &str) -> Option<Message> {
        let digits = Phone::parse(phone).ok()?;
        self.messages
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|m| m.to == digits.as_str())
            .cloned()
    }

    /// Every kept message to `phone`, oldest first.
    pub fn messages_to(&self, phone: &str) -> Vec<Message> {
        let Ok(digits) = Phone::parse(phone) else {
            return Vec::new();
        };
        self.messages
            .lock()
            .map(|m| {
                m.iter()
                    .filter(|x| x.to == digits.as_str())
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// How many messages went to `phone`.
    pub fn count_to(&self, phone: &str) -> usize {
        let Ok(digits) = Phone::parse(phone) else {
            return 0;
        };
        self.messages
            .lock()
            .map(|m| m.iter().filter(|x| x.to == digits.as_str()).count())
            .unwrap_or(0)
    }
}

#[async_trait::async_trait]
impl MessageSender for DevOutbox {
    async fn send(&self, to: &Phone, channel: Channel, body: &str) -> Result<(), SendError> {
        let mut messages = self
            .messages
            .lock()
            .map_err(|_| SendError("outbox lock poisoned".into()))?;
        if messages.len() >= 1000 {
            messages.pop_front();
        }
        messages.push_back(Message {
            to: to.as_str().to_owned(),
            channel,
            body: body.to_owned(),
        });
        tracing::info!(to = %to.masked(), ?channel, "development outbox: message kept in memory");
        Ok(())
    }
}

/// Production adapter: a signed POST to the telecom gateway's webhook, which delivers the SMS
/// or places the ARS call and answers 2xx.
pub struct HttpMessageSender {
    partner: crate::outbound::Partner,
    clock: crate::clock::SharedClock,
}

impl HttpMessageSender {
    /// Over a partner endpoint.
    pub fn new(partner: crate::outbound::Partner, clock: crate::clock::SharedClock) -> Self {
        Self { partner, clock }
    }
}

#[derive(Serialize)]
struct MessageBody<'a> {
    to: &'a str,
    channel: Channel,
    body: &'a str,
}

#[async_trait::async_trait]
impl MessageSender for HttpMessageSender {
    async fn send(&self, to: &Phone, channel: Channel, body: &str) -> Result<(), SendError> {
        let message = MessageBody {
            to: to.as_str(),
            channel,
            body,
        };
        let _: serde_json::Value = self
            .partner
            .post(&message, self.clock.now().timestamp())
            .await
            .map_err(SendError)?;
        Ok(())
    }
}
