//! Accepting an upgrade request, shared by the layer and the extractor: deciding
//! whether a request asks for a WebSocket, checking it, answering it, and running
//! the handler once hyper hands over the connection.

use super::shutdown::{Shutdown, Tracker};
use super::{ServerIo, ServerSocket};
use crate::protocol::{self, Accepted, Driver, Options, Version};
use crate::socket::{Accept, Config, WebSocket};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Extensions, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// The HTTP/2 `:protocol` pseudo-header, which hyper keeps in the extensions.
pub(crate) fn pseudo_protocol(extensions: &Extensions) -> Option<&str> {
    extensions
        .get::<hyper::ext::Protocol>()
        .map(hyper::ext::Protocol::as_str)
}

/// Whether a request asks for a WebSocket at all, well-formed or not (the core's
/// rule). Such requests are answered here (with 101, 200 or an error) and never
/// passed on.
pub(crate) fn wants_websocket(parts: &Parts) -> bool {
    protocol::wants_websocket(
        &parts.method,
        &parts.headers,
        pseudo_protocol(&parts.extensions),
    )
}

/// Why an upgrade request is answered with an error.
#[derive(Debug, Clone)]
pub(crate) enum Refusal {
    /// The core refused the handshake; it knows the status (400, 405, 426, 431).
    Handshake(protocol::Error),
    /// The origin policy refused the request's origin (403).
    Origin,
    /// hyper cannot hand over this connection: no upgrade support on it (426, as
    /// axum answers).
    NotUpgradable,
    /// The server's [`Shutdown`] was triggered (503).
    ShuttingDown,
}

impl Refusal {
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Refusal::Handshake(e) => e.status().unwrap_or(StatusCode::BAD_REQUEST),
            Refusal::Origin => StatusCode::FORBIDDEN,
            Refusal::NotUpgradable => StatusCode::UPGRADE_REQUIRED,
            Refusal::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The response for a request of HTTP `version`: HTTP/2 forbids the
    /// connection-specific `Connection: close`.
    pub(crate) fn response(&self, version: http::Version) -> Response<String> {
        let mut res = match self {
            Refusal::Handshake(e) => e.response(),
            _ => None,
        }
        .unwrap_or_else(|| {
            let mut res = Response::new(format!("{self}\n"));
            *res.status_mut() = self.status();
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            // Whatever the client sent after its upgrade request (a hixie-76 key,
            // early frames) must not be read as the next request.
            res.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            res
        });
        if version >= http::Version::HTTP_2 {
            res.headers_mut().remove(header::CONNECTION);
            if let Some(allow) = res.headers_mut().get_mut(header::ALLOW) {
                *allow = HeaderValue::from_static("CONNECT");
            }
        }
        res
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Handshake(e) => e.fmt(f),
            Refusal::Origin => f.write_str("WebSocket origin not allowed"),
            Refusal::NotUpgradable => f.write_str(
                "this connection cannot be upgraded: serve it with hyper's upgrades enabled",
            ),
            Refusal::ShuttingDown => f.write_str("the server is shutting down"),
        }
    }
}

/// A user's decision on a request's origin (`None`: no `Origin` header).
pub(crate) type OriginCheck = dyn Fn(Option<&str>) -> bool + Send + Sync;

/// Which origins may open a socket. Browsers always send `Origin` (hybi-07/08:
/// `Sec-WebSocket-Origin`); other clients usually do not, and a list lets those in.
#[derive(Clone, Default)]
pub(crate) enum OriginPolicy {
    #[default]
    Any,
    List(Arc<[String]>),
    Check(Arc<OriginCheck>),
}

impl fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OriginPolicy::Any => f.write_str("Any"),
            OriginPolicy::List(list) => f.debug_tuple("List").field(list).finish(),
            OriginPolicy::Check(_) => f.write_str("Check(..)"),
        }
    }
}

