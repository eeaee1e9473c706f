//! The tokio typed socket: [`WebSocket<IO>`] over any `AsyncRead + AsyncWrite`
//! stream.
//!
//! The socket owns buffers and wakeups; every protocol rule is the
//! [`Driver`]'s. Text and binary messages reach the user through
//! [`messages`](WebSocket::messages) (or the `Stream` impl); pings, pongs and
//! close frames are handled by the socket: automatic pongs, the closing
//! handshake, [`ping`](WebSocket::ping) futures that resolve with the round-trip
//! time.
//!
//! # Driving without a background task
//!
//! No task is spawned per socket. Whatever is polled moves the connection
//! forward: the reader, a waiting `send`, a ping future, `close`. So a ping
//! resolves while nobody reads messages (the messages that arrive meanwhile are
//! kept for [`messages`](WebSocket::messages), up to
//! [`Config::message_buffer_size`]), pongs to the peer's pings go out even if
//! the user only reads, and a socket that nobody polls at all reads nothing: a
//! peer flooding it is held back by TCP. The core's timers (keepalive, idle
//! timeout) run while something polls; the close timeout always runs inside
//! [`close`](WebSocket::close).
//!
//! To close a socket from a task that does not own it (a server shutting down,
//! a session that expired), take a [`CloseHandle`]: its `close` wakes whoever
//! waits on the socket to write the close frame, and its `closed` drives the
//! closing handshake itself when nobody else polls.
//!
//! # Latency
//!
//! Frames queued together leave in one (vectored) write, and the transport is
//! flushed once the queue drains, so there is no reason to let the kernel
//! batch small writes as well: on TCP, call `set_nodelay(true)` before handing
//! the stream over, or a ping queued after a message can wait for Nagle's
//! algorithm and the peer's delayed acknowledgement (tens of milliseconds).
//!
//! # Memory
//!
//! An idle socket holds no read buffer: reads of small frames go through the
//! stack, a large frame is read in place into a buffer of its size, and that
//! buffer is released when the connection goes quiet. The write buffer holds
//! what is queued, bounded by [`Config::write_buffer_size`].
//!
//! # Example
//!
//! An echo server on a raw TCP stream:
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use websocket_protocol::{Config, WebSocket};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = WebSocket::accept(tcp, Config::default()).await?;
//! while let Some(message) = ws.messages().next().await {
//!     ws.send(message?).await?;
//! }
//! println!("closed with {:?}", ws.close_frame());
//! # Ok(()) }
//! ```

mod close;
mod config;
mod handshake;
mod ping;
mod shared;
mod split;
mod wakers;

pub use close::CloseHandle;
pub use config::Config;
pub use ping::Ping;
pub use split::{Receiver, ReuniteError, Sender};

use crate::error::Error;
use crate::protocol::{CloseCode, CloseFrame, Driver, Message, ReadyState, Utf8Bytes, Version};
use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use shared::Shared;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// A WebSocket connection over `IO`.
///
/// Get one from the server layer, the client, [`WebSocket::accept`] /
/// [`WebSocket::connect`] on a raw stream, or [`WebSocket::from_driver`].
/// Read with [`messages`](WebSocket::messages), write with
/// [`send`](WebSocket::send), finish with [`close`](WebSocket::close); or
/// [`split`](WebSocket::split) it for two tasks. Dropping it sends a close
/// frame (1001) if the transport takes it at once, and closes the transport.
pub struct WebSocket<IO> {
    shared: Arc<Shared<IO>>,
}

impl<IO> fmt::Debug for WebSocket<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("version", &self.shared.ctx.version)
            .finish_non_exhaustive()
    }
}

