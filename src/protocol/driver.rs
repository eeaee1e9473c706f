//! The connection state machine.

use super::buffer::reserve_within;
use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::error::{Error, ErrorKind};
use super::event::{Event, Message, Transmit};
use super::extension::{self, Negotiated, Outgoing};
use super::frame::{self, OpCode};
use super::handshake::{self, Accepted, ClientHandshake};
use super::hixie;
use super::hybi;
use super::options::Options;
use super::output::Output;
use super::utf8::Utf8Bytes;
use super::version::{ReadyState, Role, Version};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::Instant;

/// The payload of the pings [`Options::keepalive`] sends.
pub const KEEPALIVE_PAYLOAD: &[u8] = b"websocket-protocol keepalive";

/// Input buffers larger than this are given back once empty, so an idle
/// connection does not keep the memory of the largest message it ever saw.
const RETAINED_INPUT: usize = 64 << 10;

/// Where the connection is. States carry what they need and nothing else.
///
/// RFC 6455's closing handshake (section 7) as this type walks it:
///
/// ```text
///             close()                       peer's close frame
///   Open ────────────────> Closing ──────────────────────────────> Closed
///    │                        │ close timeout                          ^
///    │                        └──────────────> Closed (1006) ──────────┤
///    │ peer's close frame: echo it                                     │
///    ├──────────────> server: Closed, shut the transport now ──────────┤
///    │                client: AwaitingEof (the server closes TCP first)┘
///    │ peer breaks the protocol / idle timeout: send the code, then
///    └──────────────> Closed, shut the transport now
/// ```
#[derive(Debug)]
enum Phase {
    /// Built; `start()` not called yet.
    Created(Start),
    /// Client: request sent, reading the response head.
    AwaitingResponse(ClientHandshake),
    /// hixie-76: response head sent, waiting for the 8 key bytes of the body,
    /// which a proxy may deliver late.
    Hixie76AwaitingKey3 {
        keys: (u32, u32),
    },
    Open,
    /// We sent a close frame; `deadline` is armed at the next `handle_timeout`.
    Closing {
        deadline: Option<Instant>,
    },
    /// Client: the closing handshake is done; the server should close the
    /// transport before `deadline`, after which we do.
    AwaitingEof {
        deadline: Option<Instant>,
    },
    Closed,
}

#[derive(Debug)]
enum Start {
    Server(Accepted),
    Client(ClientHandshake),
}

#[derive(Debug)]
// One per connection and never moved on a hot path, so boxing would only add
// an indirection.
#[allow(clippy::large_enum_variant)]
enum Codec {
    Hybi(hybi::Decoder),
    Hixie(hixie::Decoder),
}

