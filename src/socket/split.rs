//! The two halves of a split socket.

use super::shared::Shared;
use super::{CloseHandle, Ping, WebSocket};
use crate::error::Error;
use crate::protocol::{CloseCode, CloseFrame, Message, ReadyState, Utf8Bytes, Version};
use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

pub(crate) fn split<IO>(shared: Arc<Shared<IO>>) -> (Sender<IO>, Receiver<IO>) {
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

/// The sending half of a [`WebSocket`], from [`WebSocket::split`].
///
/// Both halves share the connection: each drives it when polled, so pongs,
/// pings and the closing handshake work whichever half is busy. The connection
/// closes when both halves are dropped.
pub struct Sender<IO> {
    shared: Arc<Shared<IO>>,
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::split`]: a `Stream`
/// of messages.
pub struct Receiver<IO> {
    shared: Arc<Shared<IO>>,
}

impl<IO> Sender<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Sends a message; see [`WebSocket::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        poll_fn(|cx| self.shared.poll_send(cx, &mut message)).await
    }

    /// Sends a text message; see [`WebSocket::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`].
    pub async fn text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.send(Message::Text(text.into())).await
    }

    /// Sends a binary message; see [`WebSocket::send`].
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::send`].
    pub async fn binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Binary(data.into())).await
    }

    /// Queues a message without flushing; see [`WebSocket::feed`].
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
    /// Cancel-safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.shared.poll_flush(cx)).await
    }

    /// Sends a ping; see [`WebSocket::ping`]. The future resolves whether the
    /// [`Receiver`] is being read or not.
    pub fn ping(&self, payload: impl Into<Bytes>) -> Ping<IO> {
        Ping::new(&self.shared, payload.into())
    }

    /// Runs the closing handshake; see [`WebSocket::close`]. The [`Receiver`]'s
    /// stream ends once it completes.
    ///
    /// # Cancel safety
    ///
    /// As [`WebSocket::close`].
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: &str,
    ) -> Result<CloseFrame, Error> {
        self.shared.start_close(code.into(), reason)?;
        poll_fn(|cx| self.shared.poll_closed(cx)).await
    }

    /// A handle that closes the socket from another task; see [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle
    where
        IO: Send + 'static,
    {
        CloseHandle::new(&self.shared)
    }

    /// Whether `receiver` is the other half of the same socket.
    pub fn is_pair_of(&self, receiver: &Receiver<IO>) -> bool {
        Arc::ptr_eq(&self.shared, &receiver.shared)
    }

    /// Puts the halves back together; fails if they come from different sockets.
    pub fn reunite(self, receiver: Receiver<IO>) -> Result<WebSocket<IO>, ReuniteError<IO>> {
        if Arc::ptr_eq(&self.shared, &receiver.shared) {
            drop(receiver);
            Ok(WebSocket::from_shared(self.shared))
        } else {
            Err(ReuniteError {
                sender: self,
                receiver,
            })
        }
    }
}

impl<IO> Receiver<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// The stream of messages: the receiver itself; see [`WebSocket::messages`].
    ///
    /// # Cancel safety
    ///
    /// `messages().next()` is cancel-safe.
    pub fn messages(&mut self) -> &mut Self {
        self
    }

    /// The next message; see [`WebSocket::messages`].
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future loses no message.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.shared.poll_next(cx)).await
    }

    /// Sends a ping from the reading side; see [`WebSocket::ping`].
    pub fn ping(&self, payload: impl Into<Bytes>) -> Ping<IO> {
        Ping::new(&self.shared, payload.into())
    }

    /// A handle that closes the socket from another task; see [`CloseHandle`].
    pub fn close_handle(&self) -> CloseHandle
    where
        IO: Send + 'static,
    {
        CloseHandle::new(&self.shared)
    }
}

macro_rules! common_getters {
    ($ty:ident) => {
        impl<IO> $ty<IO> {
            /// The protocol version in use.
            pub fn version(&self) -> Version {
                self.shared.ctx.version
            }

            /// The negotiated subprotocol; see [`WebSocket::protocol`].
            pub fn protocol(&self) -> Option<&str> {
                self.shared.ctx.protocol.get()?.as_deref()
            }

            /// The close frame the connection ended with; see
            /// [`WebSocket::close_frame`].
            pub fn close_frame(&self) -> Option<CloseFrame> {
                self.shared.close_frame()
            }

            /// The connection's state.
            pub fn state(&self) -> ReadyState {
                self.shared.state()
            }

            /// Bytes queued for writing; see [`WebSocket::buffered_amount`].
            pub fn buffered_amount(&self) -> usize {
                self.shared.buffered_amount()
            }
        }

        impl<IO> fmt::Debug for $ty<IO> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($ty))
                    .field("version", &self.shared.ctx.version)
                    .finish_non_exhaustive()
            }
        }
    };
}

common_getters!(Sender);
common_getters!(Receiver);

impl<IO> Stream for Receiver<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.shared.poll_next(cx)
    }
}

/// `poll_close` runs the closing handshake with 1000 (Normal) and an empty reason.
impl<IO> Sink<Message> for Sender<IO>
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

/// The halves given to [`Sender::reunite`] came from different sockets.
pub struct ReuniteError<IO> {
    /// The sender, given back.
    pub sender: Sender<IO>,
    /// The receiver, given back.
    pub receiver: Receiver<IO>,
}

impl<IO> fmt::Debug for ReuniteError<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReuniteError").finish_non_exhaustive()
    }
}

impl<IO> fmt::Display for ReuniteError<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of different WebSockets")
    }
}

impl<IO> std::error::Error for ReuniteError<IO> {}
