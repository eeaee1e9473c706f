//! The future [`WebSocket::ping`](super::WebSocket::ping) returns.

use super::shared::Shared;
use crate::error::Error;
use bytes::Bytes;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};

/// A ping in flight: resolves with the round-trip time when the matching pong
/// arrives, or with an error if the connection ends first.
///
/// It holds the socket weakly, so it does not keep a dropped socket open (it
/// then fails with [`Closed`](crate::ErrorKind::Closed)). Dropping it forgets the
/// ping; the pong, if it comes, is ignored.
///
/// # Cancel safety
///
/// The ping is sent whether or not the future is polled; dropping the future
/// only stops waiting for the pong.
#[must_use = "the ping is sent either way; await the future for the round-trip time"]
pub struct Ping<IO> {
    shared: Weak<Shared<IO>>,
    state: PingState,
}

enum PingState {
    Waiting(u64),
    Failed(Error),
    Done,
}

impl<IO> Ping<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(shared: &Arc<Shared<IO>>, payload: Bytes) -> Self {
        let state = match shared.start_ping(payload) {
            Ok(id) => PingState::Waiting(id),
            Err(e) => PingState::Failed(e),
        };
        Ping {
            shared: Arc::downgrade(shared),
            state,
        }
    }
}

impl<IO> Future for Ping<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    type Output = Result<Duration, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let id = match std::mem::replace(&mut this.state, PingState::Done) {
            PingState::Waiting(id) => id,
            PingState::Failed(e) => return Poll::Ready(Err(e)),
            PingState::Done => return Poll::Ready(Err(Error::closed())),
        };
        let Some(shared) = this.shared.upgrade() else {
            return Poll::Ready(Err(Error::closed()));
        };
        let poll = shared.poll_pong(cx, id);
        if poll.is_pending() {
            this.state = PingState::Waiting(id);
        }
        poll
    }
}

impl<IO> Drop for Ping<IO> {
    fn drop(&mut self) {
        if let (PingState::Waiting(id), Some(shared)) = (&self.state, self.shared.upgrade()) {
            shared.forget_ping(*id);
        }
    }
}

impl<IO> fmt::Debug for Ping<IO> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ping").finish_non_exhaustive()
    }
}
