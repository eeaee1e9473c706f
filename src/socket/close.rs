//! [`CloseHandle`]: closing a socket from a task that does not own it.

use super::shared::Shared;
use crate::error::Error;
use crate::protocol::{CloseCode, CloseFrame};
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite};

/// A handle that closes a [`WebSocket`](super::WebSocket) from another task,
/// from [`WebSocket::close_handle`](super::WebSocket::close_handle) (or either
/// half of a split socket). It is cheap to clone, `Send + Sync`, and does not
/// name the transport's type, so handles of different sockets fit one
/// collection.
///
/// [`close`](CloseHandle::close) starts the closing handshake exactly as
/// [`WebSocket::close`](super::WebSocket::close) does, without waiting, and wakes
/// every task waiting on the socket: a reader blocked in
/// [`recv`](super::WebSocket::recv) writes the close frame, reads the
/// peer's answer, and its stream ends after the handshake with the peer's close
/// frame, as after a `close` of its own. [`Config::close_timeout`] bounds the
/// wait for the answer.
///
/// The socket has no background task, so a socket that nobody polls would not
/// write the close frame. [`closed`](CloseHandle::closed) drives the socket
/// itself until the closing handshake is over, whoever else polls it or not.
///
/// The handle holds the socket weakly: it does not keep a dropped socket open.
/// Once the socket is dropped, there is nothing left to close.
///
/// ```no_run
/// use std::time::Duration;
/// # async fn f(mut ws: websocket_protocol::WebSocket<tokio::net::TcpStream>) -> Result<(), websocket_protocol::Error> {
/// let handle = ws.close_handle();
/// tokio::spawn(async move {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     // Starts the closing handshake, then waits for it to finish.
///     handle.close(1000, "time is up")?;
///     handle.closed().await
/// });
/// while let Some(message) = ws.recv().await {
///     println!("{:?}", message?);
/// }
/// // After the handshake: the peer's answer.
/// println!("closed with {:?}", ws.close_frame());
/// # Ok(()) }
/// ```
///
/// [`Config::close_timeout`]: super::Config::close_timeout
#[derive(Clone)]
pub struct CloseHandle {
    socket: Weak<dyn Target>,
}

/// What the handle needs of a socket, without its transport's type.
trait Target: Send + Sync {
    fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error>;
    fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<Result<CloseFrame, Error>>;
    fn is_closed(&self) -> bool;
}

impl<IO> Target for Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send,
{
    fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let result = self.start_close(code, reason);
        // Nothing is written here: whoever waits on the socket (a reader, a send
        // waiting for room, a ping, `closed`) writes the frame on its next poll,
        // and each may be waiting on either direction.
        self.wake_all();
        result
    }

    fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<Result<CloseFrame, Error>> {
        Shared::poll_closed(self, cx)
    }

    fn is_closed(&self) -> bool {
        Shared::is_closed(self)
    }
}

impl CloseHandle {
    pub(crate) fn new<IO>(shared: &Arc<Shared<IO>>) -> Self
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let socket: Weak<dyn Target> = Arc::downgrade(shared) as Weak<Shared<IO>>;
        CloseHandle { socket }
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes)
    /// and wakes every task waiting on the socket, which then writes the close
    /// frame. It does not wait: [`closed`](CloseHandle::closed) does.
    ///
    /// Closing a socket that is already closing, closed or dropped does nothing
    /// and is not an error; the first close wins, whoever started it. It fails
    /// only for a code that may not be sent (1005, 1006, 1015, ...) or a reason
    /// over 123 bytes. On hixie-76 the close frame (`FF 00`) ends the connection
    /// at once; hixie-75, which has no close frame, closes the transport.
    pub fn close(&self, code: impl Into<CloseCode>, reason: &str) -> Result<(), Error> {
        match self.socket.upgrade() {
            Some(socket) => socket.close(code.into(), reason),
            None => Ok(()),
        }
    }

    /// Waits until the connection is over, driving the socket's I/O meanwhile:
    /// after [`close`](CloseHandle::close), until the peer answered the close
    /// frame (or [`Config::close_timeout`](super::Config::close_timeout) passed)
    /// and the transport was shut down. It returns the close frame the connection
    /// ended with, as [`WebSocket::close`](super::WebSocket::close) does: the
    /// peer's answer when the handshake completed.
    ///
    /// While it waits, it does what any other handle on the socket does when
    /// polled: it writes what is queued and reads, keeping the messages that
    /// arrive for [`recv`](super::WebSocket::recv) (up to
    /// [`Config::message_buffer_size`](super::Config::message_buffer_size); while
    /// our close frame waits for its answer, the oldest beyond it are dropped).
    /// Without a `close` first, it waits for the connection to end some other
    /// way.
    ///
    /// It fails with [`Timeout`](crate::ErrorKind::Timeout) when the peer does
    /// not answer in time, with the cause when the connection failed, and with
    /// [`Closed`](crate::ErrorKind::Closed) when the socket was dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel-safe: dropping the future stops only the waiting (and this
    /// handle's driving); the closing handshake goes on whenever the socket is
    /// polled.
    pub async fn closed(&self) -> Result<CloseFrame, Error> {
        poll_fn(|cx| match self.socket.upgrade() {
            Some(socket) => socket.poll_closed(cx),
            None => Poll::Ready(Err(Error::closed())),
        })
        .await
    }

    /// Whether the connection is over: the closing handshake finished, the
    /// connection failed, or the socket was dropped.
    pub fn is_closed(&self) -> bool {
        self.socket
            .upgrade()
            .is_none_or(|socket| socket.is_closed())
    }
}

/// A strong reference on a socket, from [`CloseHandle::keep_alive`]: while it
/// lives, dropping the socket does not end the connection. The server's shutdown
/// holds one so that a handler returning mid-handshake (its `send` failed: the
/// socket is closing) does not cut the closing handshake short.
pub(crate) struct KeepAlive {
    socket: Arc<dyn Target>,
}

impl CloseHandle {
    /// Keeps the socket alive until the result is dropped; `None` if it is gone.
    pub(crate) fn keep_alive(&self) -> Option<KeepAlive> {
        self.socket.upgrade().map(|socket| KeepAlive { socket })
    }
}

impl KeepAlive {
    /// As [`CloseHandle::close`].
    pub(crate) fn close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.socket.close(code, reason)
    }

    /// As [`CloseHandle::closed`].
    pub(crate) async fn closed(&self) -> Result<CloseFrame, Error> {
        poll_fn(|cx| self.socket.poll_closed(cx)).await
    }
}

impl fmt::Debug for CloseHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CloseHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}
