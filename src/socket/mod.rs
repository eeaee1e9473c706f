//! The tokio typed socket: [`WebSocket<IO>`] over any `AsyncRead + AsyncWrite`
//! stream.
//!
//! The socket owns buffers and wakeups; every protocol rule is the
//! [`Driver`]'s.
//!
//! # Reading, writing, closing
//!
//! - **Read** with [`recv`](WebSocket::recv): `while let Some(message) =
//!   ws.recv().await`. It yields text and binary [`Message`]s only. The socket
//!   is also a `futures` `Stream` of the same items, for combinators. To read a
//!   message too large to hold as it arrives, in pieces, take it with
//!   [`recv_stream`](WebSocket::recv_stream) instead (see [`stream_recv`]).
//! - **Write** with [`send`](WebSocket::send) (or `text`, `binary`; `feed` and
//!   `flush` to batch), or the `Sink` impl. A message too large to hold, or
//!   not all at hand, goes out in fragments through a [`MessageWriter`]
//!   (`AsyncWrite`) or a [`MessageSink`] (`Sink<Bytes>`), from
//!   [`message_writer`](WebSocket::message_writer) and
//!   [`message_sink`](WebSocket::message_sink).
//! - **Close** with [`close(code, reason)`](WebSocket::close), which returns the
//!   peer's close frame. It shadows `SinkExt::close()`, which is the same
//!   handshake with 1000: call that one as `SinkExt::close(&mut ws)`.
//!
//! # Where the close frame and pings are
//!
//! Control frames are the socket's job, so they are not messages:
//!
//! - **The peer's close frame** ends the stream. `recv()` returns `None` once the
//!   closing handshake is over (our answer is written), and
//!   [`close_frame`](WebSocket::close_frame) gives the frame it ended with. An
//!   axum handler's `Message::Close(frame) => ...` arm becomes, after the loop,
//!   `let frame = ws.close_frame();`. A failure is one `Some(Err(_))` first.
//! - **Pings** from the peer are answered automatically and not shown; pongs
//!   resolve [`ping`](WebSocket::ping) futures, which return the round-trip
//!   time. [`Config::keepalive`] and [`Config::idle_timeout`] watch a silent
//!   peer for you. To see every control frame yourself, drive the sans-IO
//!   [`Driver`] and read its [`Event`](crate::protocol::Event)s.
//!
//! ```no_run
//! use websocket_protocol::{Message, WebSocket};
//! # async fn f(mut ws: WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
//! while let Some(message) = ws.recv().await {
//!     match message? {
//!         Message::Text(text) => println!("text: {text}"),
//!         Message::Binary(data) => println!("{} bytes", data.len()),
//!     }
//! }
//! if let Some(frame) = ws.close_frame() {
//!     println!("closed: {} {}", frame.code, frame.reason);
//! }
//! # Ok(()) }
//! ```
//!
//! # Who owns what
//!
//! The [`Driver`] is the connection: it holds the lifecycle (open, closing and
//! who started it, closed with the close frame and the cause), the incoming
//! events, the bytes to write and their count (the write buffer's fill), and
//! every timer (close timeout, keepalive, idle timeout). The socket only pumps:
//! it reads into the driver's input, writes what the driver queued, sleeps until
//! the driver's next deadline, wakes the tasks waiting, and keeps the user's
//! [`ping`](WebSocket::ping) futures. What the socket reports (its
//! [`state`](WebSocket::state), [`close_frame`](WebSocket::close_frame), the
//! error a call fails with) is the driver's.
//!
//! # Driving without a background task
//!
//! No task is spawned per socket. Whatever is polled moves the connection
//! forward: the reader, a waiting `send`, a ping future, `close`. So pongs to
//! the peer's pings go out even if the user only reads, a ping resolves while
//! nobody reads messages, and a socket that nobody polls at all reads nothing:
//! a peer flooding it is held back by TCP. The core's timers (keepalive, idle
//! timeout) run while something polls; the close timeout always runs inside
//! [`close`](WebSocket::close).
//!
//! # Reading is bounded
//!
//! The socket reads only while the application keeps up: once messages wait
//! unread beyond [`Config::message_buffer_size`] (64 KiB by default; a message
//! in progress may exceed it, up to the max message size), nobody reads the
//! transport until the application takes them, and TCP pushes back on the
//! peer. Frames are handled in the order they arrived, so a ping, a pong or a
//! close frame behind unread messages is handled when the application reads
//! again: a [`ping`](WebSocket::ping) whose pong is queued behind messages
//! resolves once they are read. The exception is our own [`close`](WebSocket::close):
//! while it waits for the peer's answer, messages past the bound are dropped,
//! oldest first, so that the answer can be read.
//!
//! The driver also decodes one event at a time, so what the application sends
//! in answer to a message leaves before anything a later frame causes: a valid
//! message followed by a bad frame in the same read gets its reply, then the
//! close frame.
//!
//! To close a socket from a task that does not own it (a server shutting down,
//! a session that expired), take a [`CloseHandle`]: its `close` wakes whoever
//! waits on the socket to write the close frame, and its `closed` drives the
//! closing handshake itself when nobody else polls.
//!
//! # Latency
//!
//! What the driver queued in answer to the frames of one read (pongs, a close
//! frame) and the frames the application queued together leave in one
//! (vectored) write, and the transport is flushed once the queue drains, so
//! there is no reason to let the kernel batch small writes as well: on TCP,
//! call `set_nodelay(true)` before handing the stream over, or a ping queued
//! after a message can wait for Nagle's algorithm and the peer's delayed
//! acknowledgement (tens of milliseconds).
//!
//! # Pipelined replies
//!
//! When one read brings several messages (a peer that does not wait for each
//! answer), an echo loop's replies leave in one write rather than one each:
//! on an unsplit socket, the first [`send`](WebSocket::send) after `recv`
//! returned a message, made while the next message has already arrived, queues
//! its message and returns without writing.
//! What is queued is written, all at once:
//!
//! - by the `recv` that finds no further message decoded, before it waits for
//!   input, or by the first `send` that finds no message behind it (the last
//!   reply to a read), or by a second `send` without a `recv` between;
//! - by [`flush`](WebSocket::flush), [`close`](WebSocket::close), a
//!   [`ping`](WebSocket::ping), a `Sink` flush, or dropping the socket;
//! - by any `send` once 64 KiB (or the write buffer size, if smaller) waits.
//!
//! So a reply waits at most for the messages that had already arrived when it
//! was sent, as long as the application keeps calling `recv`. One that does
//! slow work between a `send` and its next `recv` while the peer pipelines
//! should `flush` first: no background task writes for it. A lone message (no
//! message behind it) is written by its `send`, so request-response latency is
//! unchanged, and a split [`Sender`] always writes at once (its receiver keeps
//! its own pace). A write that fails after `send` returned shows up in the
//! next call (`recv` ends with the error).
//!
//! # Memory
//!
//! An idle socket holds no read buffer: a read while the driver holds none
//! goes onto the stack (4 KiB) and the driver keeps only what it brought;
//! further reads go in place into the driver's input (8 KiB between frames,
//! the frame's size for a large one, read up to 1 MiB at a time), which is
//! released when the transport has nothing more to read. (A buffer that held
//! a frame larger than 64 KiB is released a second later instead, the socket's
//! timer waking it for that: the next large message reuses its memory rather
//! than page-faulting in fresh memory.) What is read and not
//! taken is bounded by [`Config::message_buffer_size`], what is queued for
//! writing by [`Config::write_buffer_size`].
//!
//! An idle server socket on a `TcpStream` holds about 1.9 KiB of heap: the
//! socket's state and its driver (960 bytes, one allocation), the task of the
//! README's accept-then-echo loop (384: the handshake futures are boxed, so
//! nothing of the handshake stays in it), tokio's I/O registration (256),
//! the event queue, write queue and wakers (208), and the driver's write
//! buffer of its last small reply (kept, up to 4 KiB, so that
//! request-response traffic costs no allocation per reply; about 60 bytes
//! after a short one). Through
//! [`WsLayer`](crate::server::WsLayer) on hyper it is about 3 KiB: the same,
//! hyper's upgraded stream (72), a task that holds the handler's future (512),
//! and the [`RequestInfo`](crate::server::RequestInfo) the handler is given
//! (about 960 with its headers), which a handler that does not keep it gives
//! back. `benches/README.md` has the breakdown and the comparison with other
//! libraries; `tests/socket_idle_memory.rs` keeps it from growing.
//!
//! # Example
//!
//! An echo server on a raw TCP stream:
//!
//! ```no_run
//! use websocket_protocol::{Config, WebSocket};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9002").await?;
//! let (tcp, _) = listener.accept().await?;
//! tcp.set_nodelay(true)?;
//! let mut ws = WebSocket::accept(tcp, Config::default()).await?;
//! while let Some(message) = ws.recv().await {
//!     ws.send(message?).await?;
//! }
//! println!("closed with {:?}", ws.close_frame());
//! # Ok(()) }
//! ```

