//! Sending one message in fragments: [`MessageWriter`] (`tokio::io::AsyncWrite`)
//! and [`MessageSink`] (`Sink<Bytes>`); the rules are on [`MessageWriter`].

use super::shared::Shared;
use super::{Sender, WebSocket};
use crate::error::Error;
use crate::protocol::{MessageKind, OutgoingMessage};
use bytes::{Bytes, BytesMut};
use futures_sink::Sink;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

#[cfg(doc)]
use super::Config;

/// One message sent in fragments, written as a byte stream
/// (`tokio::io::AsyncWrite`).
///
/// A server that sends a 200 MB file or a long generated reply should not hold
/// it in memory first. Open a writer with `message_writer(kind)` on a
/// [`WebSocket`] or a [`Sender`], write into it (`tokio::io::copy` from a file
/// is the natural shape), and `shutdown()` it to end the message:
///
/// ```no_run
/// use tokio::io::AsyncWriteExt;
/// use websocket_protocol::protocol::MessageKind;
/// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), Box<dyn std::error::Error>> {
/// let mut file = tokio::fs::File::open("video.mp4").await?;
/// let mut writer = ws.message_writer(MessageKind::Binary)?;
/// tokio::io::copy(&mut file, &mut writer).await?;
/// writer.shutdown().await?; // the last fragment, with FIN
/// # Ok(()) }
/// ```
///
/// # Fragments and memory
///
/// The writer gathers what is written into a fragment of at most
/// [`Config::fragment_size`] (64 KiB by default) and queues it once full;
/// `shutdown` queues the rest as the last fragment. Before it queues a
/// fragment it waits, as `send` does, while more than
/// [`Config::write_buffer_size`] bytes are queued for writing, so the message
/// holds at most about one fragment being gathered plus the write buffer,
/// whatever its size. `flush` writes and flushes the fragments already cut but
/// does not cut a short one: `tokio::io::copy` flushes whenever its reader has
/// nothing ready, which would cut a file into read-sized fragments. The
/// [`MessageSink`] is for data that is already in chunks: each item is sent as
/// it is, cut only where it is larger than the fragment size.
///
/// Text is checked as it goes (a write may split a code point): bytes that are
/// not UTF-8, or a message ending inside a code point, fail the write or the
/// shutdown with [`io::ErrorKind::InvalidData`].
///
/// # The rest of the connection meanwhile
///
/// The peer can receive nothing else until the message ends (RFC 6455 section
/// 5.4), so while a writer is open:
/// - control frames go between its fragments: automatic pongs, keepalive
///   pings, [`ping`](WebSocket::ping), and a close ([`CloseHandle`](super::CloseHandle),
///   the hub's slow-subscriber close), which ends everything: the writer's
///   next call fails (`io::ErrorKind::BrokenPipe`, around the socket's error of
///   kind [`Closed`](crate::ErrorKind::Closed)) and the peer drops the
///   unfinished message;
/// - whole messages wait: `send`, `feed` and the `Sink` of another handle of
///   the same socket wait until the message ends, and a [`Hub`](crate::hub::Hub)
///   finds the subscriber full (its policy then skips or closes it, as for a
///   subscriber that does not read).
///
/// # Dropping a writer mid-message
///
/// A message ends only with FIN, and sending FIN on drop would hand the peer a
/// truncated message as if it were whole. So dropping a writer that was not
/// shut down (a failed `copy`, a cancelled task) fails the connection: a close
/// frame with code 1011 (Internal Error) goes out after the fragments already
/// queued, and the connection fails with
/// [`MessageAbandoned`](crate::protocol::ErrorKind::MessageAbandoned) (the
/// reader's `recv` returns that error once, then `None`). The peer sees the
/// close frame and never the message. After an error, the writer is done in
/// the same way: drop it. A writer that is leaked (`std::mem::forget`) never
/// runs that drop: its message stays open and every whole-message send waits
/// for it, until the connection closes ([`CloseHandle`](super::CloseHandle),
/// the peer, a timeout).
///
/// # The `AsyncWrite` methods
///
/// `poll_write` gathers bytes into a fragment of at most
/// [`Config::fragment_size`] and queues it, waiting for room in the write
/// buffer, when full; `poll_flush` writes and flushes what is queued without
/// cutting a short fragment; `poll_shutdown` queues the rest with FIN, then
/// flushes. Dropping it before `shutdown` fails the connection with 1011.
///
/// # Cancel safety
///
/// The futures of `AsyncWriteExt` on it are as cancel-safe as tokio's own: a
/// `write` that is cancelled wrote nothing; bytes accepted stay gathered.
pub struct MessageWriter<'a, IO> {
    shared: &'a Shared<IO>,
    /// `None` once the message ended (finished, or the connection closing).
    message: Option<OutgoingMessage>,
    /// What was written and not cut into a fragment yet.
    gathered: BytesMut,
    /// Cut and not queued yet (the sink's items may exceed a fragment: they
    /// are queued a fragment at a time).
    pending: Bytes,
    fragment_size: usize,
    /// After a failure the writer is done.
    failed: bool,
}