impl<IO> WebSocket<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Wraps a stream whose handshake the caller has already started: the driver
    /// was `start()`ed (or `start_without_head()`ed, or `finish_handshake()`d by a
    /// client), and any bytes read past the HTTP head were fed to it.
    ///
    /// Nothing is written here: bytes the driver has queued (a handshake response,
    /// messages sent before open) go out when the socket is first polled.
    pub fn from_driver(io: IO, driver: Driver, config: Config) -> Self {
        WebSocket {
            shared: Shared::new(io, driver, &config),
        }
    }

    /// The stream of text and binary messages received: the socket itself, which
    /// implements `Stream<Item = Result<Message, Error>>`, named for readability
    /// (`ws.messages().next().await`, also inside `tokio::select!`).
    ///
    /// The stream yields `Err` once if the connection fails (a protocol violation,
    /// a transport error, a peer that vanishes without a close frame), then ends.
    /// It ends after the closing handshake (once our echo of the peer's close
    /// frame is written); [`close_frame`](WebSocket::close_frame) then says how.
    ///
    /// # Cancel safety
    ///
    /// `messages().next()` is cancel-safe: a message is taken from the socket
    /// only in the poll that returns it, so dropping the future (in
    /// `tokio::select!`, or on a timeout) loses nothing.
    pub fn messages(&mut self) -> &mut Self {
        self
    }

    /// The next message: `messages().next()` without importing `StreamExt`.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe, as [`messages`](WebSocket::messages).
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll_next(cx)).await
    }

    /// Sends a message: waits while the write buffer is above its high-water mark
    /// ([`Config::write_buffer_size`]), queues the message, and writes and flushes
    /// the queue. Before the opening handshake finishes (raw client), the message
    /// is queued and goes out once the server accepts: `send` returns then, `feed`
    /// at once. After the connection starts closing, it is an error of kind
    /// [`Closed`](crate::ErrorKind::Closed).
    ///
    /// To queue several messages and write them together, use
    /// [`feed`](WebSocket::feed) and [`flush`](WebSocket::flush), or the `Sink`
    /// impl (`send_all`).
    ///
    /// # Cancel safety
    ///
    /// If cancelled while waiting for room, the message is not sent; once it has
    /// been queued, it is sent even if the future is dropped.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        poll_fn(|cx| self.shared.poll_send(cx, &mut message)).await
    }

    /// Sends a text message; see [`send`](WebSocket::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](WebSocket::send).
    pub async fn text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message; see [`send`](WebSocket::send).
    ///
    /// # Cancel safety
    ///
    /// As [`send`](WebSocket::send).
    pub async fn binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Binary(data.into())).await
    }

    /// Queues a message without flushing: waits only while the write buffer is
    /// above its high-water mark. The queue is written by the next
    /// [`flush`](WebSocket::flush) or `send`, and whenever the socket is polled.
    ///
    /// # Cancel safety
    ///
    /// If cancelled, the message was not queued.
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll_ready(cx)).await?;
        self.shared.start_send(message.into())
    }

    /// Writes and flushes everything queued.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: what is queued stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll_flush(cx)).await
    }

    /// Sends a ping (at most 125 bytes) and returns a future that resolves with
    /// the round-trip time when the pong with the same payload arrives, measured
    /// from this call. Several pings may be in flight; pings with equal payloads
    /// resolve in order.
    ///
    /// The future drives the connection itself, so it resolves while nobody reads
    /// messages (those that arrive meanwhile are kept for
    /// [`messages`](WebSocket::messages)). It fails if the connection closes first,
    /// if the payload is too long, or on hixie connections, which have no ping.
    ///
    /// ```no_run
    /// # async fn f(ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
    /// let rtt = ws.ping("hi").await?;
    /// println!("round trip: {rtt:?}");
    /// # Ok(()) }
    /// ```
    pub fn ping(&self, payload: impl Into<Bytes>) -> Ping<IO> {
        Ping::new(&self.shared, payload.into())
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes),
    /// waits for the peer's close frame (up to [`Config::close_timeout`]) and for
    /// the transport's shutdown, and returns the peer's close frame.
    ///
    /// If the peer closed first, it returns the peer's frame. It fails with
    /// [`Timeout`](crate::ErrorKind::Timeout) when the peer does not answer in
    /// time, with [`Io`](crate::ErrorKind::Io) when the transport fails, and with
    /// the cause when the connection had already failed. Messages that arrive
    /// meanwhile are kept for [`messages`](WebSocket::messages) up to
    /// [`Config::message_buffer_size`] and dropped beyond it.
    ///
    /// # Cancel safety
    ///
    /// Once called, the close frame is queued: cancelling stops only the waiting.
    /// Calling `close` again resumes it.
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: &str,
    ) -> Result<CloseFrame, Error> {
        self.shared.start_close(code.into(), reason)?;
        poll_fn(|cx| self.shared.poll_closed(cx)).await
    }

    /// Waits for the opening handshake to finish (raw client): useful to know the
    /// server accepted before sending, or to read [`protocol`](WebSocket::protocol).
    /// Messages that arrive with the handshake are kept.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe.
    pub async fn ready(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll_open(cx)).await
    }

    /// Splits the socket into a sending and a receiving half, for two tasks.
    /// [`Sender::reunite`] puts them back together.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn f(ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
    /// let (mut tx, mut rx) = ws.split();
    /// let reader = tokio::spawn(async move {
    ///     while let Some(message) = rx.next().await {
    ///         println!("got {:?}", message?);
    ///     }
    ///     Ok::<_, websocket_protocol::Error>(rx.close_frame())
    /// });
    /// tx.text("hello").await?;
    /// let rtt = tx.ping("x").await?; // resolved through the reader's reads
    /// tx.close(1000, "done").await?;
    /// let peer_close = reader.await.unwrap()?;
    /// # Ok(()) }
    /// ```
    pub fn split(self) -> (Sender<IO>, Receiver<IO>) {
        split::split(self.shared)
    }

    /// A handle that closes this socket from another task; see [`CloseHandle`].
    ///
    /// ```no_run
    /// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) {
    /// let handle = ws.close_handle();
    /// let reader = tokio::spawn(async move {
    ///     while let Some(Ok(_message)) = ws.recv().await {}
    ///     ws.close_frame() // the peer's answer to the close below
    /// });
    /// handle.close(1001, "going away").unwrap();
    /// let peer_close = reader.await.unwrap();
    /// # }
    /// ```
    pub fn close_handle(&self) -> CloseHandle
    where
        IO: Send + 'static,
    {
        CloseHandle::new(&self.shared)
    }

    pub(crate) fn from_shared(shared: Arc<Shared<IO>>) -> Self {
        WebSocket { shared }
    }
}

