//! The HTTP/1.1 exchange through hyper: the core builds the upgrade request,
//! hyper sends it, the core checks the response, hyper hands over the stream.

use super::error::{Error, ErrorKind};
use crate::protocol::Driver;
use crate::socket::{Config, WebSocket};
use bytes::{Buf, Bytes, BytesMut};
use http_body_util::{BodyExt, Empty};
use hyper::body::Body;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::task::Poll;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// The stream under a client [`WebSocket`]: whatever carried the handshake
/// (TCP, TLS, a proxy tunnel, your own stream), as hyper hands it back after the
/// upgrade, bytes that arrived with the response included.
pub type ClientStream = TokioIo<hyper::upgrade::Upgraded>;

/// What [`connect`](super::connect) and friends return: the socket and the
/// server's handshake response (status 101 and its headers).
pub type Connected = (WebSocket<ClientStream>, http::Response<()>);

type ConnFuture = Pin<Box<dyn Future<Output = Result<(), hyper::Error>> + Send>>;

/// A hyper connection polled alongside whatever waits on it, so the exchange
/// needs no spawned task and dropping it drops the connection.
pub(crate) struct Background {
    conn: Option<ConnFuture>,
    result: Option<Result<(), hyper::Error>>,
}

impl Background {
    pub(crate) fn new<T, B>(conn: http1::Connection<T, B>) -> Self
    where
        T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        Background {
            conn: Some(Box::pin(conn.with_upgrades())),
            result: None,
        }
    }

    /// For a connection the caller drives: nothing to poll.
    fn none() -> Self {
        Background {
            conn: None,
            result: None,
        }
    }

    /// Awaits `fut` while keeping the connection going.
    pub(crate) async fn drive<T>(&mut self, fut: impl Future<Output = T>) -> T {
        let mut fut = pin!(fut);
        poll_fn(|cx| {
            if let Some(conn) = self.conn.as_mut() {
                if let Poll::Ready(result) = conn.as_mut().poll(cx) {
                    self.conn = None;
                    self.result = Some(result);
                }
            }
            fut.as_mut().poll(cx)
        })
        .await
    }

    /// The connection's own error, which explains a failed request better than
    /// the "connection closed" the request sees.
    pub(crate) fn take_error(&mut self) -> Option<hyper::Error> {
        match self.result.take() {
            Some(Err(e)) => Some(e),
            _ => None,
        }
    }
}

/// Maps a hyper error to this layer's kinds; `context` says which step failed.
pub(crate) fn hyper_error(kind: Option<ErrorKind>, context: &str, e: hyper::Error) -> Error {
    let kind = kind.unwrap_or(if e.is_parse() || e.is_parse_status() {
        ErrorKind::MalformedResponse
    } else if e.is_timeout() {
        ErrorKind::Timeout
    } else {
        ErrorKind::Io
    });
    Error::new(kind, context).with_source(e)
}

/// The first `max` bytes of `body`, reading no further. Stops early at
/// `deadline` with what it has: the refusal matters more than its body.
pub(crate) async fn body_start<B>(
    background: &mut Background,
    mut body: B,
    max: usize,
    deadline: Option<Instant>,
) -> Bytes
where
    B: Body + Unpin,
{
    let mut out = BytesMut::new();
    let read = async {
        while out.len() < max {
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() && out.len() < max {
                            let chunk = data.chunk();
                            let take = chunk.len().min(max - out.len());
                            out.extend_from_slice(&chunk[..take]);
                            data.advance(chunk.len());
                        }
                    }
                }
                _ => break,
            }
        }
    };
    match deadline {
        // The caller's own timeout has this deadline too; this one is polled
        // first, so a slow body ends the refusal rather than turning it into
        // a timeout.
        Some(deadline) => {
            let _ = background
                .drive(tokio::time::timeout_at(deadline, read))
                .await;
        }
        None => background.drive(read).await,
    }
    out.freeze()
}

/// The response head, without the body or hyper's extensions.
fn head_of<B>(response: &http::Response<B>) -> http::Response<()> {
    let mut head = http::Response::new(());
    *head.status_mut() = response.status();
    *head.version_mut() = response.version();
    *head.headers_mut() = response.headers().clone();
    head
}

