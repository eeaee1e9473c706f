// The front page is the README, so that docs.rs, crates.io and the repository
// say the same thing and its examples are compiled as doctests. Some of them use
// axum, so it is the front page when the `axum` feature is on (the default, and
// docs.rs builds with every feature).
#![cfg_attr(feature = "axum", doc = include_str!("../README.md"))]
#![cfg_attr(
    not(feature = "axum"),
    doc = "A complete WebSocket implementation: a sans-IO core that any byte \
           stream can drive, with tokio, hyper, tower and axum adapters. The \
           README (the front page with the `axum` feature) has the overview."
)]
//!
//! ## Where things are
//!
//! | you have | start with |
//! |---|---|
//! | an axum app | [`server::WsUpgrade`] (feature `axum`) |
//! | a tower or hyper service | [`server::WsLayer`], [`server::http_builder`] |
//! | a URL to connect to | [`client::connect`], [`client::Builder`] |
//! | a byte stream | [`WebSocket::accept`], [`WebSocket::connect`] |
//! | your own I/O loop | [`protocol::Driver`] |
//!
//! Then [`WebSocket`] for reading ([`recv`](WebSocket::recv)), writing and
//! closing, [`Message`] for what is read, [`Config`] for limits and timers, and
//! [`Error`] for what can go wrong and how the crate's errors fit together.
#![cfg_attr(docsrs, feature(doc_cfg))]
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
