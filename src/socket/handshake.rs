//! Opening handshakes on raw streams, for users without an HTTP stack.

use super::{Config, WebSocket};
use crate::error::Error;
use crate::protocol::{self, Driver};
use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Request, Response};
use std::future::Future;
use std::io;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A decision on one upgrade request, taken after the request was read and
/// before it is answered: which subprotocols and [`Config`] to accept it with,
/// and headers to add to the answer (a cookie, a server name). The hook of
/// [`WebSocket::accept_with`] and of
/// [`WsLayer::on_request`](crate::server::WsLayer::on_request) returns it; it
/// refuses instead by returning a [`Refuse`], the response to send.
///
/// `Accept::default()` accepts the request as configured.
///
/// ```
/// use websocket_protocol::socket::Accept;
/// let accept = Accept::default()
///     .protocols(["chat.v2"])
///     .header(http::header::SET_COOKIE, http::HeaderValue::from_static("seen=1"));
/// # let _ = accept;
/// ```
#[derive(Debug, Clone, Default)]
pub struct Accept {
    pub(crate) config: Option<Config>,
    pub(crate) protocols: Option<Vec<String>>,
    pub(crate) headers: HeaderMap,
}

impl Accept {
    /// The subprotocols to accept this request with, in the server's terms: the
    /// first one in the client's list that appears here is chosen, as
    /// configured lists are. Overrides the configured list.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = Some(protocols.into_iter().map(Into::into).collect());
        self
    }

    /// The config for this connection (limits, timers, deflate), replacing the
    /// configured one. [`protocols`](Accept::protocols) still overrides its list.
    pub fn config(mut self, config: Config) -> Self {
        self.config = Some(config);
        self
    }

    /// Adds a header to the handshake response. Headers the handshake itself
    /// sets (`Upgrade`, `Connection`, `Sec-WebSocket-*`, the drafts' own) are
    /// the core's: a header of the same name given here is left out.
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Whether [`apply_to`](Accept::apply_to) changes the options.
    pub(crate) fn changes_options(&self) -> bool {
        self.config.is_some() || self.protocols.is_some()
    }

    /// The config to accept with, from the configured one.
    pub(crate) fn apply_to(&mut self, config: Config) -> Config {
        let config = self.config.take().unwrap_or(config);
        match self.protocols.take() {
            Some(protocols) => config.protocols(protocols),
            None => config,
        }
    }

    /// The added headers whose names the handshake response does not use.
    pub(crate) fn headers_beside(self, handshake: &HeaderMap) -> HeaderMap {
        let mut extra = HeaderMap::new();
        let mut name = None;
        for (n, value) in self.headers {
            name = n.or(name);
            match &name {
                Some(name) if !handshake.contains_key(name) => {
                    extra.append(name.clone(), value);
                }
                _ => {}
            }
        }
        extra
    }
}

/// The response that refuses an upgrade request, from a per-request hook
/// ([`WebSocket::accept_with`],
/// [`WsLayer::on_request`](crate::server::WsLayer::on_request)): any status,
/// headers and body. It converts from an `http::Response` whose body converts
/// into [`Bytes`] (a `String`, a `&'static str`, a `Vec<u8>`), and from a status
/// with a body, so a hook writes `Err((StatusCode::UNAUTHORIZED, "log in first\n").into())`.
///
/// ```
/// use http::StatusCode;
/// use websocket_protocol::socket::Refuse;
/// let refusal = Refuse::from((StatusCode::FORBIDDEN, "not for you\n"));
/// assert_eq!(refusal.response().status(), 403);
/// let mut moved = http::Response::new(String::new());
/// *moved.status_mut() = StatusCode::MISDIRECTED_REQUEST;
/// assert_eq!(Refuse::from(moved).response().status(), 421);
/// ```
#[derive(Debug)]
pub struct Refuse(Box<Response<Bytes>>);

impl Refuse {
    /// The response to send.
    pub fn response(&self) -> &Response<Bytes> {
        &self.0
    }

