//! The client's settings and the opening sequence: TCP, proxy tunnel, TLS,
//! then the upgrade exchange.

use super::error::{Error, ErrorKind};
use super::exchange::{self, Connected, Handshake};
use super::proxy::{redact_userinfo, Proxy};
use super::proxy_env::ProxyEnv;
use super::target::{tcp_connect, Target};
use super::tls::{Peer, Tls};
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
/// | [`proxy`](Builder::proxy) | from the environment, as curl reads it ([`ProxyEnv`]) |
/// | [`max_error_body`](Builder::max_error_body) | 4 KiB |
/// | `tls_config` (feature `rustls`) | webpki roots (plus the platform's with `rustls-native-roots`), ALPN `http/1.1` |
#[derive(Clone)]
pub struct Builder {
    url: String,
    protocols: Option<Vec<String>>,
    headers: HeaderMap,
    /// The first invalid header given, reported when connecting.
    header_error: Option<String>,
    config: Config,
    connect_timeout: Option<Duration>,
    proxy: ProxyChoice,
    max_error_body: usize,
    tls: Tls,
}

/// Where the builder's proxy comes from.
#[derive(Clone)]
enum ProxyChoice {
    /// The process environment, read when connecting.
    Environment,
    /// Settings in the environment's form, given to the builder.
    Settings(ProxyEnv),
    /// This proxy URL, whatever the environment says.
    Url(String),
    /// Direct.
    Off,
}

/// What [`Builder::proxy`] takes: a proxy URL (`&str`, `String`, `&String`)
/// to go through, or an `Option<String>` of one, where `None` means to connect
/// directly.
///
/// Sealed: only those types implement it.
pub trait IntoProxy: sealed::Sealed {
    #[doc(hidden)]
    fn into_proxy_url(self) -> Option<String>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for Option<String> {}
}

impl IntoProxy for &str {
    fn into_proxy_url(self) -> Option<String> {
        Some(self.to_owned())
    }
}

impl IntoProxy for String {
    fn into_proxy_url(self) -> Option<String> {
        Some(self)
    }
}

impl IntoProxy for &String {
    fn into_proxy_url(self) -> Option<String> {
        Some(self.clone())
    }
}

/// One `Option` type only, so that a bare `None` needs no annotation.
impl IntoProxy for Option<String> {
    fn into_proxy_url(self) -> Option<String> {
        self
    }
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
            proxy: ProxyChoice::Environment,
            max_error_body: DEFAULT_MAX_ERROR_BODY,
            tls: Tls::default(),
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

    /// Goes through this HTTP proxy with `CONNECT`, whatever the environment
    /// says, or with `None` connects directly (as [`no_proxy`](Builder::no_proxy)).
    ///
    /// The URL is `http://host[:port]` (port 80 if left out), or
    /// `https://host[:port]` (443) for a proxy reached over TLS (feature
    /// `rustls`, with the [`tls_config`](Builder::tls_config)'s roots, else the
    /// default ones; `CONNECT` then runs inside that TLS). Without a scheme
    /// (`proxy.corp:3128`) it is `http://`. Credentials in the URL
    /// (`http://user:pass@host:port`, percent-encoded where they hold `@`, `:`
    /// or `%`) are sent decoded as `Proxy-Authorization: Basic`. For `wss://`,
    /// TLS to the server runs end to end inside the tunnel.
    ///
    /// # Which proxy a connection uses
    ///
    /// The last of these calls on the builder decides:
    ///
    /// 1. `proxy(url)`: that proxy, for this builder's URL whatever its host;
    ///    no environment variable is read, `no_proxy` included (the URL is
    ///    known when you set it; curl's `-x` differs and still reads `no_proxy`).
    /// 2. `proxy(None)` or [`no_proxy()`](Builder::no_proxy): direct.
    /// 3. [`proxy_env(settings)`](Builder::proxy_env): those settings, read as
    ///    the environment would be.
    /// 4. None of them (the default): the process environment when
    ///    [`connect`](Builder::connect) runs, as [`ProxyEnv`] describes:
    ///    `https_proxy`/`HTTPS_PROXY` for `wss://`, `http_proxy` for `ws://`,
    ///    `all_proxy`/`ALL_PROXY` for both, unless `no_proxy`/`NO_PROXY` lists
    ///    the host.
    ///
    /// A proxy URL that cannot be used (another scheme, such as `socks5://`)
    /// fails [`connect`](Builder::connect) with [`ErrorKind::InvalidUrl`]
    /// naming where it came from, rather than silently going direct.
    /// [`connect_on`](Builder::connect_on) and
    /// [`into_handshake`](Builder::into_handshake) use no proxy.
    ///
    /// ```no_run
    /// use websocket_protocol::client::Builder;
    ///
    /// # async fn run() -> Result<(), websocket_protocol::client::Error> {
    /// let via = Builder::new("wss://example.com/chat").proxy("http://user:secret@proxy.corp:3128");
    /// let direct = Builder::new("ws://127.0.0.1:9001/").proxy(None);
    /// # Ok(()) }
    /// ```
    pub fn proxy(mut self, proxy: impl IntoProxy) -> Builder {
        self.proxy = match proxy.into_proxy_url() {
            Some(url) => ProxyChoice::Url(url),
            None => ProxyChoice::Off,
        };
        self
    }

