//! The connection state machine.

use super::buffer::Room;
use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::error::{Error, ErrorKind};
use super::event::{Chunk, Event, Message, MessageKind, Transmit};
use super::extension::{self, Negotiated};
use super::framing::{CloseStyle, Frame, Framing};
use super::handshake::{self, Accepted, ClientHandshake};
use super::input::Input;
use super::options::Options;
use super::output::Output;
use super::rng::Randomness;
use super::state::{CloseCause, ConnectionState, ReadyState, Side};
use super::streaming::{OutgoingMessage, Sending, Unfinished};
use super::utf8::{Utf8Bytes, Utf8Validator};
use super::version::{Role, Version};
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::mem::MaybeUninit;
use std::time::{Duration, Instant};

/// The payload of the pings [`Options::keepalive`] sends.
pub const KEEPALIVE_PAYLOAD: &[u8] = b"websocket-protocol keepalive";

/// Input buffers up to this size are given back when the transport goes quiet
/// ([`Driver::shrink_input`]), so an idle connection holds no read buffer.
const RETAINED_INPUT: usize = 64 << 10;

/// How long a larger input buffer is kept once empty, for the next large
/// message to land in: memory the allocator would otherwise hand back to the
/// kernel and fault in again, page by page, for every message (a 16 MiB echo
/// spent more time in page faults than in reading). After this long without a
/// byte it is given back, so a connection that went quiet does not keep the
/// memory of the largest message it saw.
const KEEP_LARGE_INPUT: Duration = Duration::from_secs(1);

/// The chunk [`Driver::input_chunk`] offers when no frame payload is being read
/// (or what is left of it is smaller): a small read, as most frames are small.
const SMALL_INPUT: usize = 8 << 10;

/// The input buffer's size, as far as giving it back goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputSize {
    /// At most [`RETAINED_INPUT`] since it was allocated: given back whenever
    /// the transport goes quiet with it empty.
    Small,
    /// Has held more, and holds bytes (or did at the last decode).
    Large,
    /// Large and empty: kept for the next large message until `until`.
    Kept { until: Instant },
}

/// Where the connection is. States carry what they need and nothing else; the
/// public view is [`ConnectionState`], whose doc comment draws the closing
/// handshake (RFC 6455 section 7).
#[derive(Debug)]
enum Phase {
    /// Built; `start()` not called yet.
    Created(Start),
    /// Client: request sent, reading the response head.
    AwaitingResponse(Box<ClientHandshake>),
    /// hixie-76: response head sent, waiting for the 8 key bytes of the body,
    /// which a proxy may deliver late.
    Hixie76AwaitingKey3 {
        keys: (u32, u32),
    },
    Open,
    /// A close frame went out (`by` sent the first one); until `deadline`, we
    /// wait for what `awaiting` names.
    Closing {
        by: Side,
        awaiting: Awaiting,
        deadline: Instant,
    },
    Closed {
        frame: CloseFrame,
        cause: CloseCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Awaiting {
    /// The peer's close frame, answering ours.
    CloseFrame,
    /// Client: the closing handshake is done; the server should close the
    /// transport first (RFC 6455 section 7.1.1).
    Eof,
}

/// The handshake to start with. The server's response head is the driver's
/// `response`; the client's handshake is boxed, as a connection should not
/// carry its size for life.
#[derive(Debug)]
enum Start {
    Server {
        /// The status line's phrase.
        reason: &'static str,
        hixie76_keys: Option<(u32, u32)>,
    },
    Client(Box<ClientHandshake>),
}

/// A WebSocket connection without I/O: bytes and time in, events and bytes out.
///
/// # Calling order
///
/// Every input and command that can start or move a timer takes `now`, the
/// current time (any monotonic clock: `std::time::Instant::now()`, tokio's
/// `Instant::now().into_std()`, a fake clock in tests), and the driver remembers
/// the latest one for work it does later (decoding in `poll_event`). After any
/// call, [`poll_timeout`](Driver::poll_timeout) is up to date.
///
/// 1. Build it: [`Driver::server`] (from an `http::Request<()>`),
///    [`Driver::server_from_bytes`] (from the raw request), or [`Driver::client`].
/// 2. [`start(now)`](Driver::start) queues the handshake (server response or
///    client request). An HTTP stack that sends the response head itself calls
///    [`start_without_head(now)`](Driver::start_without_head) instead; a client
///    whose HTTP stack did the exchange calls
///    [`finish_handshake(response, now)`](Driver::finish_handshake).
/// 3. Then loop:
///    1. feed what happened: bytes read, with [`receive(data, now)`](Driver::receive)
///       or, reading in place, [`input_chunk(max)`](Driver::input_chunk) then
///       [`commit(n, now)`](Driver::commit); the end of the stream with
///       [`receive_eof(now)`](Driver::receive_eof); and, once the instant
///       [`poll_timeout`](Driver::poll_timeout) gave has passed,
///       [`handle_timeout(now)`](Driver::handle_timeout);
///    2. take events with [`poll_event`](Driver::poll_event) until `None`,
///       answering them with commands as needed ([`text`](Driver::text),
///       [`binary`](Driver::binary), [`send`](Driver::send),
///       [`ping`](Driver::ping), [`close(code, reason, now)`](Driver::close));
///    3. write what [`poll_transmit`](Driver::poll_transmit) hands out until
///       `None`, closing the transport on [`Transmit::Shutdown`];
///    4. wait for input, or until [`poll_timeout`](Driver::poll_timeout).
///
/// The driver decodes lazily, one event at a time: once a frame completes an
/// event, nothing after it is decoded until that event is taken and the next
/// `poll_event` (or [`peek_event`](Driver::peek_event)) asks for more. So what
/// the application sends in answer to a message is queued before anything a
/// later frame causes (a pong, or the close frame of a protocol error further
/// on in the same read), and an I/O layer that stops taking messages stops the
/// decoding, and can stop reading (see
/// [`buffered_incoming`](Driver::buffered_incoming)). Commands may also be given
/// at any other time.
///
/// # Messages in pieces
///
/// [`poll_chunk`](Driver::poll_chunk) is the other way to take the next
/// message: as it arrives, in [`Chunk`]s, without joining it, for messages too
/// large to hold (an upload written to disk). The caller picks per message, by
/// which of the two it calls: `poll_event` joins messages as before. While a
/// message is read in pieces, the input buffer holds at most one read of its
/// frame (64 KiB at a time: [`read_hint`](Driver::read_hint) asks for no more),
/// not the frame: a payload is handed out as it arrives, unmasked in place and
/// split off without a copy, even the middle of a frame. Text is validated as
/// it arrives and handed out in whole code points; invalid UTF-8 fails the
/// connection with 1007 as soon as it is seen, as for whole messages. A
/// compressed message is inflated as it arrives, at most 64 KiB per piece, with
/// a zlib state of its own (46 KiB) for as long as it lasts. The message size
/// limits apply to the total unless the reader changes them for this message
/// with [`set_message_limit`](Driver::set_message_limit); the frame size limit
/// still applies to each frame. Pings are answered and pongs reported between
/// the pieces, as between whole messages; a close frame or an error in the
/// middle ends the message short (the events come instead of its end). To give
/// up on a message half read, call [`discard_message`](Driver::discard_message).
/// hixie frames carry no length: each arrives whole (bound by the max message
/// size) and is handed out as one piece.
///
/// Inputs never fail: whatever the peer sends, a violation becomes a close frame
/// with the right code, an [`Event::Error`] and an [`Event::Close`], and the
/// [`state`](Driver::state) says why it closed. Commands fail only on misuse
/// (sending after close, binary on hixie).
///
/// # Memory
///
/// The input buffer holds at most the frame being read (bound by
/// [`Options::max_frame_size`], and sized to it exactly once large) or a hixie
/// frame (bound by [`Options::max_message_size`]), plus what one
/// [`receive`](Driver::receive) brought, plus, while an event waits to be taken,
/// the input behind it. A fragmented message is joined in one buffer of at
/// most [`Options::max_message_size`]. Bytes to write wait until taken, and
/// at most one automatic pong waits (a newer ping replaces the pong of an
/// older one not yet taken, as RFC 6455 section 5.5.3 allows). Messages sent
/// before the handshake finishes wait too; [`buffered_amount`](Driver::buffered_amount)
/// counts every byte to write not yet taken, for the I/O layer's backpressure.
///
/// # Example
///
/// A client and a server driver talking to each other in memory:
///
/// ```
/// use std::time::Instant;
/// use websocket_protocol::protocol::{Driver, Event, Message, Options, Transmit};
///
/// fn pump(from: &mut Driver, to: &mut Driver, now: Instant) {
///     while let Some(t) = from.poll_transmit() {
///         if let Transmit::Data(bytes) = t { to.receive(&bytes, now) }
///     }
/// }
///
/// let now = Instant::now();
/// let mut client = Driver::client("ws://example.com/chat", Options::default()).unwrap();
/// client.start(now);
/// client.text("hello").unwrap(); // queued until the handshake finishes
/// let request = client.poll_transmit().unwrap();
/// let Transmit::Data(request) = request else { unreachable!() };
/// let mut server = Driver::server_from_bytes(&request, Options::default()).unwrap().unwrap();
/// server.start(now);
/// pump(&mut server, &mut client, now);
/// pump(&mut client, &mut server, now);
/// assert_eq!(server.poll_event(), Some(Event::Open));
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::text("hello"))));
/// ```
#[derive(Debug)]
pub struct Driver {
    role: Role,
    version: Version,
    options: Options,
    phase: Phase,
    /// Everything that differs between the versions.
    framing: Framing,
    input: Input,
    /// Whether the input buffer is large, and until when an empty one is kept.
    input_size: InputSize,
    /// The end of the stream was read; it takes effect once the input before it
    /// is decoded.
    eof: bool,
    output: Output,
    /// Frames sent before the handshake finished (boxed: only a client that
    /// sends before the server's answer has any).
    deferred: Option<Box<Output>>,
    /// The message being sent in fragments, if one is open (boxed: most
    /// connections never send one).
    sending: Option<Box<Sending>>,
    events: VecDeque<Event>,
    /// Pieces of the message read with [`poll_chunk`](Driver::poll_chunk), ahead
    /// of `events`: like an event, one waiting stops the decoding.
    chunks: VecDeque<Chunk>,
    /// The reader took a message's [`Chunk::Start`] and not yet its end.
    reading_chunks: bool,
    /// The rest of the message being read in pieces is dropped as it arrives.
    discarding: bool,
    /// The application reads messages in pieces: the last message it took was
    /// through [`poll_chunk`](Driver::poll_chunk). Input decoded before it asks
    /// again starts the next message in pieces too, so a large frame is never
    /// buffered whole, and the reader can set its limit before it is checked.
    chunked: bool,
    protocol: Option<String>,
    /// The extensions negotiated.
    negotiated: Negotiated,
    rng: Randomness,
    /// Server: the response that was (or will be) sent. Client: the one received.
    /// (Boxed: a socket releases it once open, and keeps the driver for life.)
    response: Option<Box<http::Response<()>>>,
    /// The close frames, boxed: a connection that is open has none.
    close_sent: Option<Box<CloseFrame>>,
    close_received: Option<Box<CloseFrame>>,
    shutdown: bool,
    shutdown_taken: bool,
    /// The latest `now` an input or command gave.
    now: Option<Instant>,
    /// When the peer was last heard from (or the connection opened).
    last_seen: Option<Instant>,
    last_ping: Option<Instant>,
}