/// A WebSocket connection without I/O: bytes in, events and bytes out.
///
/// # Calling order
///
/// 1. Build it: [`Driver::server`] (from an `http::Request<()>`),
///    [`Driver::server_from_bytes`] (from the raw request), or [`Driver::client`].
/// 2. [`start`](Driver::start) queues the handshake (server response or client
///    request). An HTTP stack that sends the response head itself calls
///    [`start_without_head`](Driver::start_without_head) instead; a client whose
///    HTTP stack did the exchange calls [`finish_handshake`](Driver::finish_handshake).
/// 3. Then, in any order and as often as needed:
///    - inputs: [`receive`](Driver::receive) (or read into
///      [`input_buffer`](Driver::input_buffer) and call
///      [`process_input`](Driver::process_input)), [`receive_eof`](Driver::receive_eof);
///    - commands: [`text`](Driver::text), [`binary`](Driver::binary),
///      [`send`](Driver::send), [`ping`](Driver::ping), [`close`](Driver::close);
///    - [`handle_timeout(now)`](Driver::handle_timeout) after each batch of
///      inputs and commands, and whenever [`poll_timeout`](Driver::poll_timeout)'s
///      instant has passed. It is the driver's only clock: it fires due timers and
///      arms the ones started since the previous call.
/// 4. After each step, drain the outputs: [`poll_transmit`](Driver::poll_transmit)
///    until `None` (write the bytes, and close the transport on
///    [`Transmit::Shutdown`]) and [`poll_event`](Driver::poll_event) until `None`.
///
/// Inputs never fail: whatever the peer sends, a violation becomes a close frame
/// with the right code, an [`Event::Error`] and an [`Event::Close`]. Commands fail
/// only on misuse (sending after close, binary on hixie).
///
/// # Memory
///
/// The input buffer holds at most the frame being read (bound by
/// [`Options::max_frame_size`], and sized to it exactly once large) or a hixie
/// frame (bound by [`Options::max_message_size`]), plus what one
/// [`receive`](Driver::receive) brought. A fragmented message is joined in one
/// buffer of at most [`Options::max_message_size`]. Events and bytes to write
/// wait until taken, so drain them after each step as above: they follow the
/// input (a pong per ping, a message per message). Messages sent before the
/// handshake finishes wait too; [`buffered_amount`](Driver::buffered_amount)
/// counts every byte not yet taken, for the I/O layer's backpressure.
///
/// # Example
///
/// A client and a server driver talking to each other in memory:
///
/// ```
/// use websocket_protocol::protocol::{Driver, Event, Message, Options, Transmit};
///
/// fn pump(from: &mut Driver, to: &mut Driver) {
///     while let Some(t) = from.poll_transmit() {
///         if let Transmit::Data(bytes) = t { to.receive(&bytes) }
///     }
/// }
///
/// let mut client = Driver::client("ws://example.com/chat", Options::default()).unwrap();
/// client.start();
/// client.text("hello").unwrap(); // queued until the handshake finishes
/// let request = client.poll_transmit().unwrap();
/// let Transmit::Data(request) = request else { unreachable!() };
/// let mut server = Driver::server_from_bytes(&request, Options::default()).unwrap().unwrap();
/// server.start();
/// pump(&mut server, &mut client);
/// pump(&mut client, &mut server);
/// assert_eq!(server.poll_event(), Some(Event::Open));
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::text("hello"))));
/// ```
#[derive(Debug)]
pub struct Driver {
    role: Role,
    version: Version,
    options: Options,
    phase: Phase,
    codec: Codec,
    input: BytesMut,
    /// The input buffer has held more than [`RETAINED_INPUT`]: give it back once
    /// empty. (Its `capacity()` cannot tell: after a large payload is split off,
    /// the buffer reports only the tail while still sharing the whole allocation.)
    input_large: bool,
    output: Output,
    /// Frames sent before the handshake finished.
    deferred: Output,
    events: VecDeque<Event>,
    protocol: Option<String>,
    /// The extensions negotiated, and their transforms for what we send.
    negotiated: Negotiated,
    outgoing: Outgoing,
    /// Server: the response that was (or will be) sent. Client: the one received.
    response: Option<http::Response<()>>,
    shutdown: bool,
    shutdown_taken: bool,
    /// Bytes arrived since the last `handle_timeout`.
    activity: bool,
    last_seen: Option<Instant>,
    last_ping: Option<Instant>,
}

impl Driver {
    fn new(role: Role, version: Version, options: Options, start: Start) -> Driver {
        let codec = match version {
            Version::Hixie75 | Version::Hixie76 => Codec::Hixie(hixie::Decoder::new(
                version == Version::Hixie76,
                options.max_message_size,
            )),
            _ => Codec::Hybi(hybi::Decoder::new(
                role,
                options.max_frame_size,
                options.max_message_size,
            )),
        };
        Driver {
            role,
            version,
            phase: Phase::Created(start),
            codec,
            input: BytesMut::new(),
            input_large: false,
            output: Output::default(),
            deferred: Output::default(),
            events: VecDeque::new(),
            protocol: None,
            negotiated: Negotiated::default(),
            outgoing: Outgoing::default(),
            response: None,
            shutdown: false,
            shutdown_taken: false,
            activity: false,
            last_seen: None,
            last_ping: None,
            options,
        }
    }

