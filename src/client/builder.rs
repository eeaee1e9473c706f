//! The client's settings and the opening sequence: TCP, proxy tunnel, TLS,
//! then the upgrade exchange.

use super::error::{Error, ErrorKind};
use super::exchange::{self, Connected, Handshake};
use super::proxy::Proxy;
use super::target::{tcp_connect, Target};
use crate::protocol::Driver;
use crate::socket::Config;
use http::header::{HeaderName, HeaderValue};
use http::HeaderMap;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// How much of a refusal's body is kept unless told otherwise.
pub const DEFAULT_MAX_ERROR_BODY: usize = 4 << 10;

/// Headers the handshake writes itself, a second copy of which would break it,
/// and where their values come from instead.
const RESERVED: [(&str, &str); 7] = [
    ("host", "the URL"),
    ("upgrade", "the handshake"),
    ("connection", "the handshake"),
    ("sec-websocket-key", "the handshake"),
    ("sec-websocket-version", "the handshake"),
    ("sec-websocket-protocol", "Builder::protocols"),
    ("sec-websocket-extensions", "Options::deflate"),
];

/// Settings for one client connection; [`connect`](Builder::connect) opens it.
///
/// ```no_run
/// use std::time::Duration;
/// use websocket_protocol::client::Builder;
///
/// # async fn run() -> Result<(), websocket_protocol::client::Error> {
/// let (ws, response) = Builder::new("wss://example.com/chat")
///     .protocols(["chat.v2", "chat.v1"])
///     .header("Authorization", "Bearer secret")
///     .connect_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// let chosen = response.headers().get("sec-websocket-protocol");
/// # Ok(()) }
/// ```
///
/// | setting | default |
/// |---|---|
/// | [`protocols`](Builder::protocols) | those of the [`Config`]'s options (none) |
/// | [`header`](Builder::header) | none |
/// | [`config`](Builder::config) | [`Config::default`] |
/// | [`connect_timeout`](Builder::connect_timeout) | the config's [`handshake_timeout`](Config::handshake_timeout) (10 s) |
/// | [`proxy`](Builder::proxy) | none (environment variables are not read) |
/// | [`max_error_body`](Builder::max_error_body) | 4 KiB |
/// | `tls_config` (feature `rustls`) | webpki roots, ALPN `http/1.1` |
#[derive(Clone)]
pub struct Builder {
    url: String,
    protocols: Option<Vec<String>>,
    headers: HeaderMap,
    /// The first invalid header given, reported when connecting.
    header_error: Option<String>,
    config: Config,
    connect_timeout: Option<Duration>,
    proxy: Option<String>,
    max_error_body: usize,
    #[cfg(feature = "rustls")]
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Builder {
    /// Settings for connecting to `url` (`ws://` or `wss://`), all defaults.
    pub fn new(url: impl Into<String>) -> Builder {
        Builder {
            url: url.into(),
            protocols: None,
            headers: HeaderMap::new(),
            header_error: None,
            config: Config::default(),
            connect_timeout: None,
            proxy: None,
            max_error_body: DEFAULT_MAX_ERROR_BODY,
            #[cfg(feature = "rustls")]
            tls: None,
        }
    }

    /// The subprotocols to offer, most preferred first. Replaces those of the
    /// [`config`](Builder::config)'s options. Each must be an HTTP token.
    pub fn protocols<I, S>(mut self, protocols: I) -> Builder
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.protocols = Some(protocols.into_iter().map(Into::into).collect());
        self
    }

    /// Adds a header to the request (authorization, cookies, origin). Repeat a
    /// name to send it twice. An invalid name or value, or one of the headers
    /// the handshake sets itself, fails [`connect`](Builder::connect) with
    /// [`ErrorKind::InvalidHeader`].
    pub fn header<K, V>(mut self, name: K, value: V) -> Builder
    where
        K: TryInto<HeaderName>,
        V: TryInto<HeaderValue>,
    {
        match (name.try_into(), value.try_into()) {
            (Ok(name), Ok(mut value)) => {
                mark_sensitive(&name, &mut value);
                self.headers.append(name, value);
            }
            (Err(_), _) => {
                self.header_error
                    .get_or_insert_with(|| "invalid header name".to_owned());
            }
            (_, Err(_)) => {
                self.header_error
                    .get_or_insert_with(|| "invalid header value".to_owned());
            }
        }
        self
    }