impl OriginPolicy {
    fn allows(&self, headers: &HeaderMap) -> bool {
        if let OriginPolicy::Any = self {
            return true;
        }
        let origin = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(protocol::HYBI_ORIGIN))
            .map(|v| v.to_str().ok());
        match self {
            OriginPolicy::Any => true,
            OriginPolicy::List(list) => match origin {
                None => true,
                Some(None) => false,
                Some(Some(origin)) => list.iter().any(|o| o.eq_ignore_ascii_case(origin.trim())),
            },
            OriginPolicy::Check(check) => match origin {
                None => check(None),
                Some(None) => false,
                Some(Some(origin)) => check(Some(origin.trim())),
            },
        }
    }
}

/// The settings the layer and the extractor share; [`settings_methods!`] writes
/// their builder methods once for both.
#[derive(Clone, Debug, Default)]
pub(crate) struct Settings {
    pub config: Config,
    pub protocols: Option<Vec<String>>,
    pub allow_drafts: Option<bool>,
    pub origin: OriginPolicy,
    pub shutdown: Option<Shutdown>,
}

impl Settings {
    /// The core's options: the config's, with the protocols and drafts set here.
    pub(crate) fn options(&self) -> Options {
        let mut options = self.config.get_options().clone();
        if let Some(protocols) = &self.protocols {
            options = options.protocols(protocols.iter().cloned());
        }
        if let Some(allow) = self.allow_drafts {
            options = options.allow_drafts(allow);
        }
        options
    }

    /// The subprotocols this server speaks.
    #[cfg(feature = "axum")]
    pub(crate) fn protocols(&self) -> &[String] {
        match &self.protocols {
            Some(protocols) => protocols,
            None => self.config.get_options().get_protocols(),
        }
    }

    pub(crate) fn check_shutdown(&self) -> Result<(), Refusal> {
        match &self.shutdown {
            Some(shutdown) if shutdown.is_triggered() => Err(Refusal::ShuttingDown),
            _ => Ok(()),
        }
    }

    pub(crate) fn check_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        if self.origin.allows(headers) {
            Ok(())
        } else {
            Err(Refusal::Origin)
        }
    }

    /// The socket's config, with the options the driver was built with.
    pub(crate) fn socket_config(&self) -> Config {
        match (&self.protocols, self.allow_drafts) {
            (None, None) => self.config.clone(),
            _ => self.config.clone().options(self.options()),
        }
    }

    /// What a per-request [`Accept`] changes for this request.
    pub(crate) fn apply(&mut self, accept: &mut Accept) {
        if let Some(config) = accept.config.take() {
            self.config = config;
        }
        if let Some(protocols) = accept.protocols.take() {
            self.protocols = Some(protocols);
        }
    }
}