    /// A server driver for an upgrade request, with the handler picked from its
    /// headers:
    ///
    /// - `Sec-WebSocket-Version` 7, 8 or 13: hybi (RFC 6455); any other version is
    ///   [`ErrorKind::UnsupportedVersion`] (answer 426 with `Sec-WebSocket-Version: 13`);
    /// - `Sec-WebSocket-Key1` and `Key2`: hixie-76;
    /// - `Upgrade: WebSocket` with neither: hixie-75.
    ///
    /// The drafts are refused with [`ErrorKind::DraftsNotAllowed`] (426) unless
    /// [`Options::allow_drafts`] is set. `Upgrade` and `Connection` are matched as
    /// case-insensitive tokens of comma lists; a method other than GET is 405;
    /// HTTP/1.0 is 400; a hybi key that is not base64 of 16 bytes, or a hixie-76 key with no spaces or
    /// a remainder, is 400. [`Error::response`] gives the HTTP answer to send.
    pub fn server(request: &http::Request<()>, options: Options) -> Result<Driver, Error> {
        let accepted = handshake::accept(request, &options)?;
        Ok(Driver::accepted(accepted, options))
    }

    /// A server driver for a WebSocket over HTTP/2 (RFC 8441): an extended CONNECT
    /// whose `:protocol` pseudo-header the caller has checked to be `websocket`.
    ///
    /// The method must be CONNECT (else [`ErrorKind::MethodNotAllowed`]) and
    /// `Sec-WebSocket-Version` 13 ([`ErrorKind::UnsupportedVersion`] for another,
    /// [`ErrorKind::MalformedRequest`] when missing). There is no key:
    /// [`handshake_response`](Driver::handshake_response) is a `200` carrying only
    /// the chosen subprotocol, for the HTTP/2 stack to send; then call
    /// [`start_without_head`](Driver::start_without_head) and run the connection
    /// over the stream.
    pub fn server_extended_connect(
        request: &http::Request<()>,
        options: Options,
    ) -> Result<Driver, Error> {
        let accepted = handshake::accept_extended_connect(request, &options)?;
        Ok(Driver::accepted(accepted, options))
    }

    /// A server driver for a request the handshake rules accepted.
    fn accepted(accepted: Accepted, options: Options) -> Driver {
        let mut driver = Driver::new(
            Role::Server,
            accepted.version,
            options,
            Start::Server(accepted.clone()),
        );
        driver.protocol = accepted.protocol.clone();
        driver.response = Some(accepted.response());
        driver.enable_extensions(accepted.extensions);
        driver
    }

    /// A server driver from the raw bytes of the connection so far, for servers
    /// with no HTTP stack: `Ok(None)` until the request head is complete. Bytes
    /// after the head (a hixie-76 body, early frames) are kept for the connection.
    pub fn server_from_bytes(buf: &[u8], options: Options) -> Result<Option<Driver>, Error> {
        let Some((request, size)) = handshake::parse_request(buf, &options)? else {
            return Ok(None);
        };
        let mut driver = Driver::server(&request, options)?;
        driver.input.extend_from_slice(&buf[size..]);
        Ok(Some(driver))
    }

    /// A client driver for a `ws://` or `wss://` URL (RFC 6455, masking on;
    /// `http://` and `https://` are taken as aliases, the scheme in any case). A
    /// URL without a host, with a port over 65535, with credentials or with a
    /// `#fragment` is [`ErrorKind::InvalidUrl`]. The
    /// request offers [`Options::protocols`] and carries [`Options::headers`]; TLS
    /// for `wss://` is the I/O layer's business.
    pub fn client(url: &str, options: Options) -> Result<Driver, Error> {
        let handshake = ClientHandshake::new(url, &options)?;
        Ok(Driver::new(
            Role::Client,
            Version::Hybi13,
            options,
            Start::Client(handshake),
        ))
    }

    /// Queues the handshake: the server's response (for hixie-76, the head now and
    /// the 16-byte answer once the 8 key bytes have arrived), or the client's
    /// request. Calling it again does nothing.
    pub fn start(&mut self) {
        self.start_inner(true);
    }

    /// Server: like [`start`](Driver::start), when an HTTP stack has already sent
    /// [`handshake_response`](Driver::handshake_response). Only a hixie-76 answer is
    /// still queued, after the key bytes arrive on the upgraded stream.
    pub fn start_without_head(&mut self) {
        self.start_inner(false);
    }

