//! The sans-IO protocol core.
//!
//! [`Driver`] owns every rule of the protocol and does no I/O: feed it the bytes
//! your transport reads, write the bytes it hands you, and react to its
//! [`Event`]s. It never blocks, spawns or reads a clock (time enters as the
//! `now` argument of its inputs and commands), so it runs the same over a blocking
//! `std::net::TcpStream`, a tokio stream or an in-memory buffer in a test.
//!
//! It speaks RFC 6455 (announced as hybi-07, hybi-08 or 13) in both roles and the
//! legacy hixie-75 and hixie-76 drafts as a server.

mod buffer;
mod close;
#[cfg(feature = "deflate")]
mod deflate;
#[cfg(not(feature = "deflate"))]
#[path = "deflate_off.rs"]
mod deflate;
mod driver;
mod error;
mod event;
mod extension;
mod frame;
mod framing;
mod handshake;
mod hixie;
mod hybi;
mod input;
mod mask;
mod options;
mod output;
mod prepared;
mod rng;
mod state;
mod streaming;
mod utf8;
mod version;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
#[cfg(feature = "deflate")]
pub use deflate::{DeflateConfig, DeflateParams, PERMESSAGE_DEFLATE};
pub use driver::{Driver, KEEPALIVE_PAYLOAD};
pub use error::{Error, ErrorKind};
pub use event::{Chunk, Event, Message, MessageKind, Transmit};
pub(crate) use handshake::{
    accept as check_request, accept_extended_connect as check_extended_connect,
    is_extended_connect, is_upgrade_request, response_bytes, wants_websocket, Accepted,
    HYBI_ORIGIN,
};
pub use handshake::{accept_key, parse_request};
#[cfg(feature = "axum")]
pub(crate) use handshake::{negotiate, requested_protocols};
pub use mask::apply_mask;
pub use options::Options;
pub use prepared::PreparedMessage;
pub use state::{CloseCause, ConnectionState, ReadyState, Side};
pub use streaming::{OutgoingMessage, Unfinished};
pub use utf8::Utf8Bytes;
pub use version::{Role, Version};