impl<IO> WebSocket<IO> {
    /// The protocol version in use.
    pub fn version(&self) -> Version {
        self.shared.ctx.version
    }

    /// The negotiated subprotocol: known from the start on a server, once open on
    /// a client.
    pub fn protocol(&self) -> Option<&str> {
        self.shared.ctx.protocol.get()?.as_deref()
    }

    /// The close frame the connection ended with, once it has: the peer's when
    /// the closing handshake completed, the code we sent when we failed the
    /// connection, [`CloseCode::ABNORMAL`] when the transport ended without one.
    pub fn close_frame(&self) -> Option<CloseFrame> {
        self.shared.close_frame()
    }

    /// The connection's state.
    pub fn state(&self) -> ReadyState {
        self.shared.state()
    }

    /// Bytes queued for writing (handshake, messages, control frames).
    pub fn buffered_amount(&self) -> usize {
        self.shared.buffered_amount()
    }

    /// Bytes read and not yet taken by [`messages`](WebSocket::messages): kept
    /// messages and the frame being read.
    pub fn buffered_incoming(&self) -> usize {
        self.shared.buffered_incoming()
    }
}

impl<IO> Stream for WebSocket<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll_next(cx)
    }
}

/// `poll_close` runs the closing handshake with 1000 (Normal) and an empty reason.
impl<IO> Sink<Message> for WebSocket<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.shared.start_close(CloseCode::NORMAL, "")?;
        self.shared.poll_closed(cx).map_ok(drop)
    }
}