    fn start_inner(&mut self, send_head: bool) {
        let Phase::Created(_) = self.phase else {
            return;
        };
        let Phase::Created(start) = std::mem::replace(&mut self.phase, Phase::Closed) else {
            unreachable!()
        };
        match start {
            Start::Server(accepted) => {
                if send_head {
                    self.output.extend(&accepted.head_bytes());
                }
                match accepted.hixie76_keys {
                    Some(keys) => self.phase = Phase::Hixie76AwaitingKey3 { keys },
                    None => self.open(),
                }
            }
            Start::Client(handshake) => {
                if send_head {
                    self.output.extend(&handshake.request_bytes());
                }
                self.phase = Phase::AwaitingResponse(handshake);
            }
        }
        self.process_input();
    }

    /// Client: the request to send when an HTTP stack (hyper) does the exchange.
    /// Pair it with [`finish_handshake`](Driver::finish_handshake).
    pub fn client_request(&self) -> Option<&http::Request<()>> {
        match &self.phase {
            Phase::Created(Start::Client(h)) | Phase::AwaitingResponse(h) => Some(h.request()),
            _ => None,
        }
    }

    /// Client: checks a response received by an HTTP stack (status 101,
    /// `Upgrade`, `Connection`, the accept key, the chosen protocol, no extension)
    /// and opens the connection. On error nothing changes and no event is
    /// queued: the caller owns the failed exchange, and drops the driver.
    pub fn finish_handshake(&mut self, response: &http::Response<()>) -> Result<(), Error> {
        let handshake = match std::mem::replace(&mut self.phase, Phase::Closed) {
            Phase::Created(Start::Client(h)) | Phase::AwaitingResponse(h) => h,
            other => {
                self.phase = other;
                return Err(Error::new(ErrorKind::MalformedResponse(
                    "no client handshake in progress",
                )));
            }
        };
        match handshake.check(response) {
            Ok((protocol, extensions)) => {
                self.protocol = protocol;
                self.enable_extensions(extensions);
                self.response = Some(response.clone());
                self.open();
                self.process_input();
                Ok(())
            }
            Err(e) => {
                self.phase = Phase::AwaitingResponse(handshake);
                Err(e)
            }
        }
    }

    /// Server: the handshake response head, for an HTTP stack that sends it.
    /// Client: the server's response, once received. Header names are lower case
    /// here; [`start`](Driver::start) writes them in their conventional spelling.
    pub fn handshake_response(&self) -> Option<&http::Response<()>> {
        self.response.as_ref()
    }

