//! Opening handshakes on raw streams, for users without an HTTP stack.

use super::{Config, WebSocket};
use crate::error::Error;
use crate::protocol::Driver;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Size of each read of the request head.
const HEAD_READ: usize = 2048;

impl<IO> WebSocket<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Accepts a server connection on a raw stream: reads the upgrade request,
    /// answers it and returns the open socket (for hixie-76, once the 8 key bytes
    /// have arrived the answer goes out when the socket is first polled, as the
    /// draft allows proxies to deliver them late).
    ///
    /// RFC 6455 and hybi-07/08 requests are accepted; hixie-75 and hixie-76 ones
    /// too with [`Config::allow_drafts`]. A request that is refused (malformed, an
    /// unknown version, drafts not allowed, a head over the max handshake size)
    /// gets its HTTP error response (400, 405, 426 with `Sec-WebSocket-Version:
    /// 13`, 431) and the stream is shut down before the error of kind
    /// [`Handshake`](crate::ErrorKind::Handshake) is returned. The whole exchange
    /// is bounded by [`Config::handshake_timeout`].
    ///
    /// ```no_run
    /// use websocket_protocol::{Config, WebSocket};
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (tcp, _) = listener.accept().await?;
    /// let ws = WebSocket::accept(tcp, Config::default().protocols(["chat"])).await?;
    /// println!("{} with subprotocol {:?}", ws.version(), ws.protocol());
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the stream is consumed, and dropped if cancelled.
    pub async fn accept(io: IO, config: Config) -> Result<Self, Error> {
        let timeout = config.get_handshake_timeout();
        match tokio::time::timeout(timeout, Self::accept_inner(io, config)).await {
            Ok(result) => result,
            Err(_) => Err(handshake_timeout()),
        }
    }

    async fn accept_inner(mut io: IO, config: Config) -> Result<Self, Error> {
        let mut head = Vec::new();
        let mut chunk = [0u8; HEAD_READ];
        loop {
            let n = io.read(&mut chunk).await?;
            if n == 0 {
                return Err(Error::from(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed before the handshake request was complete",
                )));
            }
            head.extend_from_slice(&chunk[..n]);
            match Driver::server_from_bytes(&head, config.get_options().clone()) {
                Ok(None) => continue,
                Ok(Some(mut driver)) => {
                    driver.start(tokio::time::Instant::now().into_std());
                    let mut ws = WebSocket::from_driver(io, driver, config);
                    ws.flush().await?;
                    return Ok(ws);
                }
                Err(e) => {
                    if let Some(response) = e.response_bytes() {
                        // The error is what the caller needs; a peer that is
                        // gone by now does not change it.
                        let _ = io.write_all(&response).await;
                        let _ = io.shutdown().await;
                    }
                    return Err(e.into());
                }
            }
        }
    }

    /// Opens a client connection (RFC 6455) on a raw stream to `url`
    /// (`ws://host[:port]/path`; for `wss://` pass a stream that already speaks
    /// TLS). Returns at once: the request is written when the socket is first
    /// polled, and messages sent before the server answers are queued and go out
    /// once it accepts. A refused handshake surfaces as the first item of
    /// [`messages`](WebSocket::messages), or from [`ready`](WebSocket::ready).
    ///
    /// Fails only on a URL that is not a usable `ws://` or `wss://` URL.
    pub fn client(io: IO, url: &str, config: Config) -> Result<Self, Error> {
        let mut driver = Driver::client(url, config.get_options().clone())?;
        driver.start(tokio::time::Instant::now().into_std());
        Ok(WebSocket::from_driver(io, driver, config))
    }

    /// Like [`client`](WebSocket::client), but waits until the server has
    /// accepted (or refused, giving the status through
    /// [`Error::status`]), within [`Config::handshake_timeout`].
    ///
    /// ```no_run
    /// use websocket_protocol::{Config, WebSocket};
    /// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
    /// let tcp = tokio::net::TcpStream::connect("127.0.0.1:9002").await?;
    /// let mut ws = WebSocket::connect(tcp, "ws://127.0.0.1:9002/", Config::default()).await?;
    /// ws.text("hello").await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the stream is consumed, and dropped if cancelled.
    pub async fn connect(io: IO, url: &str, config: Config) -> Result<Self, Error> {
        let timeout = config.get_handshake_timeout();
        let mut ws = WebSocket::client(io, url, config)?;
        match tokio::time::timeout(timeout, ws.ready()).await {
            Ok(Ok(())) => Ok(ws),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(handshake_timeout()),
        }
    }
}

fn handshake_timeout() -> Error {
    Error::from(io::Error::new(
        io::ErrorKind::TimedOut,
        "the opening handshake did not finish within the handshake timeout",
    ))
}
