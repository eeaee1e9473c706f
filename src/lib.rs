//! A complete WebSocket implementation: a sans-IO core that any byte stream can
//! drive, speaking RFC 6455 (and the hybi-07/08 drafts) in both roles and the
//! legacy hixie-75 and hixie-76 drafts as a server.
//!
//! Start with [`WebSocket`] (the tokio socket), [`server`] to accept WebSockets
//! in a hyper, tower or axum server, or [`protocol::Driver`] (the sans-IO core).
#![warn(missing_docs)]

pub mod client;
mod error;
pub mod hub;
pub mod protocol;
pub mod server;
pub mod socket;

pub use error::{Error, ErrorKind};
pub use protocol::{CloseCode, CloseFrame, Message, Utf8Bytes, Version};
pub use socket::{CloseHandle, Config, WebSocket};