    /// The reason phrase of the server's status line: `Switching Protocols`, or the
    /// drafts' `WebSocket Protocol Handshake` (hixie-76) and `Web Socket Protocol
    /// Handshake` (hixie-75), which some old clients compare byte for byte.
    pub fn reason_phrase(&self) -> &'static str {
        match self.version {
            Version::Hixie75 => "Web Socket Protocol Handshake",
            Version::Hixie76 => "WebSocket Protocol Handshake",
            _ => "Switching Protocols",
        }
    }

    fn enable_extensions(&mut self, negotiated: Negotiated) {
        let (outgoing, incoming) = extension::transforms(negotiated, self.role, &self.options);
        self.outgoing = outgoing;
        if let Codec::Hybi(decoder) = &mut self.codec {
            decoder.set_incoming(incoming);
        }
        self.negotiated = negotiated;
    }

    fn open(&mut self) {
        self.phase = Phase::Open;
        self.events.push_back(Event::Open);
        self.output.append(&mut self.deferred);
    }

    // ---- getters -------------------------------------------------------------

    /// The protocol version in use.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Which end this driver plays.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The negotiated subprotocol. The server knows it from construction, the
    /// client once open.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The permessage-deflate parameters, when it was negotiated.
    #[cfg(feature = "deflate")]
    pub fn deflate_params(&self) -> Option<super::DeflateParams> {
        self.negotiated.deflate
    }

    /// The connection's state.
    pub fn state(&self) -> ReadyState {
        match self.phase {
            Phase::Created(_) | Phase::AwaitingResponse(_) | Phase::Hixie76AwaitingKey3 { .. } => {
                ReadyState::Connecting
            }
            Phase::Open => ReadyState::Open,
            Phase::Closing { .. } => ReadyState::Closing,
            Phase::AwaitingEof { .. } | Phase::Closed => ReadyState::Closed,
        }
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Bytes queued for writing and not yet taken by `poll_transmit` (the seed's
    /// `bufferedAmount`), including messages held until the handshake finishes.
    pub fn buffered_amount(&self) -> usize {
        self.output.len() + self.deferred.len()
    }

    /// How many more bytes the frame being read needs, when its header is known:
    /// a hint for how much to read next.
    pub fn read_hint(&self) -> usize {
        match &self.codec {
            Codec::Hybi(d) => d.missing(self.input.len()),
            Codec::Hixie(_) => 0,
        }
    }

    // ---- inputs --------------------------------------------------------------

    /// Feeds bytes read from the transport.
    ///
    /// Before [`start`](Driver::start) the bytes are only kept, with no bound
    /// (they may hold a hixie-76 key or early frames), so start first; once the
    /// connection is closed they are dropped.
    pub fn receive(&mut self, mut data: &[u8]) {
        loop {
            if matches!(self.phase, Phase::Closed | Phase::AwaitingEof { .. }) {
                return;
            }
            // While a frame's payload is being read, take no more than it still
            // needs: the buffer then grows to that frame's size and not to twice
            // it, and the bytes after it are read once it has left the buffer.
            let hint = self.read_hint();
            let (take, limit) = match hint {
                0 => (data.len(), self.input_limit()),
                hint => (hint.min(data.len()), self.input.len() + hint),
            };
            reserve_within(&mut self.input, take, limit);
            self.input.extend_from_slice(&data[..take]);
            self.process_input();
            data = &data[take..];
            if data.is_empty() {
                return;
            }
        }
    }

    /// The most the input buffer has to hold when no frame payload is being
    /// read: a handshake head, a frame header, or a whole hixie frame.
    fn input_limit(&self) -> usize {
        match (&self.phase, &self.codec) {
            (Phase::Open | Phase::Closing { .. }, Codec::Hybi(_)) => frame::MAX_HEADER,
            // The type byte, the run, its 0xFF.
            (Phase::Open | Phase::Closing { .. }, Codec::Hixie(_)) => {
                self.options.max_message_size.saturating_add(2)
            }
            // Bytes fed before `start()` are only kept; they are not ours to bound.
            (Phase::Created(_), _) => usize::MAX,
            _ => self.options.max_handshake_size,
        }
    }

    /// The buffer [`receive`](Driver::receive) appends to, for I/O layers that read
    /// straight into it (no copy); call [`process_input`](Driver::process_input)
    /// after adding bytes.
    ///
    /// Only append to it: the bytes already there belong to the driver, which
    /// unmasks them in place and remembers how far it has read. To keep memory
    /// within the limits as `receive` does, read at most
    /// [`read_hint`](Driver::read_hint) bytes at a time while it is non-zero.
    pub fn input_buffer(&mut self) -> &mut BytesMut {
        &mut self.input
    }

    /// Processes bytes added through [`input_buffer`](Driver::input_buffer).
    pub fn process_input(&mut self) {
        if !self.input.is_empty() {
            self.activity = true;
        }
        // Noted before frames are split off, while the capacity still shows it.
        self.input_large |= self.input.capacity() > RETAINED_INPUT;
        loop {
            match &mut self.phase {
                Phase::Created(_) => return,
                Phase::Closed | Phase::AwaitingEof { .. } => {
                    self.input.clear();
                    break;
                }
                Phase::AwaitingResponse(handshake) => {
                    match handshake::parse_response(&self.input, self.options.max_handshake_size) {
                        Ok(None) => return,
                        Ok(Some((response, size))) => {
                            self.input.advance(size);
                            match handshake.check(&response) {
                                Ok((protocol, extensions)) => {
                                    self.protocol = protocol;
                                    self.enable_extensions(extensions);
                                    self.response = Some(response);
                                    self.open();
                                }
                                Err(e) => self.fail_handshake(e),
                            }
                        }
                        Err(e) => self.fail_handshake(e),
                    }
                }
                Phase::Hixie76AwaitingKey3 { keys } => {
                    let keys = *keys;
                    let Some(key3) = self.input.get(..8) else {
                        return;
                    };
                    let key3: [u8; 8] = key3.try_into().expect("8 bytes");
                    self.input.advance(8);
                    self.output.extend(&handshake::hixie76_answer(keys, &key3));
                    self.open();
                }
                Phase::Open | Phase::Closing { .. } => {
                    let decoded = match &mut self.codec {
                        Codec::Hybi(d) => d.decode(&mut self.input).map(|f| f.map(Decoded::Hybi)),
                        Codec::Hixie(d) => d.decode(&mut self.input).map(|f| f.map(Decoded::Hixie)),
                    };
                    match decoded {
                        Ok(Some(Decoded::Hybi(frame))) => self.on_hybi(frame),
                        Ok(Some(Decoded::Hixie(frame))) => self.on_hixie(frame),
                        Ok(None) => break,
                        Err(e) => self.fail(e),
                    }
                }
            }
        }
        if self.input.is_empty() && self.input_large {
            self.input = BytesMut::new();
            self.input_large = false;
        }
    }

    /// The transport reached end of stream.
    pub fn receive_eof(&mut self) {
        match self.phase {
            Phase::Closed => {}
            Phase::AwaitingEof { .. } => {
                self.phase = Phase::Closed;
                self.shutdown = true;
            }
            _ => {
                // hixie-75 has no closing handshake: the end of the stream is how
                // it closes. Everywhere else it means the peer vanished.
                let code = if self.version == Version::Hixie75 && matches!(self.phase, Phase::Open)
                {
                    CloseCode::NORMAL
                } else {
                    CloseCode::ABNORMAL
                };
                self.finish(CloseFrame::new(code, ""));
            }
        }
    }

    /// Tells the driver the time: fires timers that are due and arms those started
    /// since the last call. See the calling order on [`Driver`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.activity || self.last_seen.is_none() {
            self.last_seen = Some(now);
            self.activity = false;
        }
        match &mut self.phase {
            Phase::Closing { deadline } => match *deadline {
                None => *deadline = Some(now + self.options.close_timeout),
                Some(d) if now >= d => {
                    self.events
                        .push_back(Event::Error(Error::new(ErrorKind::CloseTimeout)));
                    self.finish(CloseFrame::new(CloseCode::ABNORMAL, ""));
                }
                Some(_) => {}
            },
            Phase::AwaitingEof { deadline } => match *deadline {
                None => *deadline = Some(now + self.options.close_timeout),
                Some(d) if now >= d => {
                    self.phase = Phase::Closed;
                    self.shutdown = true;
                }
                Some(_) => {}
            },
            Phase::Open => {
                let last_seen = self.last_seen.unwrap_or(now);
                if let Some(idle) = self.options.idle_timeout {
                    if now >= last_seen + idle {
                        self.fail(Error::new(ErrorKind::IdleTimeout));
                        return;
                    }
                }
                if let Some(interval) = self.options.keepalive {
                    let since = self.last_ping.map_or(last_seen, |p| p.max(last_seen));
                    if now >= since + interval
                        && self.version != Version::Hixie75
                        && self.version != Version::Hixie76
                    {
                        self.last_ping = Some(now);
                        self.queue(OpCode::Ping, Bytes::from_static(KEEPALIVE_PAYLOAD));
                    }
                }
            }
            _ => {}
        }
    }

    // ---- outputs -------------------------------------------------------------

    /// The next bytes to write, then, once, [`Transmit::Shutdown`] when the
    /// transport should be closed.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(bytes) = self.output.pop() {
            return Some(Transmit::Data(bytes));
        }
        self.output.shrink();
        if self.shutdown && !self.shutdown_taken {
            self.shutdown_taken = true;
            return Some(Transmit::Shutdown);
        }
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Driver::handle_timeout) should next be called, if a
    /// timer is armed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closing { deadline } | Phase::AwaitingEof { deadline } => deadline,
            Phase::Open => {
                let last_seen = self.last_seen?;
                let idle = self.options.idle_timeout.map(|t| last_seen + t);
                let ping = self
                    .options
                    .keepalive
                    .filter(|_| !self.version.is_draft())
                    .map(|i| self.last_ping.map_or(last_seen, |p| p.max(last_seen)) + i);
                match (idle, ping) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                }
            }
            _ => None,
        }
    }

    /// Whether the transport has been handed its shutdown (nothing more will
    /// happen on this connection).
    pub fn is_finished(&self) -> bool {
        self.shutdown_taken
    }

    // ---- commands ------------------------------------------------------------

    /// Sends a text message. Before the handshake finishes it is queued.
    pub fn text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.send(Message::Text(text.into()))
    }

    /// Sends a binary message (hybi only).
    pub fn binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Binary(data.into()))
    }

    /// Sends a message.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.check_can_send()?;
        match message {
            Message::Text(text) => {
                if self.version.is_draft() {
                    let out = self.sink();
                    hixie::encode_text(out, text.as_bytes());
                } else {
                    self.queue(OpCode::Text, text.into_bytes());
                }
            }
            Message::Binary(data) => {
                if self.version.is_draft() {
                    return Err(Error::new(ErrorKind::Unsupported("binary messages")));
                }
                self.queue(OpCode::Binary, data);
            }
        }
        Ok(())
    }

    // ---- hub hook (prepared messages): begin ----
    /// Sends a message framed once for many connections: the frame for this
    /// connection's family (and deflate window) is shared, not rebuilt. Small
    /// frames are copied into the packed write buffer behind what is queued (so a
    /// burst leaves in one write, and costs less than a shared reference would);
    /// from 16 KiB on the shared bytes are queued as they are, without a copy.
    ///
    /// A client masks every frame with its own key, so a client driver sends
    /// the message as [`send`](Driver::send) would: it saves nothing there.
    /// Errors as `send`.
    pub fn send_prepared(&mut self, message: &super::PreparedMessage) -> Result<(), Error> {
        self.check_can_send()?;
        if self.role == Role::Client {
            return self.send(message.message().clone());
        }
        #[cfg(feature = "deflate")]
        if let Some(bits) = self.outgoing.shared_deflate(message.message().len()) {
            let frame = message.deflated_frame(bits);
            self.sink().push_payload(frame);
            return Ok(());
        }
        let frame = message.frame(self.version)?;
        self.sink().push_payload(frame);
        Ok(())
    }
    // ---- hub hook: end ----

    /// Sends a ping (hybi only); at most 125 bytes. The peer's pong arrives as
    /// [`Event::Pong`] with the same payload.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        let payload = payload.into();
        self.check_can_send()?;
        if self.version.is_draft() {
            return Err(Error::new(ErrorKind::Unsupported("ping")));
        }
        if payload.len() > 125 {
            return Err(Error::new(ErrorKind::InvalidControlFrame(
                "ping payload over 125 bytes",
            )));
        }
        self.queue(OpCode::Ping, payload);
        Ok(())
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes).
    ///
    /// hybi sends the close frame and waits, up to [`Options::close_timeout`], for
    /// the peer's; hixie-76 sends `0xFF 0x00` and closes; hixie-75 closes at once.
    /// Before the handshake finishes, the connection is abandoned and queued
    /// messages are dropped. Closing twice does nothing.
    pub fn close(&mut self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        let frame = CloseFrame::new(code.into(), Utf8Bytes::from(reason.to_owned()));
        if !frame.code.is_sendable() {
            return Err(Error::new(ErrorKind::InvalidControlFrame(
                "this close code may not be sent",
            )));
        }
        if frame.reason.len() > MAX_CLOSE_REASON {
            return Err(Error::new(ErrorKind::InvalidControlFrame(
                "close reason over 123 bytes",
            )));
        }
        match self.phase {
            Phase::Created(_) | Phase::AwaitingResponse(_) | Phase::Hixie76AwaitingKey3 { .. } => {
                self.deferred.clear();
                self.finish(CloseFrame::new(CloseCode::ABNORMAL, ""));
            }
            Phase::Open => match self.version {
                Version::Hixie75 => self.finish(frame),
                Version::Hixie76 => {
                    self.output.extend(&hixie::CLOSE);
                    self.finish(frame);
                }
                _ => {
                    self.queue(OpCode::Close, hybi::close_payload(Some(&frame)));
                    self.phase = Phase::Closing { deadline: None };
                }
            },
            Phase::Closing { .. } | Phase::AwaitingEof { .. } | Phase::Closed => {}
        }
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Closing { .. } | Phase::AwaitingEof { .. } | Phase::Closed => {
                Err(Error::new(ErrorKind::Closed))
            }
            _ => Ok(()),
        }
    }

    /// Where frames go now: the wire once open, the deferred queue before.
    fn sink(&mut self) -> &mut Output {
        match self.phase {
            Phase::Open | Phase::Closing { .. } => &mut self.output,
            _ => &mut self.deferred,
        }
    }

    fn queue(&mut self, opcode: OpCode, payload: Bytes) {
        let out = match self.phase {
            Phase::Open | Phase::Closing { .. } => &mut self.output,
            _ => &mut self.deferred,
        };
        hybi::encode(out, self.role, opcode, payload, &mut self.outgoing);
    }

    // ---- frame handling ------------------------------------------------------

    fn on_hybi(&mut self, frame: hybi::Frame) {
        match frame {
            hybi::Frame::Message(m) => self.events.push_back(Event::Message(m)),
            hybi::Frame::Ping(payload) => {
                // After our close frame nothing more may be sent, pongs included.
                if matches!(self.phase, Phase::Open) {
                    self.queue(OpCode::Pong, payload.clone());
                }
                self.events.push_back(Event::Ping(payload));
            }
            hybi::Frame::Pong(payload) => self.events.push_back(Event::Pong(payload)),
            hybi::Frame::Close(frame) => {
                if matches!(self.phase, Phase::Open) {
                    let echo = (frame.code != CloseCode::NO_STATUS).then_some(&frame);
                    self.queue(OpCode::Close, hybi::close_payload(echo));
                }
                match self.role {
                    Role::Server => self.finish(frame),
                    Role::Client => {
                        self.events.push_back(Event::Close(frame));
                        self.phase = Phase::AwaitingEof { deadline: None };
                    }
                }
            }
        }
    }

    fn on_hixie(&mut self, frame: hixie::Frame) {
        match frame {
            hixie::Frame::Text(text) => self.events.push_back(Event::Message(Message::Text(text))),
            hixie::Frame::Close => {
                self.output.extend(&hixie::CLOSE);
                self.finish(CloseFrame::new(CloseCode::NORMAL, ""));
            }
        }
    }

    /// The peer broke the protocol (or went idle): send the code, report, close.
    fn fail(&mut self, error: Error) {
        let code = error.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
        let reason = truncate(&error.to_string(), MAX_CLOSE_REASON).to_owned();
        let frame = CloseFrame::new(code, reason);
        match (self.version, &self.phase) {
            (Version::Hixie76, Phase::Open) => self.output.extend(&hixie::CLOSE),
            (Version::Hixie75 | Version::Hixie76, _) => {}
            (_, Phase::Open) => self.queue(OpCode::Close, hybi::close_payload(Some(&frame))),
            _ => {}
        }
        self.events.push_back(Event::Error(error));
        self.finish(frame);
    }

    fn fail_handshake(&mut self, error: Error) {
        self.events.push_back(Event::Error(error));
        self.finish(CloseFrame::new(CloseCode::ABNORMAL, ""));
    }

    /// Reports the close and asks for the transport to be shut.
    fn finish(&mut self, frame: CloseFrame) {
        self.events.push_back(Event::Close(frame));
        self.phase = Phase::Closed;
        self.deferred.clear();
        self.input.clear();
        self.shutdown = true;
    }
}

enum Decoded {
    Hybi(hybi::Frame),
    Hixie(hixie::Frame),
}

/// The longest prefix of `s` that fits `max` bytes on a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
