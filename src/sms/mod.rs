//! SMS, the second channel: what a message says and how fast a campaign sends them.
//!
//! - [`template`]: the templates of `[[templates]]` and filling them from a request's
//!   attributes.
//! - [`pace`]: a campaign's messages-per-second allowance.
//!
//! Both are pure. The engine claims and sends SMS requests ([`crate::engine::sms`]) through
//! [`crate::contact_center::ContactCenter::start_outbound_chat_contact`].

pub mod pace;
pub mod template;
