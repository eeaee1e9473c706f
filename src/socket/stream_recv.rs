//! Reading a message as it arrives, in pieces, instead of whole.
//!
//! [`recv_stream`](crate::WebSocket::recv_stream) (on the socket and on a split
//! [`Receiver`](super::Receiver)) takes the next message as an
//! [`IncomingMessage`]: its kind at once, then its payload as it arrives, as a
//! `Stream` of [`Bytes`] and as a `tokio::io::AsyncRead`, so an upload goes to
//! disk with `tokio::io::copy` and never sits in memory whole. The default
//! [`recv`](crate::WebSocket::recv) still joins whole messages; the choice is
//! per message.
//!
//! ```no_run
//! use websocket_protocol::WebSocket;
//! # async fn f(mut ws: WebSocket<tokio::net::TcpStream>) -> Result<(), Box<dyn std::error::Error>> {
//! while let Some(message) = ws.recv_stream().await {
//!     let mut body = message?;
//!     body.set_limit(1 << 30); // this one may be up to 1 GiB
//!     let mut file = tokio::fs::File::create("upload.bin").await?;
//!     let written = tokio::io::copy(&mut body, &mut file).await?;
//!     println!("{:?} message, {written} bytes", body.kind());
//! }
//! # Ok(()) }
//! ```
//!
//! # What the core does
//!
//! Every rule is the [`Driver`](crate::protocol::Driver)'s ("Messages in
//! pieces" there): payload handed out as it arrives, even inside a frame,
//! unmasked in place and without a copy; text validated as it arrives and
//! handed out in whole code points (invalid UTF-8 fails the connection with
//! 1007); permessage-deflate inflated at most 64 KiB per piece; the message
//! size limits applied to the total unless [`IncomingMessage::set_limit`]
//! changes them for this message; pings answered and pongs matched between
//! the pieces.
//!
//! # Memory and backpressure
//!
//! The body is pulled: each poll takes one piece, and the socket reads the
//! transport only while the pieces waiting are under
//! [`Config::message_buffer_size`](crate::Config::message_buffer_size), as for
//! whole messages. A piece is at most one read (64 KiB), so while the body is
//! read a connection holds about one read and the message buffer's bound,
//! whatever the message or frame size; a body nobody polls stops the reading
//! and TCP pushes back on the peer. (Input read before the reader asked for
//! pieces, by another task polling the socket meanwhile, is handed out as
//! one piece: bound by the frame size.)
//!
//! # Dropped early, cut short
//!
//! Dropping the body before its end gives the message up: what waits of it is
//! dropped, and the rest as it arrives (still validated, and inflated when
//! compressed, since the next message may refer back to it), so the next
//! `recv` or `recv_stream` gets the next message. If the connection closes or
//! fails before the message ends, the body yields that error (for a close
//! frame in the middle, an error of kind [`Closed`](crate::ErrorKind::Closed))
//! instead of ending, so a cut message is never taken for a whole one.
//! hixie frames have no length: each arrives whole and is one piece.

use super::shared::Shared;
use crate::error::Error;
use crate::protocol::{Chunk, MessageKind};
use bytes::{Buf, Bytes};
use futures_core::Stream;
use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// `recv_stream`, for the socket and its receiving half.
macro_rules! stream_recv_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Receives the next text or binary message as it arrives, in pieces,
            /// instead of whole: for messages too large to hold (see
            /// [`IncomingMessage`](crate::socket::IncomingMessage) and the [module docs](crate::socket::stream_recv)).
            ///
            /// It returns as soon as the message starts, with its kind; the
            /// payload is read from the body. Ends and fails as
            /// [`recv`](Self::recv) does. Read the body to its end (or drop it)
            /// before the next `recv` or `recv_stream`, which it borrows the
            /// socket from. To answer on the same socket inside the loop, drop
            /// the body first and take it with `let Some(body) =
            /// ws.recv_stream().await else { break }` (a `while let` keeps the
            /// borrow for the whole loop body).
            ///
            /// # Cancel safety
            ///
            /// Cancel-safe: the message is taken in the poll that returns it.
            pub async fn recv_stream(
                &mut self,
            ) -> Option<Result<$crate::socket::IncomingMessage<'_, IO>, Error>> {
                let shared = &*self.shared;
                let kind =
                    poll_fn(|cx| $crate::socket::stream_recv::poll_start(shared, cx)).await?;
                Some(kind.map(|kind| $crate::socket::IncomingMessage::new(shared, kind)))
            }
        }
    };
}