    /// Adds every header of `headers`, as [`header`](Builder::header).
    pub fn headers(mut self, headers: HeaderMap) -> Builder {
        for (name, value) in &headers {
            let mut value = value.clone();
            mark_sensitive(name, &mut value);
            self.headers.append(name, value);
        }
        self
    }

    /// The socket's settings, including the protocol core's limits and timers.
    pub fn config(mut self, config: Config) -> Builder {
        self.config = config;
        self
    }

    /// The most time opening may take: name resolution, TCP, the proxy tunnel,
    /// TLS and the upgrade exchange together. Past it, [`ErrorKind::Timeout`].
    /// Without it, the [`config`](Builder::config)'s
    /// [`handshake_timeout`](Config::handshake_timeout) bounds the same steps.
    pub fn connect_timeout(mut self, timeout: Duration) -> Builder {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Goes through an HTTP proxy, `http://host:port` (port 80 if left out),
    /// with `CONNECT`. Credentials in the URL (`http://user:pass@host:port`) are
    /// sent as `Proxy-Authorization: Basic`. For `wss://`, TLS runs end to end
    /// inside the tunnel.
    pub fn proxy(mut self, url: impl Into<String>) -> Builder {
        self.proxy = Some(url.into());
        self
    }

    /// How many bytes of a refusal's body (server or proxy) to read and keep
    /// in the [`Error`]. The rest is never read.
    pub fn max_error_body(mut self, bytes: usize) -> Builder {
        self.max_error_body = bytes;
        self
    }

    /// The rustls configuration for `wss://`, for custom roots, client
    /// certificates or another crypto provider. Its ALPN list is used as
    /// given; leave it empty or offer only `http/1.1`, since the upgrade is
    /// HTTP/1.1.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// # fn run(my_root: rustls::pki_types::CertificateDer<'static>) {
    /// let mut roots = rustls::RootCertStore::empty();
    /// roots.add(my_root).unwrap();
    /// let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
    ///         rustls::crypto::ring::default_provider()))
    ///     .with_safe_default_protocol_versions().unwrap()
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let builder = websocket_protocol::client::Builder::new("wss://internal.example/ws")
    ///     .tls_config(Arc::new(tls));
    /// # }
    /// ```
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Builder {
        self.tls = Some(config);
        self
    }

    /// Connects and performs the opening handshake; returns the socket and the
    /// server's `101` response.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future closes the connection being
    /// opened. Nothing outside it is affected.
    pub async fn connect(self) -> Result<Connected, Error> {
        let driver = self.driver()?;
        let target = Target::from_url(&self.url)?;
        let proxy = self.proxy.as_deref().map(Proxy::parse).transpose()?;
        if target.secure() && !cfg!(feature = "rustls") {
            return Err(Error::new(
                ErrorKind::TlsNotEnabled,
                format!(
                    "{} needs TLS: enable the `rustls` feature of websocket-protocol",
                    self.url
                ),
            ));
        }
        let deadline = self.deadline();
        let open = async {
            match &proxy {
                Some(proxy) => {
                    let tunnel = proxy.tunnel(&target, self.max_error_body, Some(deadline));
                    self.secure_and_handshake(tunnel.await?, &target, driver, deadline)
                        .await
                }
                None => {
                    let tcp = tcp_connect(&target).await.map_err(|e| {
                        Error::io(format!("connecting to {}", target.authority()), e)
                    })?;
                    self.secure_and_handshake(tcp, &target, driver, deadline)
                        .await
                }
            }
        };
        self.within(deadline, open).await
    }

    /// Performs the opening handshake over `io`, a stream you opened that
    /// reaches the server: a Unix socket, a TLS stream of your own, a tunnel.
    /// The URL gives the request's path and `Host`; the proxy and TLS settings
    /// are not used (a `wss://` URL is taken to mean `io` is already secure).
    /// The connect timeout bounds the exchange.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let stream = tokio::net::UnixStream::connect("/run/app.sock").await?;
    /// let (ws, _) = websocket_protocol::client::Builder::new("ws://localhost/events")
    ///     .connect_on(stream)
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: dropping the future drops `io`.
    pub async fn connect_on<S>(self, io: S) -> Result<Connected, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let driver = self.driver()?;
        let deadline = self.deadline();
        let exchange = exchange::handshake(
            io,
            driver,
            self.config.clone(),
            self.max_error_body,
            Some(deadline),
        );
        self.within(deadline, exchange).await
    }

