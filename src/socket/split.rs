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
    shared.set_split(true);
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
    pub(super) shared: Arc<Shared<IO>>,
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::split`]: read it
/// with [`recv`](Receiver::recv), as the socket (it is a `Stream` of the same
/// items too).
pub struct Receiver<IO> {
    shared: Arc<Shared<IO>>,
}

impl<IO> Sender<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Whether `receiver` is the other half of the same socket.
    pub fn is_pair_of(&self, receiver: &Receiver<IO>) -> bool {
        Arc::ptr_eq(&self.shared, &receiver.shared)
    }

    /// Puts the halves back together; fails if they come from different sockets.
    pub fn reunite(self, receiver: Receiver<IO>) -> Result<WebSocket<IO>, ReuniteError<IO>> {
        if Arc::ptr_eq(&self.shared, &receiver.shared) {
            drop(receiver);
            self.shared.set_split(false);
            Ok(WebSocket::from_shared(self.shared))
        } else {
            Err(ReuniteError {
                sender: self,
                receiver,
            })
        }
    }
}

sending_methods!(Sender);
common_methods!(Sender);
receiving_methods!(Receiver);
stream_recv_methods!(Receiver);
common_methods!(Receiver);

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