    /// The response to send, to change or take.
    pub fn into_response(self) -> Response<Bytes> {
        *self.0
    }
}

impl<B: Into<Bytes>> From<Response<B>> for Refuse {
    fn from(response: Response<B>) -> Self {
        Refuse(Box::new(response.map(Into::into)))
    }
}

impl<B: Into<Bytes>> From<(http::StatusCode, B)> for Refuse {
    fn from((status, body): (http::StatusCode, B)) -> Self {
        let mut response = Response::new(body.into());
        *response.status_mut() = status;
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        Refuse(Box::new(response))
    }
}

/// Why [`WebSocket::accept_with`]'s hook refused: the status it answered with.
fn refused(status: http::StatusCode) -> Error {
    Error::from(protocol::Error::new(protocol::ErrorKind::UnexpectedStatus(
        status,
    )))
}

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
    pub fn accept(io: IO, config: Config) -> impl Future<Output = Result<Self, Error>> {
        Self::accept_with(io, config, |_| Ok(Accept::default()))
    }

    /// Like [`accept`](WebSocket::accept), with a hook that sees the request
    /// (path, query, headers) once it is read and found a valid upgrade, before
    /// it is answered, as tungstenite's `accept_hdr_async`. The hook returns an
    /// [`Accept`] (subprotocols, config, extra response headers for this request)
    /// or the [`Refuse`] response that refuses it: that response is sent with its
    /// `Content-Length` and `Connection: close`, the stream is shut down, and the
    /// error returned has the kind [`Handshake`](crate::ErrorKind::Handshake)
    /// and the response's [`status`](Error::status).
    ///
    /// A request the core refuses (malformed, an unknown version) never reaches
    /// the hook: it gets its error response as with `accept`. The hook runs
    /// within [`Config::handshake_timeout`].
    ///
    /// ```no_run
    /// use websocket_protocol::socket::Accept;
    /// use websocket_protocol::{Config, WebSocket};
    /// # async fn f(tcp: tokio::net::TcpStream) -> Result<(), Box<dyn std::error::Error>> {
    /// let ws = WebSocket::accept_with(tcp, Config::default(), |req| {
    ///     if req.headers().get("authorization").is_none() {
    ///         return Err((http::StatusCode::UNAUTHORIZED, "log in first\n").into());
    ///     }
    ///     match req.uri().path() {
    ///         "/v2" => Ok(Accept::default().protocols(["chat.v2"])),
    ///         _ => Ok(Accept::default().protocols(["chat"])),
    ///     }
    /// })
    /// .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Not cancel-safe: the stream is consumed, and dropped if cancelled.
    pub fn accept_with<F>(
        io: IO,
        config: Config,
        hook: F,
    ) -> impl Future<Output = Result<Self, Error>>
    where
        F: FnOnce(&Request<()>) -> Result<Accept, Refuse>,
    {
        // Boxed. A task is allocated at the size of its future's largest
        // state and keeps that size for life: inline, the handshake's state
        // (the config, the driver being built, the timeout's timer: KiBs on
        // a `TcpStream`) would size every task that awaits it, long after the
        // handshake. Boxed, it is freed when the handshake ends and the task
        // holds a pointer.
        Box::pin(async move {
            let timeout = config.get_handshake_timeout();
            match tokio::time::timeout(timeout, Self::accept_inner(io, config, hook)).await {
                Ok(result) => result,
                Err(_) => Err(Error::handshake_timeout()),
            }
        })
    }

    async fn accept_inner<F>(mut io: IO, config: Config, hook: F) -> Result<Self, Error>
    where
        F: FnOnce(&Request<()>) -> Result<Accept, Refuse>,
    {
        let mut head = Vec::new();
        let (request, size) = loop {
            // Straight into the head's spare room: no chunk to zero and copy.
            head.reserve(HEAD_READ);
            let n = io.read_buf(&mut head).await?;
            if n == 0 {
                return Err(Error::from(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection closed before the handshake request was complete",
                )));
            }
            match protocol::parse_request(&head, config.get_options()) {
                Ok(None) => continue,
                Ok(Some(parsed)) => break parsed,
                Err(e) => return Err(refuse(io, e).await),
            }
        };
        // The core's rules first, so the hook only sees valid upgrades.
        let accepted = match protocol::check_request(&request, config.get_options()) {
            Ok(accepted) => accepted,
            Err(e) => return Err(refuse(io, e).await),
        };
        let mut accept = match hook(&request) {
            Ok(accept) => accept,
            Err(refusal) => {
                let mut response = refusal.into_response();
                response
                    .headers_mut()
                    .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
                let status = response.status();
                send_refusal(&mut io, &protocol::response_bytes(&response, None)).await;
                return Err(refused(status));
            }
        };
        let (config, mut driver) = match accept.changes_options() {
            // The answer checked above holds.
            false => {
                let options = config.get_options().clone();
                (config, Driver::parsed(accepted, options, &head[size..]))
            }
            // The head is read again by the hook's options, size limit and all.
            true => {
                let config = accept.apply_to(config);
                match Driver::server_from_bytes(&head, config.get_options().clone()) {
                    Ok(Some(driver)) => (config, driver),
                    Ok(None) => unreachable!("the head was complete"),
                    Err(e) => return Err(refuse(io, e).await),
                }
            }
        };
        let extra = match driver.handshake_response() {
            Some(response) => accept.headers_beside(response.headers()),
            None => HeaderMap::new(),
        };
        if extra.is_empty() {
            driver.start(tokio::time::Instant::now().into_std());
        } else {
            // The core's head with the hook's headers after it, through the
            // core's one head writer.
            let mut response = driver
                .handshake_response()
                .cloned()
                .unwrap_or_else(|| Response::new(()));
            response.headers_mut().extend(extra);
            let head = protocol::response_bytes(
                &response.map(|()| Bytes::new()),
                Some(driver.reason_phrase()),
            );
            io.write_all(&head).await?;
            driver.start_without_head(tokio::time::Instant::now().into_std());
        }
        let mut ws = WebSocket::from_driver(io, driver, config);
        ws.flush().await?;
        Ok(ws)
    }

    /// Opens a client connection (RFC 6455) on a raw stream to `url`
    /// (`ws://host[:port]/path`; for `wss://` pass a stream that already speaks
    /// TLS). Returns at once: the request is written when the socket is first
    /// polled, and messages sent before the server answers are queued and go out
    /// once it accepts. A refused handshake surfaces as the first item of
    /// [`recv`](WebSocket::recv), or from [`ready`](WebSocket::ready).
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
    pub fn connect(io: IO, url: &str, config: Config) -> impl Future<Output = Result<Self, Error>> {
        // The socket is built at once (so `url` is not kept); the wait for
        // the answer and its timer are boxed, as in `accept_with`.
        let timeout = config.get_handshake_timeout();
        let ws = WebSocket::client(io, url, config);
        Box::pin(async move {
            let mut ws = ws?;
            match tokio::time::timeout(timeout, ws.ready()).await {
                Ok(Ok(())) => Ok(ws),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(Error::handshake_timeout()),
            }
        })
    }
}

/// Answers a request the core refused with its error response, and gives the
/// error back.
async fn refuse<IO: AsyncWrite + Unpin>(mut io: IO, e: protocol::Error) -> Error {
    if let Some(response) = e.response_bytes() {
        send_refusal(&mut io, &response).await;
    }
    e.into()
}

/// Writes a refusal and shuts the stream down. The refusal is what the caller
/// needs to know; a peer that is gone by now does not change it.
async fn send_refusal<IO: AsyncWrite + Unpin>(io: &mut IO, response: &[u8]) {
    let _ = io.write_all(response).await;
    let _ = io.shutdown().await;
}
