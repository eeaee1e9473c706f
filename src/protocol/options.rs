//! Options shared by both roles: limits, timers, subprotocols.

use http::HeaderMap;
use std::time::Duration;

/// Timer durations are capped at about a century: "never" in practice, and short
/// enough that adding one to an `Instant` cannot overflow (which would panic).
const MAX_TIMER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Limits, timers and negotiation settings for a [`Driver`](super::Driver).
///
/// Every limit has a safe default:
///
/// | setting | default | used by |
/// |---|---|---|
/// | [`max_frame_size`](Options::max_frame_size) | 16 MiB | both |
/// | [`max_message_size`](Options::max_message_size) | 64 MiB | both |
/// | [`max_handshake_size`](Options::max_handshake_size) | 16 KiB | both |
/// | [`close_timeout`](Options::close_timeout) | 5 s | both |
/// | [`keepalive`](Options::keepalive) | off | both |
/// | [`idle_timeout`](Options::idle_timeout) | off | both |
/// | [`protocols`](Options::protocols) | none | both |
/// | [`allow_drafts`](Options::allow_drafts) | `false` | server |
/// | [`secure`](Options::secure) | `false` | server (hixie `Location`) |
/// | [`headers`](Options::headers) | none | client |
/// | [`rng_seed`](Options::rng_seed) | thread RNG | client (key, masks) |
/// | [`deflate`](Options::deflate) (feature `deflate`) | server: accepts with `DeflateConfig::default()`; client: no offer | both |
/// | `max_inflated_message_size` (feature `deflate`) | the max message size | both |
///
/// ```
/// use std::time::Duration;
/// use websocket_protocol::protocol::Options;
/// let options = Options::default()
///     .protocols(["chat", "superchat"])
///     .max_message_size(1 << 20)
///     .keepalive(Duration::from_secs(20))
///     .idle_timeout(Duration::from_secs(60));
/// ```
#[derive(Debug, Clone)]
pub struct Options {
    pub(crate) max_frame_size: usize,
    pub(crate) max_message_size: usize,
    pub(crate) max_handshake_size: usize,
    pub(crate) close_timeout: Duration,
    pub(crate) keepalive: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) protocols: Vec<String>,
    /// Cap on a compressed message once inflated; `None`: `max_message_size`.
    pub(crate) max_inflated_message_size: Option<usize>,
    pub(crate) allow_drafts: bool,
    pub(crate) secure: bool,
    /// Boxed: every connection's driver keeps its options, and most have no
    /// extra headers (an empty map is 96 bytes).
    pub(crate) headers: Option<Box<HeaderMap>>,
    pub(crate) rng_seed: Option<u64>,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Deflate,
}

/// permessage-deflate as configured.
#[cfg(feature = "deflate")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Deflate {
    /// Not set: a server accepts with the default settings, a client offers nothing.
    Default,
    /// Set: a client offers it, a server accepts it.
    On(super::DeflateConfig),
    /// Turned off in both roles.
    Off,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_handshake_size: 16 << 10,
            close_timeout: Duration::from_secs(5),
            keepalive: None,
            idle_timeout: None,
            protocols: Vec::new(),
            max_inflated_message_size: None,
            allow_drafts: false,
            secure: false,
            headers: None,
            rng_seed: None,
            #[cfg(feature = "deflate")]
            deflate: Deflate::Default,
        }
    }
}