#[macro_use]
mod methods;
#[macro_use]
pub mod stream_recv;
mod close;
mod config;
mod fanout;
mod handshake;
mod ping;
mod shared;
mod split;
mod stream_send;
mod wakers;

pub use close::CloseHandle;
pub use config::Config;
pub use handshake::{Accept, Refuse};
pub use ping::Ping;
pub use split::{Receiver, ReuniteError, Sender};
pub use stream_recv::IncomingMessage;
pub use stream_send::{MessageSink, MessageWriter};

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
/// Read with [`recv`](WebSocket::recv), write with
/// [`send`](WebSocket::send), finish with [`close`](WebSocket::close); or
/// [`split`](WebSocket::split) it for two tasks. Dropping it sends a close
/// frame (1001) if the transport takes it at once, and closes the transport.
pub struct WebSocket<IO> {
    shared: Arc<Shared<IO>>,
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
    /// # async fn f(ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
    /// let (mut tx, mut rx) = ws.split();
    /// let reader = tokio::spawn(async move {
    ///     while let Some(message) = rx.recv().await {
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

    pub(crate) fn from_shared(shared: Arc<Shared<IO>>) -> Self {
        WebSocket { shared }
    }
}

impl<IO> WebSocket<IO> {
    /// Bytes read and not yet taken by [`recv`](WebSocket::recv): the
    /// message waiting, the input behind it not decoded yet, and the frame
    /// being read ([`Driver::buffered_incoming`]). Reading stops while it is at
    /// [`Config::message_buffer_size`] and a message waits.
    pub fn buffered_incoming(&self) -> usize {
        self.shared.buffered_incoming()
    }
}

sending_methods!(WebSocket);
receiving_methods!(WebSocket);
stream_recv_methods!(WebSocket);
common_methods!(WebSocket);