/// The next message's start; pieces of a message given up are skipped.
pub(crate) fn poll_start<IO>(
    shared: &Shared<IO>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<MessageKind, Error>>>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match std::task::ready!(shared.poll_chunk(cx)) {
            Some(Ok(Chunk::Start(kind))) => return Poll::Ready(Some(Ok(kind))),
            // Nothing else comes between messages: pieces of one given up
            // are dropped by the core.
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Poll::Ready(Some(Err(e))),
            None => return Poll::Ready(None),
        }
    }
}

/// A message being received in pieces, from
/// [`recv_stream`](crate::WebSocket::recv_stream): its [`kind`](Self::kind),
/// and its payload as it arrives.
///
/// Read the payload as a `Stream` of [`Bytes`] (each item a piece: for text,
/// valid UTF-8 ending on a code point boundary, so `std::str::from_utf8` on it
/// never fails), with [`chunk`](Self::chunk), or as a `tokio::io::AsyncRead`
/// (`tokio::io::copy(&mut body, &mut file)`). The stream ends, and a read
/// returns 0, at the message's end. Dropping it early gives the rest of the
/// message up (see the [module docs](crate::socket::stream_recv)).
pub struct IncomingMessage<'a, IO> {
    shared: &'a Shared<IO>,
    kind: MessageKind,
    /// What a read took only part of.
    rest: Bytes,
    ended: bool,
    received: u64,
}

impl<'a, IO> IncomingMessage<'a, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(shared: &'a Shared<IO>, kind: MessageKind) -> Self {
        IncomingMessage {
            shared,
            kind,
            rest: Bytes::new(),
            ended: false,
            received: 0,
        }
    }

    /// Text or binary.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// Whether it is a text message (its pieces are UTF-8).
    pub fn is_text(&self) -> bool {
        self.kind == MessageKind::Text
    }

    /// Payload bytes received so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Whether the whole message has been read.
    pub fn is_complete(&self) -> bool {
        self.ended && self.rest.is_empty()
    }

    /// Sets the most this message may hold in all, in place of
    /// [`Config::max_message_size`](crate::Config::max_message_size) (and the
    /// inflated size limit): larger for an upload the connection would refuse
    /// as one message, smaller to hold one to less. Past it the connection
    /// fails with 1009 before anything past the limit is handed out. Each frame
    /// is still bound by [`Config::max_frame_size`](crate::Config::max_frame_size).
    /// Call it before reading; it has no effect on a message that had already
    /// arrived whole.
    pub fn set_limit(&mut self, bytes: usize) {
        if !self.ended {
            self.shared.set_message_limit(bytes);
        }
    }

    /// The next piece of the payload, `None` at the end.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: a piece is taken only in the poll that returns it.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, Error>> {
        poll_fn(|cx| self.poll_piece(cx)).await
    }

    fn poll_piece(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Error>>> {
        if !self.rest.is_empty() {
            return Poll::Ready(Some(Ok(std::mem::take(&mut self.rest))));
        }
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            let piece = match std::task::ready!(self.shared.poll_chunk(cx)) {
                Some(Ok(Chunk::Text(text))) => text.into_bytes(),
                Some(Ok(Chunk::Binary(data))) => data,
                Some(Ok(Chunk::End)) => {
                    self.ended = true;
                    return Poll::Ready(None);
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => {
                    // The closing handshake ended it before its end.
                    self.ended = true;
                    return Poll::Ready(Some(Err(Error::closed())));
                }
            };
            self.received += piece.len() as u64;
            return Poll::Ready(Some(Ok(piece)));
        }
    }
}

impl<IO> Stream for IncomingMessage<'_, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Bytes, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_piece(cx)
    }
}

impl<IO> AsyncRead for IncomingMessage<'_, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Reads the payload; 0 bytes at its end. A failure is an `io::Error` of
    /// kind `Other` whose inner error is the [`Error`].
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let mut piece = match std::task::ready!(this.poll_piece(cx)) {
            Some(Ok(piece)) => piece,
            Some(Err(e)) => return Poll::Ready(Err(io::Error::other(e))),
            None => return Poll::Ready(Ok(())),
        };
        let n = piece.len().min(buf.remaining());
        buf.put_slice(&piece[..n]);
        piece.advance(n);
        this.rest = piece;
        Poll::Ready(Ok(()))
    }
}

impl<IO> Drop for IncomingMessage<'_, IO> {
    fn drop(&mut self) {
        if !self.ended {
            self.shared.discard_message();
        }
    }
}

impl<IO> fmt::Debug for IncomingMessage<'_, IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingMessage")
            .field("kind", &self.kind)
            .field("received", &self.received)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}
