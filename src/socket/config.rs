//! The socket's settings.

use crate::protocol::Options;
use std::time::Duration;

/// Default high-water mark of the write buffer.
const WRITE_BUFFER_SIZE: usize = 128 << 10;

/// Default bound on what is read and not yet taken by the application.
const MESSAGE_BUFFER_SIZE: usize = 64 << 10;

/// Default largest fragment a message writer cuts.
const FRAGMENT_SIZE: usize = 64 << 10;

/// Default time allowed for an opening handshake on a raw stream.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Settings of a [`WebSocket`](super::WebSocket): the protocol core's [`Options`]
/// (limits, timers, subprotocols) plus the socket's own buffers.
///
/// | setting | default | what it bounds |
/// |---|---|---|
/// | [`max_frame_size`](Config::max_frame_size) | 16 MiB | one incoming frame (1009 above it) |
/// | [`max_message_size`](Config::max_message_size) | 64 MiB | one incoming message (1009 above it) |
/// | [`write_buffer_size`](Config::write_buffer_size) | 128 KiB | bytes queued for writing before `send` waits |
/// | [`message_buffer_size`](Config::message_buffer_size) | 64 KiB | what is read and not yet taken by the application; past it, reading stops |
/// | [`fragment_size`](Config::fragment_size) | 64 KiB | one fragment of a message sent with a [`MessageWriter`](super::MessageWriter) or [`MessageSink`](super::MessageSink) |
/// | [`close_timeout`](Config::close_timeout) | 5 s | the wait for the peer's close frame |
/// | [`handshake_timeout`](Config::handshake_timeout) | 10 s | [`accept`](super::WebSocket::accept) and [`connect`](super::WebSocket::connect) |
/// | [`keepalive`](Config::keepalive) | off | pings sent after this much silence |
/// | [`idle_timeout`](Config::idle_timeout) | off | silence after which the connection closes (1001) |
///
/// Read buffers are not configured: they start empty, grow to the size of the
/// frame being read (bounded by the limits above) and are released once the
/// connection goes quiet.
///
/// # Reading is bounded
///
/// The socket reads from the transport only while the application keeps up:
/// once messages wait unread beyond [`message_buffer_size`](Config::message_buffer_size),
/// it stops reading, and TCP pushes back on the peer. A message in progress
/// may take it past the bound (up to the max message size): it has to arrive
/// whole to be taken. Pings and close frames are answered in the order they
/// arrived, so those behind unread messages are answered once the application
/// reads again, and a [`ping`](super::WebSocket::ping) whose pong comes behind
/// unread messages resolves then too.
///
/// ```
/// use std::time::Duration;
/// use websocket_protocol::Config;
/// let config = Config::default()
///     .max_message_size(1 << 20)
///     .write_buffer_size(256 << 10)
///     .keepalive(Duration::from_secs(20))
///     .idle_timeout(Duration::from_secs(60));
/// assert_eq!(config.get_options().get_max_message_size(), 1 << 20);
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) options: Options,
    pub(crate) write_buffer_size: usize,
    pub(crate) message_buffer_size: usize,
    pub(crate) handshake_timeout: Duration,
    pub(crate) fragment_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            options: Options::default(),
            write_buffer_size: WRITE_BUFFER_SIZE,
            message_buffer_size: MESSAGE_BUFFER_SIZE,
            handshake_timeout: HANDSHAKE_TIMEOUT,
            fragment_size: FRAGMENT_SIZE,
        }
    }
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

    /// The write buffer's high-water mark: [`send`](super::WebSocket::send) and
    /// the `Sink`'s `poll_ready` wait while more than this many bytes are queued
    /// for writing. One message may take the queue past the mark; the next waits.
    pub fn write_buffer_size(mut self, bytes: usize) -> Self {
        self.write_buffer_size = bytes;
        self
    }

    /// The most bytes read from the transport and not yet taken by the
    /// application (messages that wait for [`recv`](super::WebSocket::recv),
    /// and input not decoded yet): past it, the socket stops reading and TCP
    /// holds the peer back. A message in progress may exceed it, up to the max
    /// message size. Defaults to 64 KiB; see "Reading is bounded" above for what
    /// waits behind unread messages.
    pub fn message_buffer_size(mut self, bytes: usize) -> Self {
        self.message_buffer_size = bytes;
        self
    }

    /// How long [`accept`](super::WebSocket::accept) and
    /// [`connect`](super::WebSocket::connect) wait for the opening handshake.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// The largest fragment (payload bytes, before compression) that a
    /// [`MessageWriter`](super::MessageWriter) or [`MessageSink`](super::MessageSink)
    /// cuts a streamed message into: 64 KiB by default, at least 1. Smaller
    /// fragments let pings and pongs through sooner; larger ones cost fewer
    /// headers. The writer holds up to this much before it cuts a fragment.
    pub fn fragment_size(mut self, bytes: usize) -> Self {
        self.fragment_size = bytes.max(1);
        self
    }

    /// The largest fragment a message writer cuts.
    pub fn get_fragment_size(&self) -> usize {
        self.fragment_size
    }

    /// Shorthand for [`Options::max_message_size`].
    pub fn max_message_size(self, bytes: usize) -> Self {
        self.map_options(|o| o.max_message_size(bytes))
    }

    /// Shorthand for [`Options::max_frame_size`].
    pub fn max_frame_size(self, bytes: usize) -> Self {
        self.map_options(|o| o.max_frame_size(bytes))
    }

    /// Shorthand for [`Options::close_timeout`].
    pub fn close_timeout(self, timeout: Duration) -> Self {
        self.map_options(|o| o.close_timeout(timeout))
    }

    /// Shorthand for [`Options::keepalive`].
    pub fn keepalive(self, interval: Duration) -> Self {
        self.map_options(|o| o.keepalive(interval))
    }

    /// Shorthand for [`Options::idle_timeout`].
    pub fn idle_timeout(self, timeout: Duration) -> Self {
        self.map_options(|o| o.idle_timeout(timeout))
    }

    /// Shorthand for [`Options::protocols`].
    pub fn protocols<I, S>(self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.map_options(|o| o.protocols(protocols))
    }

    /// Shorthand for [`Options::allow_drafts`].
    pub fn allow_drafts(self, allow: bool) -> Self {
        self.map_options(|o| o.allow_drafts(allow))
    }

    /// Shorthand for [`Options::deflate`]: negotiate permessage-deflate with
    /// these settings, or `None` to turn it off (servers accept it by default).
    #[cfg(feature = "deflate")]
    pub fn deflate(self, deflate: impl Into<Option<crate::protocol::DeflateConfig>>) -> Self {
        self.map_options(|o| o.deflate(deflate))
    }

    /// The write buffer's high-water mark.
    pub fn get_write_buffer_size(&self) -> usize {
        self.write_buffer_size
    }

    /// The most bytes held unread before reading stops.
    pub fn get_message_buffer_size(&self) -> usize {
        self.message_buffer_size
    }

    /// The opening handshake's timeout on raw streams.
    pub fn get_handshake_timeout(&self) -> Duration {
        self.handshake_timeout
    }

    fn map_options(mut self, f: impl FnOnce(Options) -> Options) -> Self {
        self.options = f(std::mem::take(&mut self.options));
        self
    }
}