impl Options {
    /// Largest payload of a single incoming frame; a larger one closes with 1009.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = bytes;
        self
    }

    /// Largest incoming message, all fragments together (and the largest hixie
    /// frame); a larger one closes with 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Largest HTTP head accepted during the opening handshake.
    pub fn max_handshake_size(mut self, bytes: usize) -> Self {
        self.max_handshake_size = bytes;
        self
    }

    /// How long to wait for the peer's close frame after sending ours (and, on the
    /// client, for the server to close the transport) before giving up.
    ///
    /// Durations over a century count as a century (`Duration::MAX` means never).
    pub fn close_timeout(mut self, timeout: Duration) -> Self {
        self.close_timeout = timeout.min(MAX_TIMER);
        self
    }

    /// Sends a ping whenever the peer has been silent for `interval` (hybi only:
    /// the drafts have no ping).
    ///
    /// Durations over a century count as a century.
    pub fn keepalive(mut self, interval: Duration) -> Self {
        self.keepalive = Some(interval.min(MAX_TIMER));
        self
    }

    /// Closes a peer from which nothing has arrived for `timeout`: the driver
    /// sends a 1001 close frame, reports [`ErrorKind::IdleTimeout`], and asks
    /// for the transport to be shut at once (an idle peer is not waited for).
    ///
    /// Silence counts from the `now` of the last input that brought bytes
    /// ([`Driver::receive`], [`Driver::commit`]), or from the opening. With a
    /// [`keepalive`](Options::keepalive) interval shorter than `timeout`, a live
    /// peer answers the pings and stays open, while a dead one gets a ping every
    /// interval and is closed `timeout` after it last spoke.
    ///
    /// Durations over a century count as a century.
    ///
    /// [`ErrorKind::IdleTimeout`]: super::ErrorKind::IdleTimeout
    /// [`Driver::receive`]: super::Driver::receive
    /// [`Driver::commit`]: super::Driver::commit
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout.min(MAX_TIMER));
        self
    }

    /// The subprotocols to negotiate through `Sec-WebSocket-Protocol`.
    ///
    /// A client offers them in this order. A server picks the **first protocol in
    /// the client's list that appears here** (the client's preference wins, as in
    /// Node's `ws` and websocket-driver); with no match, or none configured, the
    /// handshake succeeds without a subprotocol, as RFC 6455 section 4.2.2 allows.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Accept the hixie-75 and hixie-76 drafts (server). Off by default: the drafts
    /// predate masking, so a request for them gets 426 unless this is set.
    pub fn allow_drafts(mut self, allow: bool) -> Self {
        self.allow_drafts = allow;
        self
    }

    /// Whether the server is reached through TLS, which makes the hixie
    /// `Location` header say `wss://` instead of `ws://`.
    pub fn secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Extra headers for the client's handshake request (authorization, cookies).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = (!headers.is_empty()).then(|| Box::new(headers));
        self
    }

    /// Draws the client's `Sec-WebSocket-Key` and mask keys from a
    /// [`StdRng`](rand::rngs::StdRng) seeded with `seed` instead of the thread's
    /// RNG, so that every byte the client sends is reproducible (tests, replays).
    ///
    /// Masking exists so that a peer cannot predict the bytes a client puts on
    /// the wire (RFC 6455 section 10.3): never set a fixed seed in production.
    /// The stream of a given seed may change with the `rand` version.
    pub fn rng_seed(mut self, seed: u64) -> Self {
        self.rng_seed = Some(seed);
        self
    }

    /// Largest incoming compressed message once inflated, when it should be
    /// lower than [`max_message_size`](Options::max_message_size) (the default);
    /// a larger one closes with 1009 as soon as the inflated output passes it.
    ///
    /// An uncompressed message costs the peer as many bytes as it costs us; a
    /// compressed one does not: about 64 KiB of deflate inflate to 64 MiB. With
    /// deflate on, a peer can make the server hold about 2.5 times the message
    /// limit per connection (the compressed message, and the output growing to the
    /// limit) for a few KiB sent. This cap bounds the inflated part separately, for
    /// servers that accept large uploads but want compressed ones small.
    #[cfg(feature = "deflate")]
    pub fn max_inflated_message_size(mut self, bytes: usize) -> Self {
        self.max_inflated_message_size = Some(bytes);
        self
    }

    /// permessage-deflate (RFC 7692): `Some(config)` to negotiate it with these
    /// settings in both roles (a client offers it, a server accepts a compatible
    /// offer), `None` to turn it off in both.
    ///
    /// Unset, a server accepts a client's offer with [`DeflateConfig::default()`]
    /// and a client offers nothing. Servers accept by default because every
    /// browser offers it and it now costs little: a connection that negotiated it
    /// holds about 300 bytes more until it compresses a message and 8 KiB more
    /// after (a 4 KiB window per direction; the zlib states are shared per
    /// thread), 17.5 KiB of RSS in all against Python `websockets`' 58.6 KiB,
    /// while 16 KiB of JSON goes out in 1.8 KiB and a 0.5 KiB chat line in 143
    /// bytes. The price is CPU: about 150 µs more per echoed 16 KiB JSON message
    /// and 40 µs per chat line (Python `websockets` spends 420 and 145); the
    /// figures are on [`DeflateConfig`]. Turn it off where CPU matters more than
    /// bandwidth, or for traffic that is already compressed. Clients offer it
    /// only when configured: it spends the client's CPU on the server's
    /// bandwidth, a trade for the client's user to choose.
    ///
    /// ```
    /// use websocket_protocol::protocol::{DeflateConfig, Options};
    /// let off = Options::default().deflate(None);
    /// let client = Options::default().deflate(DeflateConfig::default().level(1));
    /// ```
    ///
    /// [`DeflateConfig::default()`]: super::DeflateConfig
    /// [`DeflateConfig`]: super::DeflateConfig
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: impl Into<Option<super::DeflateConfig>>) -> Self {
        self.deflate = match config.into() {
            Some(config) => Deflate::On(config),
            None => Deflate::Off,
        };
        self
    }

    /// The permessage-deflate settings a `role` negotiates with, if any.
    #[cfg(feature = "deflate")]
    pub fn get_deflate(&self, role: super::Role) -> Option<&super::DeflateConfig> {
        const DEFAULT: super::DeflateConfig = super::DeflateConfig::DEFAULT;
        match (&self.deflate, role) {
            (Deflate::On(config), _) => Some(config),
            (Deflate::Default, super::Role::Server) => Some(&DEFAULT),
            (Deflate::Default, super::Role::Client) | (Deflate::Off, _) => None,
        }
    }

    /// The configured subprotocols.
    pub fn get_protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The configured maximum message size.
    pub fn get_max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// The configured close timeout.
    pub fn get_close_timeout(&self) -> Duration {
        self.close_timeout
    }

    /// Whether the drafts are allowed.
    pub fn get_allow_drafts(&self) -> bool {
        self.allow_drafts
    }
}