/// The core's request, as hyper wants it.
pub(crate) fn request_of(driver: &Driver) -> http::Request<Empty<Bytes>> {
    let request = driver
        .client_request()
        .expect("a new client driver has its request");
    let mut out = http::Request::new(Empty::new());
    *out.method_mut() = request.method().clone();
    *out.uri_mut() = request.uri().clone();
    *out.headers_mut() = request.headers().clone();
    out
}

/// Checks `response` with the core and takes the upgraded stream.
async fn finish<B>(
    background: &mut Background,
    mut driver: Driver,
    config: Config,
    mut response: http::Response<B>,
    max_error_body: usize,
    deadline: Option<Instant>,
) -> Result<Connected, Error>
where
    B: Body + Unpin,
{
    let on_upgrade = hyper::upgrade::on(&mut response);
    let head = head_of(&response);
    if let Err(e) = driver.finish_handshake(&head, tokio::time::Instant::now().into_std()) {
        let mut error = Error::handshake(e);
        if error.kind() == ErrorKind::Refused {
            let body = body_start(background, response.into_body(), max_error_body, deadline).await;
            error = error.with_response(head.map(|()| body));
        }
        return Err(error);
    }
    let upgraded = background.drive(on_upgrade).await.map_err(|e| {
        let e = background.take_error().unwrap_or(e);
        hyper_error(None, "taking over the connection after 101", e)
    })?;
    let socket = WebSocket::from_driver(TokioIo::new(upgraded), driver, config);
    Ok((socket, head))
}

/// The whole exchange over a stream that reaches the server.
pub(crate) async fn handshake<S>(
    io: S,
    driver: Driver,
    config: Config,
    max_error_body: usize,
    deadline: Option<Instant>,
) -> Result<Connected, Error>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = request_of(&driver);
    let mut builder = http1::Builder::new();
    // Some servers still compare header names case-sensitively.
    builder
        .title_case_headers(true)
        .max_header_size(driver.options().max_handshake_size);
    let (mut sender, conn) = builder
        .handshake(TokioIo::new(io))
        .await
        .map_err(|e| hyper_error(None, "starting the HTTP/1.1 connection", e))?;
    let mut background = Background::new(conn);
    let response = background
        .drive(sender.send_request(request))
        .await
        .map_err(|e| {
            let e = background.take_error().unwrap_or(e);
            hyper_error(None, "sending the upgrade request", e)
        })?;
    finish(
        &mut background,
        driver,
        config,
        response,
        max_error_body,
        deadline,
    )
    .await
}

/// A client handshake whose HTTP exchange you do yourself, on a hyper
/// connection (or any HTTP stack whose responses support
/// [`hyper::upgrade::on`]). Made by [`Builder::into_handshake`](super::Builder::into_handshake),
/// together with the request to send.
///
/// The connection must be driven with upgrades on:
/// [`Connection::with_upgrades`](hyper::client::conn::http1::Connection::with_upgrades).
///
/// ```no_run
/// use bytes::Bytes;
/// use http_body_util::Empty;
/// use hyper_util::rt::TokioIo;
/// use websocket_protocol::client::Builder;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let stream = tokio::net::UnixStream::connect("/run/app.sock").await?;
/// let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
/// tokio::spawn(conn.with_upgrades());
///
/// let (request, handshake) = Builder::new("ws://localhost/events").into_handshake()?;
/// let response = sender.send_request(request.map(|()| Empty::<Bytes>::new())).await?;
/// let (ws, response) = handshake.finish(response).await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Handshake {
    pub(crate) driver: Driver,
    pub(crate) config: Config,
    pub(crate) max_error_body: usize,
}

impl Handshake {
    /// Checks the server's response to the request and, if it accepts the
    /// upgrade, waits for hyper to hand over the connection. A refusal reads at
    /// most [`max_error_body`](super::Builder::max_error_body) bytes of its body.
    ///
    /// The builder's connect timeout does not apply here; wrap the call in
    /// [`tokio::time::timeout`] if the connection may stall.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future drops the response and with it the
    /// upgraded connection.
    pub async fn finish<B>(self, response: http::Response<B>) -> Result<Connected, Error>
    where
        B: Body + Unpin,
    {
        finish(
            &mut Background::none(),
            self.driver,
            self.config,
            response,
            self.max_error_body,
            None,
        )
        .await
    }
}
