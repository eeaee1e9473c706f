//! The tokio typed socket: `WebSocket<IO>` over any `AsyncRead + AsyncWrite` stream.
//!
//! (Skeleton: the entry points other layers build on. Issue 3 fills it in.)

use crate::protocol::{Driver, Options};

/// Socket settings: the core's [`Options`] plus the socket's own buffers.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub(crate) options: Options,
}

impl Config {
    /// Uses `options` for the protocol core.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// The protocol core's options.
    pub fn get_options(&self) -> &Options {
        &self.options
    }
}

/// A WebSocket connection over `IO`.
#[derive(Debug)]
pub struct WebSocket<IO> {
    #[allow(dead_code)]
    io: IO,
    #[allow(dead_code)]
    driver: Driver,
    #[allow(dead_code)]
    config: Config,
}

impl<IO> WebSocket<IO>
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    /// Wraps a stream whose handshake the caller has already started: the driver
    /// was `start()`ed (or `start_without_head()`ed, or `finish_handshake()`d by a
    /// client), and any bytes read past the HTTP head were fed to it.
    pub fn from_driver(io: IO, driver: Driver, config: Config) -> Self {
        WebSocket { io, driver, config }
    }
}