/// The builder methods over [`Settings`] that [`WsLayer`](super::WsLayer) and
/// [`WsUpgrade`](super::WsUpgrade) share, written once. Expands inside an `impl`
/// block of a type with a `settings: Settings` field.
macro_rules! settings_methods {
    () => {
        /// The subprotocols this server speaks. The first protocol in the
        /// client's list that appears here is chosen; with no match the handshake
        /// succeeds without one (RFC 6455 section 4.2.2). Overrides the config's
        /// list, whichever is called first.
        pub fn protocols<I, S>(mut self, protocols: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            self.settings.protocols = Some(protocols.into_iter().map(Into::into).collect());
            self
        }

        /// The socket's settings (limits, timers, buffers); its protocol options
        /// are the core's. It replaces the whole config: call it before
        /// [`max_message_size`](Self::max_message_size) and the other shorthands.
        /// [`protocols`](Self::protocols) and [`allow_drafts`](Self::allow_drafts)
        /// override the matching options whichever is called first.
        pub fn config(mut self, config: $crate::socket::Config) -> Self {
            self.settings.config = config;
            self
        }

        /// The largest incoming message (1009 above it); shorthand for
        /// [`Config::max_message_size`](crate::Config::max_message_size).
        pub fn max_message_size(mut self, bytes: usize) -> Self {
            self.settings.config =
                std::mem::take(&mut self.settings.config).max_message_size(bytes);
            self
        }

        /// The largest incoming frame (1009 above it); shorthand for
        /// [`Config::max_frame_size`](crate::Config::max_frame_size).
        pub fn max_frame_size(mut self, bytes: usize) -> Self {
            self.settings.config = std::mem::take(&mut self.settings.config).max_frame_size(bytes);
            self
        }

        /// The write buffer's high-water mark, past which `send` waits;
        /// shorthand for
        /// [`Config::write_buffer_size`](crate::Config::write_buffer_size).
        pub fn write_buffer_size(mut self, bytes: usize) -> Self {
            self.settings.config =
                std::mem::take(&mut self.settings.config).write_buffer_size(bytes);
            self
        }

        /// Also accepts hixie-75 and hixie-76 requests (off by default: they get
        /// 426). Serve the connection with `title_case_headers(true)` for those
        /// clients; see [the module docs](crate::server#the-drafts-through-hyper).
        pub fn allow_drafts(mut self, allow: bool) -> Self {
            self.settings.allow_drafts = Some(allow);
            self
        }

        /// Accepts only these origins (compared ignoring ASCII case); others get
        /// 403. A request without `Origin` (a non-browser client) is accepted; use
        /// [`check_origin`](Self::check_origin) to refuse those too.
        pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: Into<String>,
        {
            let list: Vec<String> = origins.into_iter().map(Into::into).collect();
            self.settings.origin = $crate::server::accept::OriginPolicy::List(list.into());
            self
        }

        /// Decides on each request's origin (`None` when the request has no
        /// `Origin` header); `false` answers 403.
        pub fn check_origin<F>(mut self, check: F) -> Self
        where
            F: Fn(Option<&str>) -> bool + Send + Sync + 'static,
        {
            self.settings.origin =
                $crate::server::accept::OriginPolicy::Check(std::sync::Arc::new(check));
            self
        }

        /// Tracks every socket in `shutdown`, which can close them all; once it
        /// is triggered, upgrade requests get 503.
        pub fn shutdown(mut self, shutdown: &$crate::server::Shutdown) -> Self {
            self.settings.shutdown = Some(shutdown.clone());
            self
        }
    };
}
pub(crate) use settings_methods;

/// What the core reads of an upgrade request: its head, and whether it is an
/// extended CONNECT (whose `:protocol` lives in the extensions).
#[derive(Debug, Clone)]
pub(crate) struct Head {
    request: Request<()>,
    extended_connect: bool,
}

impl Head {
    /// The request's head itself, extensions and all, to give back with
    /// [`into_parts`](Head::into_parts) once the core has read it.
    pub(crate) fn from_parts(parts: Parts) -> Head {
        Head {
            extended_connect: protocol::is_extended_connect(
                &parts.method,
                pseudo_protocol(&parts.extensions),
            ),
            request: Request::from_parts(parts, ()),
        }
    }

    pub(crate) fn into_parts(self) -> Parts {
        self.request.into_parts().0
    }

    /// A copy of the request's head without its extensions, for a caller
    /// that keeps the parts.
    pub(crate) fn of(parts: &Parts) -> Head {
        let mut request = Request::new(());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        Head {
            request,
            extended_connect: protocol::is_extended_connect(
                &parts.method,
                pseudo_protocol(&parts.extensions),
            ),
        }
    }

    #[cfg(feature = "axum")]
    pub(crate) fn version(&self) -> http::Version {
        self.request.version()
    }

    #[cfg(feature = "axum")]
    pub(crate) fn headers(&self) -> &HeaderMap {
        self.request.headers()
    }

    /// Checks the request by the core's rules without building a driver: what
    /// the answer would be with these options.
    pub(crate) fn check(&self, options: &Options) -> Result<Accepted, Refusal> {
        if self.extended_connect {
            protocol::check_extended_connect(&self.request, options)
        } else {
            protocol::check_request(&self.request, options)
        }
        .map_err(Refusal::Handshake)
    }

    /// The core's driver for this request, and the core's response that
    /// accepts it, which hyper sends (the driver keeps no copy): the one
    /// driver built per request.
    pub(crate) fn driver(&self, options: Options) -> Result<(Driver, Response<()>), Refusal> {
        let accepted = self.check(&options)?;
        Ok(Driver::answered(accepted, options))
    }
}