impl<'a, IO> MessageWriter<'a, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    fn new(shared: &'a Shared<IO>, kind: MessageKind) -> Result<Self, Error> {
        let message = shared.start_message(kind)?;
        Ok(MessageWriter {
            shared,
            message: Some(message),
            gathered: BytesMut::new(),
            pending: Bytes::new(),
            fragment_size: shared.ctx.fragment_size,
            failed: false,
        })
    }

    /// Whether the message has ended (shut down).
    pub fn is_finished(&self) -> bool {
        self.message.is_none() && !self.failed
    }

    fn check(&self) -> Result<(), Error> {
        if self.failed || self.message.is_none() {
            return Err(Error::closed());
        }
        Ok(())
    }

    /// Notes a failure: the writer is done.
    fn fail(&mut self, error: Error) -> Error {
        self.failed = true;
        error
    }

    /// Queues `pending`, a fragment at a time, keeping back the last
    /// `keep` bytes (at most a fragment) when they may end the message.
    fn poll_pending(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<Result<(), Error>> {
        while self.pending.len() > keep {
            let n = self.fragment_size.min(self.pending.len() - keep);
            let piece = self.pending.slice(..n);
            match ready!(self
                .shared
                .poll_fragment(cx, &mut self.message, &piece, false))
            {
                Ok(()) => {
                    let _ = self.pending.split_to(n);
                }
                Err(e) => return Poll::Ready(Err(self.fail(e))),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Moves a full gathered fragment to `pending` and queues it.
    fn poll_cut(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        ready!(self.poll_pending(cx, 0))?;
        if self.gathered.len() >= self.fragment_size {
            self.pending = self.gathered.split().freeze();
            ready!(self.poll_pending(cx, 0))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Queues everything with FIN on the last fragment, then flushes.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.message.is_some() && !self.failed {
            if !self.gathered.is_empty() {
                ready!(self.poll_pending(cx, 0))?;
                self.pending = self.gathered.split().freeze();
            }
            // The last fragment carries FIN (empty if nothing is left).
            let keep = self.pending.len().min(self.fragment_size);
            ready!(self.poll_pending(cx, keep))?;
            let last = self.pending.clone();
            match ready!(self
                .shared
                .poll_fragment(cx, &mut self.message, &last, true))
            {
                Ok(()) => self.pending = Bytes::new(),
                Err(e) => return Poll::Ready(Err(self.fail(e))),
            }
        }
        if self.failed {
            return Poll::Ready(Err(Error::closed()));
        }
        self.shared.poll_flush(cx)
    }
}

impl<IO> AsyncWrite for MessageWriter<'_, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        this.check().map_err(io_error)?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(this.poll_cut(cx)).map_err(io_error)?;
        let n = buf.len().min(this.fragment_size - this.gathered.len());
        if this.gathered.is_empty() && n == this.fragment_size {
            this.gathered.reserve(n);
        }
        this.gathered.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    /// Writes and flushes the fragments already cut; a short one waits for
    /// more bytes or for `shutdown` (see [`MessageWriter`]).
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.message.is_some() {
            this.check().map_err(io_error)?;
            ready!(this.poll_pending(cx, 0)).map_err(io_error)?;
        }
        this.shared.poll_flush(cx).map_err(io_error)
    }

    /// Ends the message: the rest as the last fragment, with FIN; then flushes.
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_finish(cx).map_err(io_error)
    }
}

impl<IO> Drop for MessageWriter<'_, IO> {
    fn drop(&mut self) {
        if let Some(message) = self.message.take() {
            self.shared.abort_message(message);
        }
    }
}

impl<IO> fmt::Debug for MessageWriter<'_, IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageWriter")
            .field("message", &self.message)
            .field("gathered", &self.gathered.len())
            .finish_non_exhaustive()
    }
}

