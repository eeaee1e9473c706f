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
/// | `deflate` (feature `deflate`) | off | both |
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
    pub(crate) allow_drafts: bool,
    pub(crate) secure: bool,
    pub(crate) headers: HeaderMap,
    pub(crate) rng_seed: Option<u64>,
    #[cfg(feature = "deflate")]
    pub(crate) deflate: Option<super::DeflateConfig>,
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
            allow_drafts: false,
            secure: false,
            headers: HeaderMap::new(),
            rng_seed: None,
            #[cfg(feature = "deflate")]
            deflate: None,
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
    /// the seed module and Node's `ws`); with no match, or none configured, the
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
        self.headers = headers;
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

    /// Negotiate permessage-deflate (RFC 7692) with these settings: a client
    /// offers it, a server accepts a compatible offer.
    ///
    /// Off by default: compression state costs each connection a few hundred KiB
    /// (the LZ77 windows and hash tables), which would defeat an idle connection
    /// costing a few KiB. Turn it on where bandwidth matters more than memory.
    #[cfg(feature = "deflate")]
    pub fn deflate(mut self, config: super::DeflateConfig) -> Self {
        self.deflate = Some(config);
        self
    }

    /// The permessage-deflate settings, when enabled.
    #[cfg(feature = "deflate")]
    pub fn get_deflate(&self) -> Option<&super::DeflateConfig> {
        self.deflate.as_ref()
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