    /// Connects directly, whatever the environment says: `proxy(None)`.
    pub fn no_proxy(mut self) -> Builder {
        self.proxy = ProxyChoice::Off;
        self
    }

    /// Chooses the proxy from `settings` instead of the process environment,
    /// by the same rules (see [`ProxyEnv`]): for settings that live in your
    /// own configuration, or a test.
    ///
    /// ```
    /// use websocket_protocol::client::{Builder, ProxyEnv};
    ///
    /// let settings = ProxyEnv::from_lookup(|name| match name {
    ///     "all_proxy" => Some("http://proxy.corp:3128".to_owned()),
    ///     "no_proxy" => Some("localhost".to_owned()),
    ///     _ => None,
    /// });
    /// let builder = Builder::new("wss://example.com/").proxy_env(settings);
    /// ```
    pub fn proxy_env(mut self, settings: ProxyEnv) -> Builder {
        self.proxy = ProxyChoice::Settings(settings);
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
    ///
    /// An `https://` proxy is reached with this configuration too.
    #[cfg(feature = "rustls")]
    pub fn tls_config(mut self, config: std::sync::Arc<rustls::ClientConfig>) -> Builder {
        self.tls.config = Some(config);
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
        let proxy = self.route(&target)?;
        if !Tls::ENABLED {
            let needs_tls = if target.secure() {
                Some(self.url.clone())
            } else {
                proxy
                    .as_ref()
                    .filter(|p| p.secure())
                    .map(|p| format!("the https:// proxy {p:?}"))
            };
            if let Some(what) = needs_tls {
                return Err(Error::new(
                    ErrorKind::TlsNotEnabled,
                    format!("{what} needs TLS: enable the `rustls` feature of websocket-protocol"),
                ));
            }
        }
        let deadline = self.deadline();
        let open = async {
            match &proxy {
                Some(proxy) => {
                    let tunnel =
                        proxy.tunnel(&target, &self.tls, self.max_error_body, Some(deadline));
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

    /// The proxy to go through to `target`, if any, by the precedence
    /// [`proxy`](Builder::proxy) documents.
    fn route(&self, target: &Target) -> Result<Option<Proxy>, Error> {
        match &self.proxy {
            ProxyChoice::Off => Ok(None),
            ProxyChoice::Url(url) => Proxy::parse(url, "Builder::proxy").map(Some),
            ProxyChoice::Settings(settings) => settings.proxy(target),
            ProxyChoice::Environment => ProxyEnv::from_env().proxy(target),
        }
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
        let mut headers = options.headers.as_deref().cloned().unwrap_or_default();
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
            let tls = self
                .tls
                .connect(io, target.bare_host(), Peer::Server)
                .await?;
            return exchange::handshake(tls, driver, config, max, Some(deadline)).await;
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
            .field("proxy", &self.proxy)
            .field("max_error_body", &self.max_error_body)
            .field("tls", &self.tls);
        d.finish()
    }
}

impl std::fmt::Debug for ProxyChoice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProxyChoice::Environment => f.write_str("Environment"),
            ProxyChoice::Settings(settings) => settings.fmt(f),
            // Proxy credentials stay out of logs.
            ProxyChoice::Url(url) => write!(f, "Url({:?})", redact_userinfo(url)),
            ProxyChoice::Off => f.write_str("Off"),
        }
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

    /// The proxy host a builder would use for its URL, if any.
    fn route(builder: Builder) -> Option<String> {
        let target = Target::from_url(&builder.url).unwrap();
        let proxy = builder.route(&target).unwrap();
        proxy.map(|p| p.host().to_owned())
    }

    #[test]
    fn the_last_proxy_setting_decides() {
        let settings = ProxyEnv::from_lookup(|name| match name {
            "https_proxy" => Some("http://from-settings:1".into()),
            "no_proxy" => Some("example.com".into()),
            _ => None,
        });
        let b = || Builder::new("wss://example.com/");
        assert_eq!(route(b().proxy_env(settings.clone())), None, "no_proxy");
        let b = || Builder::new("wss://other.test/");
        assert_eq!(
            route(b().proxy_env(settings.clone())).as_deref(),
            Some("from-settings")
        );
        assert_eq!(
            route(b().proxy_env(settings.clone()).proxy("http://explicit:2")).as_deref(),
            Some("explicit")
        );
        assert_eq!(
            route(b().proxy("http://explicit:2").proxy_env(settings.clone())).as_deref(),
            Some("from-settings")
        );
        assert_eq!(route(b().proxy("http://explicit:2").proxy(None)), None);
        assert_eq!(route(b().proxy_env(settings).no_proxy()), None);
        // An explicit proxy ignores no_proxy: the builder's URL is known.
        let b = Builder::new("wss://example.com/").proxy("http://explicit:2");
        assert_eq!(route(b).as_deref(), Some("explicit"));
    }

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
