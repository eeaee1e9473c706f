//! Accepting an upgrade request, shared by the layer and the extractor: deciding
//! whether a request asks for a WebSocket, checking it, answering it, and running
//! the handler once hyper hands over the connection.

use super::shutdown::{Shutdown, Tracker};
use super::ServerSocket;
use crate::protocol::{self, Driver, Options, Version};
use crate::socket::{Config, WebSocket};
use http::header::{self, HeaderMap, HeaderValue};
use http::request::Parts;
use http::{Extensions, Method, Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use std::fmt;
use std::future::Future;
use std::sync::Arc;

pub(crate) use crate::protocol::has_token;

/// An HTTP/2 CONNECT whose `:protocol` is `websocket` (RFC 8441).
pub(crate) fn is_extended_connect(method: &Method, extensions: &Extensions) -> bool {
    method == Method::CONNECT
        && extensions
            .get::<hyper::ext::Protocol>()
            .is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
}

/// Whether a request asks for a WebSocket at all, well-formed or not. Such requests
/// are answered here (with 101, 200 or an error) and never passed on.
pub(crate) fn wants_websocket(parts: &Parts) -> bool {
    is_extended_connect(&parts.method, &parts.extensions)
        || has_token(&parts.headers, header::UPGRADE, "websocket")
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
        let origin = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get("sec-websocket-origin"))
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

/// The settings the layer and the extractor share.
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
        self.config.clone().options(self.options())
    }

    /// Checks an upgrade request and builds its driver.
    pub(crate) fn accept(&self, parts: &Parts) -> Result<Driver, Refusal> {
        self.check_shutdown()?;
        let driver = Head::of(parts).driver(self.options())?;
        self.check_origin(&parts.headers)?;
        Ok(driver)
    }
}

/// What the core reads of an upgrade request: its head without extensions, and
/// whether it is an extended CONNECT (whose `:protocol` lives in the extensions).
#[derive(Debug, Clone)]
pub(crate) struct Head {
    request: Request<()>,
    extended_connect: bool,
}

impl Head {
    pub(crate) fn of(parts: &Parts) -> Head {
        let mut request = Request::new(());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.version_mut() = parts.version;
        *request.headers_mut() = parts.headers.clone();
        Head {
            request,
            extended_connect: is_extended_connect(&parts.method, &parts.extensions),
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

    /// The core's driver for this request.
    pub(crate) fn driver(&self, options: Options) -> Result<Driver, Refusal> {
        if self.extended_connect {
            Driver::server_extended_connect(&self.request, options)
        } else {
            Driver::server(&self.request, options)
        }
        .map_err(Refusal::Handshake)
    }
}

/// The response head that accepts the handshake: 101 (with the drafts' reason
/// phrase) or, over HTTP/2, 200.
pub(crate) fn accepted_response(driver: &Driver) -> Response<()> {
    let mut res = Response::new(());
    if let Some(head) = driver.handshake_response() {
        *res.status_mut() = head.status();
        *res.headers_mut() = head.headers().clone();
    }
    if driver.version().is_draft() {
        res.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(
                driver.reason_phrase().as_bytes(),
            ));
    }
    res
}

/// Called with hyper's error when the connection could not be handed over.
pub(crate) type OnFailed = Box<dyn FnOnce(hyper::Error) + Send>;

/// Waits for hyper to hand over the connection, then runs `handler` on the socket,
/// in a task of its own (tracked by `shutdown` when there is one).
pub(crate) fn spawn_socket<F, Fut>(
    on_upgrade: OnUpgrade,
    mut driver: Driver,
    config: Config,
    shutdown: Option<&Shutdown>,
    on_failed: Option<OnFailed>,
    handler: F,
) where
    F: FnOnce(ServerSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let version = driver.version();
    let task = move |tracker: Option<Tracker>| async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                if let Some(on_failed) = on_failed {
                    on_failed(e);
                }
                return;
            }
        };
        driver.start_without_head(tokio::time::Instant::now().into_std());
        let io = TokioIo::new(upgraded);
        let handshake_timeout = config.get_handshake_timeout();
        let mut socket = WebSocket::from_driver(io, driver, config);
        let close = socket.close_handle();
        let run = async move {
            if version == Version::Hixie76 {
                // The 8 key bytes may come late (a proxy holds them back) or
                // never: finish the handshake here, bounded, so the handler gets
                // an open socket and a client that never sends them costs nothing
                // past the timeout.
                match tokio::time::timeout(handshake_timeout, socket.ready()).await {
                    Ok(Ok(())) => {}
                    _ => return,
                }
            }
            handler(socket).await;
        };
        match tracker {
            Some(tracker) => tracker.run(close, run).await,
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