/// One message sent in fragments, from chunks you already have: each item is
/// one fragment (cut where it is larger than [`Config::fragment_size`]), and
/// closing the sink ends the message. The last item carries FIN when it was
/// fed (`SinkExt::feed`) and not flushed before the close; after a flush
/// (`SinkExt::send` flushes) the close adds an empty last fragment with FIN,
/// since a flushed item is on the wire before anyone knows it is the last. From
/// `message_sink(kind)` on a [`WebSocket`] or a [`Sender`]; everything else
/// (backpressure, the rest of the connection, dropping it unclosed) is as for
/// [`MessageWriter`].
///
/// ```no_run
/// use futures::{stream, SinkExt, StreamExt};
/// use websocket_protocol::protocol::MessageKind;
/// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
/// let chunks = vec![bytes::Bytes::from("hello, "), bytes::Bytes::from("world")];
/// let mut sink = ws.message_sink(MessageKind::Text)?;
/// sink.send_all(&mut stream::iter(chunks).map(Ok)).await?;
/// sink.close().await?; // an empty fragment with FIN
/// drop(sink);
///
/// let mut sink = ws.message_sink(MessageKind::Binary)?;
/// sink.send(bytes::Bytes::from_static(b"first")).await?; // on the wire now
/// sink.feed(bytes::Bytes::from_static(b"last")).await?; // held
/// sink.close().await?; // "last", with FIN
/// # Ok(()) }
/// ```
pub struct MessageSink<'a, IO> {
    writer: MessageWriter<'a, IO>,
}

impl<IO> MessageSink<'_, IO> {
    /// Whether the message has ended (the sink was closed).
    pub fn is_finished(&self) -> bool {
        self.writer.message.is_none() && !self.writer.failed
    }
}

impl<IO> Sink<Bytes> for MessageSink<'_, IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    /// Ready once the previous item is queued, whole.
    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let w = &mut self.writer;
        w.check()?;
        w.poll_pending(cx, 0)
    }

    fn start_send(mut self: Pin<&mut Self>, item: Bytes) -> Result<(), Error> {
        let w = &mut self.writer;
        w.check()?;
        debug_assert!(w.pending.is_empty(), "start_send without poll_ready");
        if w.pending.is_empty() {
            w.pending = item;
            return Ok(());
        }
        // Without poll_ready: keep the order, at the cost of a copy.
        let mut joined = BytesMut::with_capacity(w.pending.len() + item.len());
        joined.extend_from_slice(&w.pending);
        joined.extend_from_slice(&item);
        w.pending = joined.freeze();
        Ok(())
    }

    /// Queues the items so far, then writes and flushes them.
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let w = &mut self.writer;
        if w.message.is_some() {
            w.check()?;
            ready!(w.poll_pending(cx, 0))?;
        }
        w.shared.poll_flush(cx)
    }

    /// Ends the message: the last item with FIN, then flushes.
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.writer.poll_finish(cx)
    }
}

impl<IO> fmt::Debug for MessageSink<'_, IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MessageSink")
            .field("message", &self.writer.message)
            .finish_non_exhaustive()
    }
}

/// The socket's error as an `io::Error` for `AsyncWrite`, with it as the source.
fn io_error(e: Error) -> io::Error {
    use crate::ErrorKind as K;
    let kind = match e.kind() {
        K::Io => e.io_error().map_or(io::ErrorKind::Other, |io| io.kind()),
        K::Closed => io::ErrorKind::BrokenPipe,
        K::Timeout => io::ErrorKind::TimedOut,
        K::InvalidInput => io::ErrorKind::InvalidData,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, e)
}

macro_rules! streaming_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Opens a message to send in fragments, written as a byte stream
            /// (`tokio::io::AsyncWrite`): see [`MessageWriter`]. Nothing is sent
            /// until a fragment is cut. Fails if the connection is closing, and
            /// on hixie connections, which have no fragments.
            pub fn message_writer(
                &mut self,
                kind: MessageKind,
            ) -> Result<MessageWriter<'_, IO>, Error> {
                MessageWriter::new(&self.shared, kind)
            }

            /// Opens a message to send in fragments from chunks (a
            /// `Sink<Bytes>`): see [`MessageSink`].
            pub fn message_sink(
                &mut self,
                kind: MessageKind,
            ) -> Result<MessageSink<'_, IO>, Error> {
                Ok(MessageSink {
                    writer: MessageWriter::new(&self.shared, kind)?,
                })
            }
        }
    };
}

streaming_methods!(WebSocket);
streaming_methods!(Sender);