    /// The upgrade request, for sending through an HTTP connection you drive
    /// yourself, and the [`Handshake`] that checks its response. The request's
    /// URI is the path (origin form) and it carries `Host`, as an HTTP/1.1
    /// connection sends it; give a pooling client the absolute URL instead.
    pub fn into_handshake(self) -> Result<(http::Request<()>, Handshake), Error> {
        let driver = self.driver()?;
        let request = driver
            .client_request()
            .expect("a new client driver has its request")
            .clone();
        let handshake = Handshake {
            driver,
            config: self.config,
            max_error_body: self.max_error_body,
        };
        Ok((request, handshake))
    }

    /// The core's client driver for these settings.
    fn driver(&self) -> Result<Driver, Error> {
        if let Some(why) = &self.header_error {
            return Err(Error::new(ErrorKind::InvalidHeader, why.clone()));
        }
        let mut options = self.config.get_options().clone();
        if let Some(protocols) = &self.protocols {
            if let Some(bad) = protocols.iter().find(|p| !is_token(p)) {
                return Err(Error::new(
                    ErrorKind::InvalidHeader,
                    format!("{bad:?} is not a valid subprotocol name (an HTTP token)"),
                ));
            }
            options = options.protocols(protocols.clone());
        }
        let mut headers = options.headers.clone();
        for (name, value) in &self.headers {
            headers.append(name, value.clone());
        }
        if let Some((name, from)) = RESERVED.iter().find(|(n, _)| headers.contains_key(*n)) {
            return Err(Error::new(
                ErrorKind::InvalidHeader,
                format!("the {name} header cannot be set by hand: it comes from {from}"),
            ));
        }
        Driver::client(&self.url, options.headers(headers)).map_err(Error::handshake)
    }

    async fn secure_and_handshake<S>(
        &self,
        io: S,
        target: &Target,
        driver: Driver,
        deadline: Instant,
    ) -> Result<Connected, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (config, max) = (self.config.clone(), self.max_error_body);
        if target.secure() {
            #[cfg(feature = "rustls")]
            {
                let tls = super::tls::connect(io, target.bare_host(), self.tls.clone()).await?;
                return exchange::handshake(tls, driver, config, max, Some(deadline)).await;
            }
            #[cfg(not(feature = "rustls"))]
            unreachable!("connect() refuses wss:// without the rustls feature");
        }
        exchange::handshake(io, driver, config, max, Some(deadline)).await
    }

    fn timeout(&self) -> Duration {
        self.connect_timeout
            .unwrap_or_else(|| self.config.get_handshake_timeout())
    }

    fn deadline(&self) -> Instant {
        Instant::now() + self.timeout()
    }

    async fn within<T>(
        &self,
        deadline: Instant,
        fut: impl std::future::Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        match tokio::time::timeout_at(deadline, fut).await {
            Ok(result) => result,
            Err(_) => Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "opening {} took longer than the connect timeout ({:?})",
                    self.url,
                    self.timeout()
                ),
            )),
        }
    }
}

impl std::fmt::Debug for Builder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Builder");
        d.field("url", &self.url)
            .field("protocols", &self.protocols)
            .field("headers", &self.headers)
            .field("config", &self.config)
            .field("connect_timeout", &self.connect_timeout)
            // Proxy credentials stay out of logs.
            .field("proxy", &self.proxy.as_deref().map(redact_userinfo))
            .field("max_error_body", &self.max_error_body);
        #[cfg(feature = "rustls")]
        d.field("tls", &self.tls.as_ref().map(|_| "custom"));
        d.finish()
    }
}

/// `http://user:pass@host` -> `http://..@host`.
fn redact_userinfo(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => format!("{}..{}", &url[..start + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

/// Credentials print as `Sensitive` in `Debug` output.
fn mark_sensitive(name: &HeaderName, value: &mut HeaderValue) {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};
    if [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE].contains(name) {
        value.set_sensitive(true);
    }
}

/// RFC 9110 token: what a subprotocol name may be.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_keeps_credentials_out() {
        let builder = Builder::new("ws://example.com/")
            .header("Authorization", "Bearer secret-token")
            .header("X-Visible", "shown")
            .proxy("http://user:hunter2@proxy:3128");
        let debug = format!("{builder:?}");
        assert!(!debug.contains("secret-token"), "{debug}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("shown") && debug.contains("http://..@proxy:3128"),
            "{debug}"
        );
    }
}