/// The response head that accepts the handshake: the core's `response`, 101
/// (with the drafts' reason phrase) or, over HTTP/2, 200; with the headers a
/// per-request hook added.
pub(crate) fn accepted_response(
    driver: &Driver,
    mut res: Response<()>,
    accept: Accept,
) -> Response<()> {
    let extra = accept.headers_beside(res.headers());
    res.headers_mut().extend(extra);
    if driver.version().is_draft() {
        res.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(
                driver.reason_phrase().as_bytes(),
            ));
    }
    res
}

/// Callbacks for a socket that never reaches its handler.
#[derive(Default)]
pub(crate) struct Failures {
    /// hyper could not hand the connection over after the response.
    pub upgrade: Option<Box<dyn FnOnce(hyper::Error) + Send>>,
    /// The handshake did not finish on the upgraded stream (a hixie-76 body that
    /// did not come within the handshake timeout, or a broken one).
    pub handshake: Option<Box<dyn FnOnce(crate::Error) + Send>>,
}

/// What a socket's task keeps until hyper hands the connection over.
struct Pending<F> {
    driver: Driver,
    config: Config,
    failures: Failures,
    handler: F,
}

/// The socket on the upgraded connection, and its handshake timeout. Not in
/// the task's async block: a local that an async block borrows is kept in its
/// state until the end of its scope, and the driver is large.
fn open(
    upgraded: hyper::upgrade::Upgraded,
    mut driver: Driver,
    config: Config,
) -> (ServerSocket, Duration) {
    driver.start_without_head(tokio::time::Instant::now().into_std());
    let handshake_timeout = config.get_handshake_timeout();
    let socket = WebSocket::from_driver(ServerIo::new(upgraded), driver, config);
    (socket, handshake_timeout)
}

/// Waits for hyper to hand over the connection, then runs `handler` on the socket,
/// in a task of its own (tracked by `shutdown` when there is one). The server's
/// only calls into the driver once it is built (`start_without_head`, and the
/// socket's) are here.
pub(crate) fn spawn_socket<F, Fut>(
    on_upgrade: OnUpgrade,
    driver: Driver,
    config: Config,
    shutdown: Option<&Shutdown>,
    failures: Failures,
    handler: F,
) where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let version = driver.version();
    // One box for what waits for hyper to hand the connection over. A task is
    // allocated at the size of its future's largest state, and what an async
    // block captures stays in every state: inline, the driver, the config and
    // the handler (with the request it was given) would size the socket's task
    // for its whole life, where the driver and config move into the socket's
    // own allocation at the upgrade.
    let pending = Box::new(Pending {
        driver,
        config,
        failures,
        handler,
    });
    let task = move |tracker: Option<Tracker>| async move {
        let upgraded = on_upgrade.await;
        // Out of the box, which is freed here rather than with the task.
        let Pending {
            driver,
            config,
            failures,
            handler,
        } = *{ pending };
        let upgraded = match upgraded {
            Ok(upgraded) => upgraded,
            Err(e) => {
                if let Some(on_failed) = failures.upgrade {
                    on_failed(e);
                }
                return;
            }
        };
        let (mut socket, handshake_timeout) = open(upgraded, driver, config);
        let close = socket.close_handle();
        let run = async move {
            if version == Version::Hixie76 {
                // The 8 key bytes may come late (a proxy holds them back) or
                // never: finish the handshake here, bounded, so the handler gets
                // an open socket and a client that never sends them costs nothing
                // past the timeout.
                let error = match tokio::time::timeout(handshake_timeout, socket.ready()).await {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(_) => Some(crate::Error::handshake_timeout()),
                };
                if let Some(error) = error {
                    if let Some(on_failed) = failures.handshake {
                        on_failed(error);
                    }
                    return;
                }
            }
            handler(socket).await;
        };
        match tracker {
            // Boxed: a tracked socket's task holds the tracker's future too,
            // which the default, untracked one should not be sized for.
            Some(tracker) => Box::pin(tracker.run(close, run)).await,
            None => run.await,
        }
    };
    match shutdown {
        Some(shutdown) => shutdown.spawn(|tracker| task(Some(tracker))),
        None => {
            tokio::spawn(task(None));
        }
    }
}
