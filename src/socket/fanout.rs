//! How the hub reaches a socket: prepared messages queued without waiting, and
//! the slow-subscriber close. The only socket code the hub uses.

use super::shared::{Refused, Shared};
use super::{Sender, WebSocket};
use crate::error::Error;
use crate::hub::{Deliver, Refusal, Subscriber, SubscriberHandle};
use crate::protocol::{CloseCode, PreparedMessage};
use std::future::poll_fn;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

impl<IO> Deliver for Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn try_deliver(&self, message: &PreparedMessage) -> Result<(), Refusal> {
        self.try_send_prepared(message).map_err(|r| match r {
            Refused::Full => Refusal::Full,
            Refused::Closed => Refusal::Closed,
        })
    }

    fn close_slow(&self, reason: &str) {
        if self
            .start_close(CloseCode::POLICY_VIOLATION, reason)
            .is_ok()
        {
            // Whoever drives the socket writes the close frame (behind what is
            // queued; the close timeout bounds the wait for a peer that reads
            // nothing).
            self.wake_all();
        }
    }
}

fn handle<IO>(shared: &Arc<Shared<IO>>) -> SubscriberHandle
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let weak = Arc::downgrade(shared);
    SubscriberHandle::new(weak)
}

macro_rules! prepared_methods {
    ($ty:ident) => {
        impl<IO> $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin,
        {
            /// Sends a [`PreparedMessage`]: as `send`, with the frame built once
            /// for every connection it goes to (on a client, each frame is masked
            /// on its own, so it saves nothing).
            ///
            /// # Cancel safety
            ///
            /// As `send`.
            pub async fn send_prepared(&mut self, message: &PreparedMessage) -> Result<(), Error> {
                loop {
                    poll_fn(|cx| self.shared.poll_ready(cx)).await?;
                    match self.shared.try_send_prepared(message) {
                        Ok(()) => break,
                        // Filled again between the two calls (another half).
                        Err(Refused::Full) => continue,
                        Err(Refused::Closed) => return Err(Error::closed()),
                    }
                }
                poll_fn(|cx| self.shared.poll_flush(cx)).await
            }
        }

        impl<IO> Subscriber for $ty<IO>
        where
            IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        {
            fn subscriber_handle(&self) -> SubscriberHandle {
                handle(&self.shared)
            }
        }

        impl<IO> crate::hub::sealed::Sealed for $ty<IO> {}
    };
}

prepared_methods!(WebSocket);
prepared_methods!(Sender);