impl Driver {
    fn new(role: Role, version: Version, options: Options, start: Start) -> Driver {
        let framing = Framing::new(version, role, &options);
        Driver {
            role,
            version,
            phase: Phase::Created(start),
            framing,
            input: Input::default(),
            input_size: InputSize::Small,
            eof: false,
            output: Output::default(),
            deferred: None,
            sending: None,
            // Decoding stops at each event until it is taken, so one is
            // usually all that waits; a queue would start with room for four.
            events: VecDeque::with_capacity(1),
            chunks: VecDeque::new(),
            reading_chunks: false,
            discarding: false,
            chunked: false,
            protocol: None,
            negotiated: Negotiated::default(),
            rng: Randomness::Thread,
            response: None,
            close_sent: None,
            close_received: None,
            shutdown: false,
            shutdown_taken: false,
            now: None,
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

    /// A server driver for a request the handshake rules accepted with
    /// `options`.
    pub(crate) fn accepted(accepted: Accepted, options: Options) -> Driver {
        let (mut driver, response) = Driver::answered(accepted, options);
        // The one copy of the response: `start` writes its head from it.
        driver.response = Some(Box::new(response));
        driver
    }

    /// Like [`accepted`](Driver::accepted), for an HTTP stack that sends the
    /// response: it is handed over rather than kept, so
    /// [`handshake_response`](Driver::handshake_response) is `None`; start the
    /// driver with [`start_without_head`](Driver::start_without_head).
    pub(crate) fn answered(
        mut accepted: Accepted,
        options: Options,
    ) -> (Driver, http::Response<()>) {
        let start = Start::Server {
            reason: accepted.reason,
            hixie76_keys: accepted.hixie76_keys,
        };
        let mut driver = Driver::new(Role::Server, accepted.version, options, start);
        driver.protocol = accepted.protocol.take();
        driver.enable_extensions(accepted.extensions);
        (driver, accepted.into_response())
    }

    /// A server driver from the raw bytes of the connection so far, for servers
    /// with no HTTP stack: `Ok(None)` until the request head is complete. Bytes
    /// after the head (a hixie-76 body, early frames) are kept for the connection.
    pub fn server_from_bytes(buf: &[u8], options: Options) -> Result<Option<Driver>, Error> {
        let Some((request, size)) = handshake::parse_request(buf, &options)? else {
            return Ok(None);
        };
        let accepted = handshake::accept(&request, &options)?;
        Ok(Some(Driver::parsed(accepted, options, &buf[size..])))
    }

    /// A server driver for a request read from the raw bytes of the
    /// connection and accepted with `options`, and the bytes that came after
    /// its head (a hixie-76 body, early frames), kept for the connection.
    pub(crate) fn parsed(accepted: Accepted, options: Options, rest: &[u8]) -> Driver {
        let mut driver = Driver::accepted(accepted, options);
        driver.input.extend(rest, Room::Within(usize::MAX));
        driver
    }

    /// A client driver for a `ws://` or `wss://` URL (RFC 6455, masking on;
    /// `http://` and `https://` are taken as aliases, the scheme in any case). A
    /// URL without a host, with a port over 65535, with credentials or with a
    /// `#fragment` is [`ErrorKind::InvalidUrl`]. The
    /// request offers [`Options::protocols`] and carries [`Options::headers`]; TLS
    /// for `wss://` is the I/O layer's business. The key and the mask keys come
    /// from the thread's RNG, or from [`Options::rng_seed`].
    pub fn client(url: &str, options: Options) -> Result<Driver, Error> {
        let mut rng = Randomness::new(options.rng_seed);
        let handshake = ClientHandshake::new(url, &options, &mut rng)?;
        let mut driver = Driver::new(
            Role::Client,
            Version::Hybi13,
            options,
            Start::Client(Box::new(handshake)),
        );
        driver.rng = rng;
        Ok(driver)
    }

    /// Queues the handshake: the server's response (for hixie-76, the head now and
    /// the 16-byte answer once the 8 key bytes have arrived), or the client's
    /// request. Calling it again does nothing. A server opens here (hixie-76 once
    /// the key bytes are in), and its keepalive and idle timers count from `now`.
    pub fn start(&mut self, now: Instant) {
        self.start_inner(true, now);
    }

    /// Server: like [`start`](Driver::start), when an HTTP stack has already sent
    /// [`handshake_response`](Driver::handshake_response). Only a hixie-76 answer is
    /// still queued, after the key bytes arrive on the upgraded stream.
    pub fn start_without_head(&mut self, now: Instant) {
        self.start_inner(false, now);
    }

    fn start_inner(&mut self, send_head: bool, now: Instant) {
        self.tick(now);
        let Phase::Created(_) = self.phase else {
            return;
        };
        let Phase::Created(start) = std::mem::replace(&mut self.phase, Phase::Open) else {
            unreachable!()
        };
        match start {
            Start::Server {
                reason,
                hixie76_keys,
            } => {
                if let (true, Some(response)) = (send_head, &self.response) {
                    self.output
                        .extend(&handshake::response_head(response, reason));
                }
                match hixie76_keys {
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
    /// `Upgrade`, `Connection`, the accept key, the chosen protocol, only
    /// extensions that were offered) and opens the connection at `now`. On error
    /// nothing changes and no event is queued: the caller owns the failed
    /// exchange, and drops the driver.
    pub fn finish_handshake(
        &mut self,
        response: &http::Response<()>,
        now: Instant,
    ) -> Result<(), Error> {
        self.tick(now);
        let handshake = match std::mem::replace(&mut self.phase, Phase::Open) {
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
                self.response = Some(Box::new(response.clone()));
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
        self.response.as_deref()
    }

    /// Server, once started: drops the handshake response, which is written
    /// (or was sent by an HTTP stack). For a holder that never asks for it
    /// again (the socket, which keeps the driver for the connection's life
    /// and never hands it out), so that its header map is not kept for life.
    pub(crate) fn release_handshake_response(&mut self) {
        if self.role == Role::Server && !matches!(self.phase, Phase::Created(_)) {
            self.response = None;
        }
    }

    /// The reason phrase of the server's status line: `Switching Protocols`, or the
    /// drafts' `WebSocket Protocol Handshake` (hixie-76) and `Web Socket Protocol
    /// Handshake` (hixie-75), which some old clients compare byte for byte.
    pub fn reason_phrase(&self) -> &'static str {
        handshake::reason_phrase(self.version)
    }

    fn enable_extensions(&mut self, negotiated: Negotiated) {
        let (outgoing, incoming) = extension::transforms(negotiated, self.role, &self.options);
        self.framing.set_extensions(outgoing, incoming);
        self.negotiated = negotiated;
    }

    fn open(&mut self) {
        self.phase = Phase::Open;
        // The keepalive and idle timers count from the opening.
        self.last_seen = self.now;
        self.events.push_back(Event::Open);
        if let Some(mut deferred) = self.deferred.take() {
            self.output.append(&mut deferred);
        }
    }

    /// Notes the time an input or command gave. Clocks do not go back, so an
    /// older instant (from a caller mixing clocks) does not rewind the timers.
    fn tick(&mut self, now: Instant) {
        self.now = Some(self.now.map_or(now, |t| t.max(now)));
    }

    /// The latest time given. Every phase past `Created` was entered by a call
    /// that gave one.
    fn clock(&self) -> Instant {
        self.now.expect("the call that left Created gave the time")
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

    /// Where the connection is in its life: connecting, open, closing (and who
    /// started it), closed (with the frame reported and the cause). See
    /// [`ConnectionState`]. It moves as frames are decoded, which happens one
    /// event at a time (see the calling order).
    pub fn state(&self) -> ConnectionState {
        match &self.phase {
            Phase::Created(_) | Phase::AwaitingResponse(_) | Phase::Hixie76AwaitingKey3 { .. } => {
                ConnectionState::Connecting
            }
            Phase::Open => ConnectionState::Open,
            Phase::Closing { by, .. } => ConnectionState::Closing { by: *by },
            Phase::Closed { frame, cause } => ConnectionState::Closed {
                frame: frame.clone(),
                cause: cause.clone(),
            },
        }
    }

    /// The state as the browser API's `readyState`: see [`ReadyState`].
    pub fn ready_state(&self) -> ReadyState {
        match self.phase {
            Phase::Created(_) | Phase::AwaitingResponse(_) | Phase::Hixie76AwaitingKey3 { .. } => {
                ReadyState::Connecting
            }
            Phase::Open => ReadyState::Open,
            Phase::Closing {
                awaiting: Awaiting::CloseFrame,
                ..
            } => ReadyState::Closing,
            Phase::Closing {
                awaiting: Awaiting::Eof,
                ..
            }
            | Phase::Closed { .. } => ReadyState::Closed,
        }
    }

    /// Why the connection ended, once closed.
    pub fn close_cause(&self) -> Option<&CloseCause> {
        match &self.phase {
            Phase::Closed { cause, .. } => Some(cause),
            _ => None,
        }
    }

    /// The close frame the peer sent, once decoded (code
    /// [`CloseCode::NO_STATUS`] for an empty one).
    pub fn close_received(&self) -> Option<&CloseFrame> {
        self.close_received.as_deref()
    }

    /// The close frame we queued: ours from [`close`](Driver::close), the echo of
    /// the peer's, or the code of a failure (code [`CloseCode::NO_STATUS`] for an
    /// empty echo). hixie-76's closing frame carries no code: it shows as 1000.
    pub fn close_sent(&self) -> Option<&CloseFrame> {
        self.close_sent.as_deref()
    }

    /// The options in force.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Bytes queued for writing and not yet taken by `poll_transmit` (the browser API's
    /// `bufferedAmount`), including messages held until the handshake finishes:
    /// the one count for the I/O layer's write backpressure.
    #[inline] // asked several times per message by the socket
    pub fn buffered_amount(&self) -> usize {
        self.output.len() + self.deferred.as_ref().map_or(0, |d| d.len())
    }

    /// Incoming bytes the driver holds that were not handed out as events: input
    /// not decoded yet, and the payloads of events not taken.
    ///
    /// While no event waits, this is only the frame being read, which needs more
    /// input to complete: an I/O layer that bounds its reading by this count
    /// (to push back on a peer whose messages the application does not take)
    /// applies the bound only while an event waits
    /// ([`peek_event`](Driver::peek_event) is `Some`).
    pub fn buffered_incoming(&self) -> usize {
        let events: usize = self
            .events
            .iter()
            .map(|e| match e {
                Event::Message(m) => m.len(),
                Event::Ping(p) | Event::Pong(p) => p.len(),
                _ => 0,
            })
            .sum();
        let chunks: usize = self
            .chunks
            .iter()
            .map(|c| match c {
                Chunk::Text(t) => t.len(),
                Chunk::Binary(b) => b.len(),
                _ => 0,
            })
            .sum();
        self.input.len() + events + chunks
    }

    /// How many more bytes the frame being read needs, when its header is known:
    /// a hint for how much to read next. [`input_chunk`](Driver::input_chunk) is
    /// sized by it.
    pub fn read_hint(&self) -> usize {
        self.framing.missing(self.input.len())
    }

    /// The capacity of the input buffer, for memory accounting.
    pub fn input_capacity(&self) -> usize {
        self.input.capacity()
    }

    // ---- inputs --------------------------------------------------------------

    /// Feeds bytes read from the transport at `now`.
    ///
    /// Before [`start`](Driver::start) the bytes are only kept, with no bound
    /// (they may hold a hixie-76 key or early frames), so start first; once the
    /// connection is closed they are dropped.
    pub fn receive(&mut self, mut data: &[u8], now: Instant) {
        self.tick(now);
        if !data.is_empty() {
            self.last_seen = Some(now);
        }
        loop {
            if !self.accepts_input() {
                return;
            }
            // While a frame's payload is being read, take no more than it still
            // needs: the buffer then grows to that frame's size and not to twice
            // it, and the bytes after it are read once it has left the buffer.
            let hint = self.read_hint();
            let take = match hint {
                0 => data.len(),
                hint => hint.min(data.len()),
            };
            let room = self.input_room();
            self.input.extend(&data[..take], room);
            self.process_input();
            data = &data[take..];
            if data.is_empty() {
                return;
            }
        }
    }

    /// A writable chunk of the input buffer, for an I/O layer that reads in
    /// place: read into it, then [`commit`](Driver::commit) the bytes read.
    ///
    /// It holds at most `max` bytes (and at least one when `max > 0`), as many as
    /// the driver wants: the rest of the frame being read when its header is
    /// known ([`read_hint`](Driver::read_hint); the buffer then grows toward the
    /// end of the frame, within [`Options::max_frame_size`], in steps of four
    /// times what it holds as the bytes arrive), else a small read of 8 KiB. Its bytes are initialized (zeroed the first time that memory is
    /// handed out, not on every call), so it is a plain `&mut [u8]`: a reader
    /// needs no zero-filling (e.g. `tokio::io::ReadBuf::new(chunk)`).
    pub fn input_chunk(&mut self, max: usize) -> &mut [u8] {
        let want = self.read_size(max);
        let room = self.input_room();
        self.input.chunk(want, room)
    }

    /// How much the next read takes (at most `max`).
    fn read_size(&self, max: usize) -> usize {
        self.read_hint().max(SMALL_INPUT).min(max)
    }

    /// How the input buffer grows for the next bytes (see
    /// [`buffer`](super::buffer)): toward the end of the frame being read,
    /// once its header is known, else within the input limit.
    fn input_room(&self) -> Room {
        match self.read_hint() {
            0 => Room::Within(self.input_limit()),
            hint => Room::FrameEnd(self.input.len() + hint),
        }
    }

    /// Adds the first `n` bytes of the last [`input_chunk`](Driver::input_chunk),
    /// read at `now`, to the input and decodes what it can.
    ///
    /// # Panics
    ///
    /// If `n` is larger than that chunk, or another call changed the input since
    /// it was handed out.
    pub fn commit(&mut self, n: usize, now: Instant) {
        self.input.commit(n);
        self.committed(n, now);
    }

    /// [`input_chunk`](Driver::input_chunk) without the zeroing, for the
    /// crate's socket, whose reads track what they initialize (tokio's
    /// `ReadBuf::uninit`): a 16 MiB frame is read with no 16 MiB memset first.
    /// Commit with [`commit_init`](Driver::commit_init).
    pub(crate) fn input_spare(&mut self, max: usize) -> &mut [MaybeUninit<u8>] {
        let want = self.read_size(max);
        let room = self.input_room();
        self.input.spare(want, room)
    }

    /// [`commit`](Driver::commit) for [`input_spare`](Driver::input_spare).
    ///
    /// # Safety
    ///
    /// The first `n` bytes of the last `input_spare` slice were initialized,
    /// and no other call on the driver came in between.
    pub(crate) unsafe fn commit_init(&mut self, n: usize, now: Instant) {
        // SAFETY: the caller's.
        unsafe { self.input.commit_init(n) };
        self.committed(n, now);
    }

    fn committed(&mut self, n: usize, now: Instant) {
        self.tick(now);
        if n > 0 {
            self.last_seen = Some(now);
        }
        if !self.accepts_input() {
            self.input.clear();
            return;
        }
        self.process_input();
    }

    /// Gives back the input buffer's memory when it holds no bytes: call it when
    /// the transport has nothing to read, so an idle connection holds no read
    /// buffer.
    ///
    /// A buffer that held more than 64 KiB (a large frame) is kept for a
    /// second after it empties, so that the next large message reuses its
    /// memory (once the application has dropped the message that was split
    /// off it); [`poll_timeout`](Driver::poll_timeout) includes that instant,
    /// and [`handle_timeout`](Driver::handle_timeout) gives it back.
    pub fn shrink_input(&mut self) {
        if self.input.is_empty() && self.input_size == InputSize::Small {
            self.input.release();
        }
    }

    /// Gives back the (empty) input buffer, whatever its size.
    fn release_input(&mut self) {
        debug_assert!(self.input.is_empty());
        self.input.release();
        self.input_size = InputSize::Small;
    }

    /// Whether bytes from the transport still matter.
    fn accepts_input(&self) -> bool {
        !matches!(
            self.phase,
            Phase::Closed { .. }
                | Phase::Closing {
                    awaiting: Awaiting::Eof,
                    ..
                }
        )
    }

    /// The most the input buffer has to hold when no frame payload is being
    /// read: a handshake head, a frame header, or a whole hixie frame.
    fn input_limit(&self) -> usize {
        match &self.phase {
            Phase::Open | Phase::Closing { .. } => self.framing.input_limit(&self.options),
            // Bytes fed before `start()` are only kept; they are not ours to bound.
            Phase::Created(_) => usize::MAX,
            _ => self.options.max_handshake_size,
        }
    }

    /// Decodes input until an event is produced or more input is needed, then,
    /// if the stream ended and everything before its end is decoded, ends it.
    fn process_input(&mut self) {
        self.decode_input(self.chunked);
    }

    /// [`process_input`](Driver::process_input), for a reader of messages in
    /// pieces when `chunks` is set.
    fn decode_input(&mut self, chunks: bool) {
        // Noted before frames are split off, while the capacity still shows it.
        // (After a large payload is split off, the buffer reports only the tail
        // while still sharing the whole allocation.)
        if self.input.capacity() > RETAINED_INPUT {
            self.input_size = InputSize::Large;
        } else if matches!(self.input_size, InputSize::Kept { .. }) && !self.input.is_empty() {
            // The kept memory could not be reused (the application still holds
            // the message split off it): the bytes are in a new, small buffer.
            self.input_size = InputSize::Small;
        }
        // One event at a time: nothing more is decoded until it is taken
        // (except while our close frame waits for its answer: see `awaiting`).
        while (self.events.is_empty() && self.chunks.is_empty())
            || self.awaiting(Awaiting::CloseFrame)
        {
            let more = match self.phase {
                Phase::Open
                | Phase::Closing {
                    awaiting: Awaiting::CloseFrame,
                    ..
                } => match self.framing.decode(self.input.data(), chunks) {
                    Ok(Some(frame)) => {
                        self.on_frame(frame);
                        true
                    }
                    Ok(None) => false,
                    Err(e) => {
                        self.fail(e);
                        true
                    }
                },
                _ => self.process_other_input(),
            };
            if !more {
                break;
            }
        }
        if self.input.is_empty() && self.input_size == InputSize::Large {
            if let Some(now) = self.now {
                self.input_size = InputSize::Kept {
                    until: now + KEEP_LARGE_INPUT,
                };
            } else {
                self.release_input();
            }
        }
        // The end of the stream comes after every event before it, unless all
        // that is left is the transport's end: a client whose closing handshake
        // is done reports nothing more, so nothing has to wait for the queue.
        if self.eof
            && ((self.events.is_empty() && self.chunks.is_empty()) || self.awaiting(Awaiting::Eof))
        {
            self.on_eof();
        }
    }

    /// Whether the closing handshake waits for `what`.
    ///
    /// While our close frame waits for the peer's ([`Awaiting::CloseFrame`]),
    /// decoding runs ahead of the events not taken: the application can send
    /// nothing more, so there is no reply to order before what a later frame
    /// causes, and an I/O layer waiting for the answer must be able to see it
    /// behind messages nobody reads (they wait in the queue, counted by
    /// `buffered_incoming`).
    fn awaiting(&self, what: Awaiting) -> bool {
        matches!(self.phase, Phase::Closing { awaiting, .. } if awaiting == what)
    }

    /// Input outside the open connection: the handshake's, or bytes to drop.
    /// Returns whether there may be more to do. Kept out of `process_input`,
    /// whose frame loop is the hot path (the response parser's locals would
    /// weigh on every call).
    #[inline(never)]
    fn process_other_input(&mut self) -> bool {
        match &mut self.phase {
            Phase::Created(_) => false,
            Phase::Open | Phase::Closing { .. } | Phase::Closed { .. } => {
                self.input.clear();
                false
            }
            Phase::AwaitingResponse(handshake) => {
                let input = self.input.data();
                match handshake::parse_response(input, self.options.max_handshake_size) {
                    Ok(None) => return false,
                    Ok(Some((response, size))) => {
                        input.advance(size);
                        match handshake.check(&response) {
                            Ok((protocol, extensions)) => {
                                self.protocol = protocol;
                                self.enable_extensions(extensions);
                                self.response = Some(Box::new(response));
                                self.open();
                            }
                            Err(e) => self.fail_handshake(e),
                        }
                    }
                    Err(e) => self.fail_handshake(e),
                }
                true
            }
            Phase::Hixie76AwaitingKey3 { keys } => {
                let keys = *keys;
                let input = self.input.data();
                let Some(key3) = input.get(..8) else {
                    return false;
                };
                let key3: [u8; 8] = key3.try_into().expect("8 bytes");
                input.advance(8);
                self.output.extend(&handshake::hixie76_answer(keys, &key3));
                self.open();
                true
            }
        }
    }

    /// The transport reached end of stream at `now` (or failed: an I/O layer
    /// that can read no more reports it the same way). It takes effect once the
    /// bytes before it are decoded, so a close frame followed by the end of the
    /// stream closes cleanly even while events before it wait to be taken.
    pub fn receive_eof(&mut self, now: Instant) {
        self.tick(now);
        self.eof = true;
        self.process_input();
    }

    fn on_eof(&mut self) {
        self.eof = false;
        match &self.phase {
            Phase::Closed { .. } => {}
            Phase::Closing {
                awaiting: Awaiting::Eof,
                ..
            } => self.end_clean(),
            // hixie-75 has no closing handshake: the end of the stream is how
            // it closes. Everywhere else it means the peer vanished.
            Phase::Open if self.framing.eof_is_close() => {
                self.finish(CloseFrame::new(CloseCode::NORMAL, ""), CloseCause::Clean)
            }
            _ => self.finish(CloseFrame::new(CloseCode::ABNORMAL, ""), CloseCause::Eof),
        }
    }

    /// Client: the closing handshake is done and the transport ends; the close
    /// event was reported when the server's close frame arrived.
    fn end_clean(&mut self) {
        let frame = self
            .close_received
            .as_deref()
            .cloned()
            .unwrap_or_else(|| CloseFrame::new(CloseCode::NO_STATUS, ""));
        self.phase = Phase::Closed {
            frame,
            cause: CloseCause::Clean,
        };
        self.input.clear();
        self.shutdown = true;
    }

    /// Tells the driver the time: fires the timers that are due. Call it once the
    /// instant [`poll_timeout`](Driver::poll_timeout) gave has passed (calling it
    /// more often is harmless). See the calling order on [`Driver`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        if let InputSize::Kept { until } = self.input_size {
            if now >= until {
                if self.input.is_empty() {
                    self.release_input();
                } else {
                    self.input_size = InputSize::Large;
                }
            }
        }
        match self.phase {
            Phase::Closing {
                awaiting, deadline, ..
            } if now >= deadline => match awaiting {
                Awaiting::CloseFrame => {
                    self.events
                        .push_back(Event::Error(Error::new(ErrorKind::CloseTimeout)));
                    self.finish(
                        CloseFrame::new(CloseCode::ABNORMAL, ""),
                        CloseCause::Timeout,
                    );
                }
                // The server kept the transport open: close it ourselves.
                Awaiting::Eof => self.end_clean(),
            },
            Phase::Open => {
                let Some(last_seen) = self.last_seen else {
                    return;
                };
                if let Some(idle) = self.options.idle_timeout {
                    if now >= last_seen + idle {
                        self.fail(Error::new(ErrorKind::IdleTimeout));
                        return;
                    }
                }
                if let Some(due) = self.keepalive_due() {
                    if now >= due {
                        self.last_ping = Some(now);
                        let payload = Bytes::from_static(KEEPALIVE_PAYLOAD);
                        // `keepalive_due` is armed only where pings exist.
                        let _ = self
                            .framing
                            .encode_ping(&mut self.output, payload, &mut self.rng);
                    }
                }
            }
            _ => {}
        }
    }

    /// When the next keepalive ping is due: an interval after the peer was last
    /// heard from or pinged, whichever is later (hybi only: the drafts have no
    /// ping).
    fn keepalive_due(&self) -> Option<Instant> {
        let interval = self.options.keepalive.filter(|_| self.framing.has_ping())?;
        let last_seen = self.last_seen?;
        Some(self.last_ping.map_or(last_seen, |p| p.max(last_seen)) + interval)
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

    /// The next event. When none waits, this decodes input up to the next event
    /// (which may queue bytes to write: a pong, a close frame), so call
    /// [`poll_transmit`](Driver::poll_transmit) after it.
    ///
    /// While a message is read in pieces ([`poll_chunk`](Driver::poll_chunk)),
    /// this returns only the events before its next piece, and `None` while a
    /// piece waits: take it with `poll_chunk`, or give the message up with
    /// [`discard_message`](Driver::discard_message).
    pub fn poll_event(&mut self) -> Option<Event> {
        if !self.reading_chunks && matches!(self.chunks.front(), Some(Chunk::Start(_))) {
            // Begun in pieces for a reader of pieces, but a reader of whole
            // messages came: join it.
            self.chunks.clear();
            self.chunked = false;
            if let Err(e) = self.framing.unstream() {
                self.fail(e);
            }
        }
        if self.events.is_empty() && self.chunks.is_empty() && self.may_decode() {
            self.decode_input(false);
        }
        let event = self.events.pop_front();
        if let Some(Event::Message(_)) = event {
            self.chunked = false;
        }
        event
    }

    /// The next piece of a data message, or the next other event: the other
    /// way to take messages, as they arrive, without joining them (see
    /// "Messages in pieces" on [`Driver`] and [`Chunk`] for the order).
    ///
    /// A message that is already complete (or begun with
    /// [`peek_event`](Driver::peek_event)) is handed out the same way, from what
    /// was joined so far. Call [`poll_transmit`](Driver::poll_transmit) after it,
    /// as after `poll_event`.
    pub fn poll_chunk(&mut self) -> Option<Chunk> {
        self.chunked = true;
        if self.events.is_empty() && self.chunks.is_empty() {
            self.decode_input(true);
        } else if self.chunks.is_empty()
            && !matches!(self.events.front(), Some(Event::Message(_)))
            && matches!(self.phase, Phase::Open)
        {
            // A message begun before the events waiting starts, and gives what
            // was joined of it, before them.
            match self.framing.begin_chunks() {
                Ok(Some(frame)) => self.on_frame(frame),
                Ok(None) => {}
                Err(e) => self.fail(e),
            }
        }
        let chunk = match self.chunks.pop_front() {
            Some(chunk) => chunk,
            None => match self.events.pop_front()? {
                Event::Message(message) => {
                    let (kind, piece) = match message {
                        Message::Text(t) => (MessageKind::Text, Chunk::Text(t)),
                        Message::Binary(b) => (MessageKind::Binary, Chunk::Binary(b)),
                    };
                    if !matches!(&piece, Chunk::Text(t) if t.is_empty())
                        && !matches!(&piece, Chunk::Binary(b) if b.is_empty())
                    {
                        self.chunks.push_back(piece);
                    }
                    self.chunks.push_back(Chunk::End);
                    Chunk::Start(kind)
                }
                event => Chunk::Event(event),
            },
        };
        match chunk {
            Chunk::Start(_) => self.reading_chunks = true,
            Chunk::End => self.reading_chunks = false,
            _ => {}
        }
        Some(chunk)
    }

    /// Gives up the message being read in pieces (after its [`Chunk::Start`],
    /// before its [`Chunk::End`]): what waits of it is dropped now, the rest as
    /// it arrives (still validated, and inflated when compressed, since the
    /// next message may refer back to it), and the next event or chunk is what
    /// follows it. Does nothing when no message is being read in pieces.
    pub fn discard_message(&mut self) {
        if !self.reading_chunks {
            return;
        }
        self.reading_chunks = false;
        while let Some(chunk) = self.chunks.pop_front() {
            if chunk == Chunk::End {
                return;
            }
        }
        self.discarding = true;
    }

    /// Sets the most the message being read in pieces may hold in all, in place
    /// of [`Options::max_message_size`] (and the inflated size limit) for this
    /// message only: call it after its [`Chunk::Start`] to take a larger upload
    /// than the connection allows in one message, or to hold a small one to
    /// less. Beyond it, the connection fails with 1009 before anything past the
    /// limit is handed out. Each frame is still bound by
    /// [`Options::max_frame_size`]. Does nothing when no message is being read
    /// in pieces, or when the message was complete before it was asked for in
    /// pieces (it was within the limits).
    pub fn set_message_limit(&mut self, limit: usize) {
        if self.reading_chunks {
            self.framing.set_message_limit(limit);
        }
    }

    /// The next event, without taking it: an I/O layer can answer a ping or a
    /// close that comes next while leaving a message for its application. Decodes
    /// as [`poll_event`](Driver::poll_event) does.
    pub fn peek_event(&mut self) -> Option<&Event> {
        if self.events.is_empty() && self.chunks.is_empty() && self.may_decode() {
            self.process_input();
        }
        self.events.front()
    }

    /// Whether decoding could produce an event: not with no input and no end of
    /// stream to report (every decoder needs a byte to make progress; a frame
    /// without payload completes with its header). Asked on every poll for an
    /// event, so an I/O layer's "anything more?" costs nothing when drained.
    fn may_decode(&self) -> bool {
        !self.input.is_empty() || self.eof
    }

    /// Whether a piece of a message read with [`poll_chunk`](Driver::poll_chunk)
    /// waits to be taken: like an event waiting, for an I/O layer that bounds its
    /// reading by [`buffered_incoming`](Driver::buffered_incoming).
    pub fn chunk_waiting(&self) -> bool {
        !self.chunks.is_empty()
    }

    /// When [`handle_timeout`](Driver::handle_timeout) should next be called, if a
    /// timer is armed: the close timeout while closing, the keepalive or idle
    /// timer while open, and the release of a large input buffer kept empty
    /// (see [`shrink_input`](Driver::shrink_input)). Up to date after every call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let protocol = self.protocol_timeout();
        match self.input_size {
            InputSize::Kept { until } => Some(protocol.map_or(until, |t| t.min(until))),
            _ => protocol,
        }
    }

    /// The protocol's timers: closing, keepalive, idle.
    fn protocol_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Closing { deadline, .. } => Some(deadline),
            Phase::Open => {
                let idle = self
                    .options
                    .idle_timeout
                    .and_then(|t| Some(self.last_seen? + t));
                match (idle, self.keepalive_due()) {
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

    /// Sends a message. While a message is being sent in fragments, this is
    /// [`ErrorKind::MessageInProgress`]: the peer can receive nothing else
    /// until that one ends.
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        self.check_can_send_message()?;
        let out = sink(&self.phase, &mut self.output, &mut self.deferred);
        self.framing.encode_message(out, message, &mut self.rng)
    }

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
        self.check_can_send_message()?;
        let out = sink(&self.phase, &mut self.output, &mut self.deferred);
        self.framing.encode_prepared(out, message, &mut self.rng)
    }

    /// Opens a message to be sent in fragments, for data that is not all at
    /// hand (a large file, a reply being generated): send its pieces with
    /// [`send_fragment`](Driver::send_fragment) and the last with
    /// [`finish_message`](Driver::finish_message). Nothing is queued yet: the
    /// first frame, with the opcode, goes out with the first piece.
    ///
    /// Until it ends, other data messages ([`send`](Driver::send),
    /// [`send_prepared`](Driver::send_prepared), another `start_message`) are
    /// [`ErrorKind::MessageInProgress`]; pings, automatic pongs and the close
    /// go between its fragments. A close ends everything: the peer drops the
    /// unfinished message. Under permessage-deflate the message is one
    /// compressed stream across its frames, each fragment flushed so that the
    /// peer inflates it as it arrives. hixie has no fragments: there it is
    /// [`ErrorKind::Unsupported`]. Before the handshake finishes, the fragments
    /// are queued like messages. The rules are on [`OutgoingMessage`].
    ///
    /// ```
    /// use std::time::Instant;
    /// use websocket_protocol::protocol::{Driver, MessageKind, Options, Transmit};
    /// # let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    /// let mut server = Driver::server_from_bytes(request, Options::default()).unwrap().unwrap();
    /// server.start(Instant::now());
    /// while server.poll_transmit().is_some() {} // the handshake response
    ///
    /// let mut message = server.start_message(MessageKind::Text)?;
    /// server.send_fragment(&mut message, "h\u{e9}".as_bytes()[..2].to_vec())?; // "h" and half of "é"
    /// server.ping("between fragments")?;
    /// server.finish_message(message, &b"\xa9llo"[..])?;
    /// let mut wire = Vec::new();
    /// while let Some(Transmit::Data(bytes)) = server.poll_transmit() {
    ///     wire.extend_from_slice(&bytes);
    /// }
    /// assert_eq!(&wire[..4], &[0x01, 2, b'h', 0xc3]); // text, no FIN
    /// assert_eq!(wire[4], 0x89); // the ping, between
    /// assert_eq!(&wire[wire.len() - 6..], &[0x80, 4, 0xa9, b'l', b'l', b'o']); // FIN
    /// # Ok::<(), websocket_protocol::protocol::Error>(())
    /// ```
    pub fn start_message(&mut self, kind: MessageKind) -> Result<OutgoingMessage, Error> {
        self.check_can_send_message()?;
        let fragments = self.framing.start_fragments(kind)?;
        let message = OutgoingMessage::new(kind);
        self.sending = Some(Box::new(Sending {
            id: message.id,
            utf8: (kind == MessageKind::Text).then(Utf8Validator::default),
            fragments,
        }));
        Ok(message)
    }

    /// Sends a piece of `message` as one frame (nothing for an empty piece).
    ///
    /// A text piece may end inside a code point, which the next completes. A
    /// piece that is not UTF-8 is [`ErrorKind::InvalidFragment`], and nothing
    /// of it is sent: the message is still open. After a close it is
    /// [`ErrorKind::Closed`].
    pub fn send_fragment(
        &mut self,
        message: &mut OutgoingMessage,
        piece: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.fragment(message, piece.into(), false)
    }

    /// Sends the last piece of `message`, with FIN, and ends it (`last` may be
    /// empty). Refused as [`send_fragment`](Driver::send_fragment) refuses a
    /// piece, and also when text ends inside a code point: then nothing is
    /// sent, and [`Unfinished`] gives the message back, still open.
    pub fn finish_message(
        &mut self,
        message: OutgoingMessage,
        last: impl Into<Bytes>,
    ) -> Result<(), Unfinished> {
        let mut message = message;
        match self.fragment(&mut message, last.into(), true) {
            Ok(()) => Ok(()),
            Err(e) => Err(Unfinished::new(message, e)),
        }
    }

    /// Gives up on `message` at `now`. A message ends only with FIN, and
    /// ending it so would hand the peer a truncated message as whole: instead
    /// the connection fails, with a close frame of code 1011 between the
    /// fragments, [`Event::Error`] ([`ErrorKind::MessageAbandoned`]) and
    /// [`Event::Close`]. The peer sees the close and never the message. After
    /// a close (which already ended the message) it does nothing.
    pub fn abort_message(&mut self, message: OutgoingMessage, now: Instant) {
        self.tick(now);
        if self.sending.as_ref().is_some_and(|s| s.id == message.id) {
            self.sending = None;
            if !matches!(self.phase, Phase::Closing { .. } | Phase::Closed { .. }) {
                self.fail(Error::new(ErrorKind::MessageAbandoned));
            }
        }
    }

    /// The kind of the message being sent in fragments, if one is open: other
    /// data messages wait for it.
    pub fn sending_message(&self) -> Option<MessageKind> {
        let sending = self.sending.as_ref()?;
        Some(match sending.utf8 {
            Some(_) => MessageKind::Text,
            None => MessageKind::Binary,
        })
    }

    fn fragment(
        &mut self,
        message: &mut OutgoingMessage,
        piece: Bytes,
        fin: bool,
    ) -> Result<(), Error> {
        self.check_can_send()?;
        let sending = match &mut self.sending {
            Some(s) if s.id == message.id => s,
            _ => {
                return Err(Error::new(ErrorKind::InvalidFragment(
                    "not the message open on this connection",
                )))
            }
        };
        if let Some(utf8) = &sending.utf8 {
            // Checked on a copy: a refused piece leaves the state as it was.
            let mut next = utf8.clone();
            next.feed(&piece).map_err(|_| {
                Error::new(ErrorKind::InvalidFragment("the text is not valid UTF-8"))
            })?;
            if fin {
                next.finish().map_err(|_| {
                    Error::new(ErrorKind::InvalidFragment(
                        "the text ends inside a code point",
                    ))
                })?;
            }
            sending.utf8 = Some(next);
        }
        if piece.is_empty() && !fin {
            return Ok(());
        }
        let out = sink(&self.phase, &mut self.output, &mut self.deferred);
        self.framing
            .encode_fragment(out, &mut sending.fragments, piece, fin, &mut self.rng);
        if fin {
            self.sending = None;
        }
        Ok(())
    }

    /// Sends a ping (hybi only); at most 125 bytes. The peer's pong arrives as
    /// [`Event::Pong`] with the same payload.
    pub fn ping(&mut self, payload: impl Into<Bytes>) -> Result<(), Error> {
        self.check_can_send()?;
        let out = sink(&self.phase, &mut self.output, &mut self.deferred);
        self.framing.encode_ping(out, payload.into(), &mut self.rng)
    }

    /// Starts the closing handshake at `now` with `code` and `reason` (at most
    /// 123 bytes).
    ///
    /// hybi sends the close frame and waits, up to [`Options::close_timeout`]
    /// from `now` ([`poll_timeout`](Driver::poll_timeout) says when), for the
    /// peer's; hixie-76 sends `0xFF 0x00` and closes; hixie-75 closes at once.
    /// Before the handshake finishes, the connection is abandoned and queued
    /// messages are dropped. Closing twice does nothing.
    pub fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: &str,
        now: Instant,
    ) -> Result<(), Error> {
        self.tick(now);
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
                self.deferred = None;
                self.finish(
                    CloseFrame::new(CloseCode::ABNORMAL, ""),
                    CloseCause::Abandoned,
                );
            }
            Phase::Open => match self.send_close(Some(&frame)) {
                CloseStyle::Handshake => {
                    // The message being read in pieces is cut: decoding runs
                    // ahead now, to find the peer's answer.
                    self.chunks.clear();
                    self.discarding = self.framing.streaming();
                    self.phase = Phase::Closing {
                        by: Side::Local,
                        awaiting: Awaiting::CloseFrame,
                        deadline: now + self.options.close_timeout,
                    };
                }
                CloseStyle::Immediate | CloseStyle::Nothing => {
                    self.finish(frame, CloseCause::Clean)
                }
            },
            Phase::Closing { .. } | Phase::Closed { .. } => {}
        }
        Ok(())
    }

    fn check_can_send(&self) -> Result<(), Error> {
        match self.phase {
            Phase::Closing { .. } | Phase::Closed { .. } => Err(Error::new(ErrorKind::Closed)),
            _ => Ok(()),
        }
    }

    /// A data message may start: the connection can send and no message is
    /// being sent in fragments.
    fn check_can_send_message(&self) -> Result<(), Error> {
        self.check_can_send()?;
        match self.sending {
            Some(_) => Err(Error::new(ErrorKind::MessageInProgress)),
            None => Ok(()),
        }
    }

    /// Queues what closes the connection from our side (see
    /// [`Framing::encode_close`]) and notes it as sent.
    fn send_close(&mut self, frame: Option<&CloseFrame>) -> CloseStyle {
        // The close frame ends everything, a message open in fragments too.
        self.sending = None;
        let style = self
            .framing
            .encode_close(&mut self.output, frame, &mut self.rng);
        if style != CloseStyle::Nothing {
            let sent = frame.cloned();
            self.close_sent =
                Some(Box::new(sent.unwrap_or_else(|| {
                    CloseFrame::new(CloseCode::NO_STATUS, "")
                })));
        }
        style
    }

    // ---- frame handling ------------------------------------------------------

    fn on_frame(&mut self, frame: Frame) {
        match frame {
            Frame::Message(m) => self.events.push_back(Event::Message(m)),
            Frame::Start(text) => {
                // Once our close frame is out, a message starting is not read:
                // decoding runs ahead to find the peer's answer.
                if self.awaiting(Awaiting::CloseFrame) {
                    self.discarding = true;
                } else {
                    let kind = if text {
                        MessageKind::Text
                    } else {
                        MessageKind::Binary
                    };
                    self.chunks.push_back(Chunk::Start(kind));
                }
            }
            Frame::Part(m) => {
                if !self.discarding && !self.awaiting(Awaiting::CloseFrame) {
                    self.chunks.push_back(match m {
                        Message::Text(t) => Chunk::Text(t),
                        Message::Binary(b) => Chunk::Binary(b),
                    });
                }
            }
            Frame::End => {
                if !std::mem::take(&mut self.discarding) && !self.awaiting(Awaiting::CloseFrame) {
                    self.chunks.push_back(Chunk::End);
                }
            }
            Frame::Ping(payload) => {
                // After our close frame nothing more may be sent, pongs included.
                if matches!(self.phase, Phase::Open) {
                    if let Some(pong) = self.framing.encode_pong(payload.clone(), &mut self.rng) {
                        // At most one waits: see `Output::push_pong`.
                        self.output.push_pong(pong);
                    }
                }
                self.events.push_back(Event::Ping(payload));
            }
            Frame::Pong(payload) => self.events.push_back(Event::Pong(payload)),
            Frame::Close(frame) => {
                self.close_received = Some(Box::new(frame.clone()));
                let (by, style) = match self.phase {
                    Phase::Open => {
                        // Echo the code (RFC 6455 section 5.5.1); an empty close
                        // frame is answered with an empty one.
                        let echo = (frame.code != CloseCode::NO_STATUS).then_some(&frame);
                        (Side::Remote, self.send_close(echo))
                    }
                    Phase::Closing { by, .. } => (by, CloseStyle::Handshake),
                    _ => return,
                };
                match (style, self.role) {
                    // RFC 6455 section 7.1.1: the server closes the transport first.
                    (CloseStyle::Handshake, Role::Client) => {
                        self.events.push_back(Event::Close(frame));
                        self.phase = Phase::Closing {
                            by,
                            awaiting: Awaiting::Eof,
                            deadline: self.clock() + self.options.close_timeout,
                        };
                    }
                    _ => self.finish(frame, CloseCause::Clean),
                }
            }
        }
    }

    /// The peer broke the protocol (or went idle): send the code, report, close.
    fn fail(&mut self, error: Error) {
        let code = error.close_code().unwrap_or(CloseCode::PROTOCOL_ERROR);
        let reason = truncate(&error.to_string(), MAX_CLOSE_REASON).to_owned();
        let frame = CloseFrame::new(code, reason);
        // Once our close frame is out, nothing more may follow it.
        if matches!(self.phase, Phase::Open) {
            self.send_close(Some(&frame));
        }
        self.events.push_back(Event::Error(error.clone()));
        self.finish(frame, CloseCause::Error(error));
    }

    fn fail_handshake(&mut self, error: Error) {
        self.events.push_back(Event::Error(error.clone()));
        self.finish(
            CloseFrame::new(CloseCode::ABNORMAL, ""),
            CloseCause::Handshake(error),
        );
    }

    /// Reports the close and asks for the transport to be shut.
    fn finish(&mut self, frame: CloseFrame, cause: CloseCause) {
        self.events.push_back(Event::Close(frame.clone()));
        self.phase = Phase::Closed { frame, cause };
        self.deferred = None;
        self.sending = None;
        self.input.clear();
        self.shutdown = true;
    }
}

/// Where frames go now: the wire once open, the deferred queue before. (A
/// function of the fields, not of the driver, so that `framing` stays free to
/// encode into it.)
fn sink<'a>(
    phase: &Phase,
    output: &'a mut Output,
    deferred: &'a mut Option<Box<Output>>,
) -> &'a mut Output {
    match phase {
        Phase::Open | Phase::Closing { .. } => output,
        _ => deferred.get_or_insert_with(Box::default),
    }
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
