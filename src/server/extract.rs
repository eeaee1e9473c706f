//! The axum extractor.

use super::accept::{self, Failures, Head, Refusal, Settings};
use super::shutdown::Shutdown;
use super::ServerSocket;
use crate::protocol::{self, Options, Version};
use crate::socket::Accept;
use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use hyper::upgrade::OnUpgrade;
use std::fmt;
use std::future::Future;

/// An axum extractor for a WebSocket upgrade request, over HTTP/1.1 or HTTP/2.
///
/// Extraction checks the request: a malformed one is rejected with 400, a method
/// other than GET (CONNECT over HTTP/2) with 405, an unknown version with 426 and
/// `Sec-WebSocket-Version: 13` (see [`WsRejection`]). Then choose the subprotocols
/// and settings, and answer with [`on_upgrade`](WsUpgrade::on_upgrade), which
/// returns the handshake response and runs your callback on the socket once hyper
/// hands the connection over.
///
/// `Option<WsUpgrade>` is `None` for a request that does not ask for a WebSocket,
/// so one handler can serve both.
///
/// If the request carries a [`Shutdown`] as an extension (`Extension(shutdown)`),
/// the socket is tracked by it; [`shutdown`](WsUpgrade::shutdown) sets one
/// explicitly.
///
/// ```
/// use axum::{response::Response, routing::get, Router};
/// use websocket_protocol::server::WsUpgrade;
///
/// async fn chat(ws: WsUpgrade) -> Response {
///     let ws = ws.protocols(["chat"]);
///     println!("{} asked for {:?}", ws.version(), ws.selected_protocol());
///     ws.on_upgrade(|socket| async move {
///         // talk over `socket`
///         drop(socket);
///     })
/// }
///
/// let app: Router = Router::new().route("/chat", get(chat));
/// ```
pub struct WsUpgrade {
    head: Head,
    on_upgrade: OnUpgrade,
    settings: Settings,
    version: Version,
    failures: Failures,
}

impl fmt::Debug for WsUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WsUpgrade")
            .field("version", &self.version)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl WsUpgrade {
    accept::settings_methods!();

    /// The protocol version the client asked for.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The subprotocols the client offers, in its order of preference.
    ///
    /// ```
    /// # use websocket_protocol::server::WsUpgrade;
    /// # fn f(ws: WsUpgrade) -> axum::response::Response {
    /// let wanted = ws.requested_protocols().into_iter().find(|p| p.starts_with("chat."));
    /// let ws = match wanted {
    ///     Some(protocol) => ws.protocols([protocol]),
    ///     None => ws,
    /// };
    /// ws.on_upgrade(|socket| async move { drop(socket) })
    /// # }
    /// ```
    pub fn requested_protocols(&self) -> Vec<String> {
        protocol::requested_protocols(self.head.headers(), self.version)
    }

    /// The subprotocol the handshake will choose from those set with
    /// [`protocols`](WsUpgrade::protocols) (or the config's), if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        protocol::negotiate(self.head.headers(), self.version, self.settings.protocols())
    }

    /// Chooses `protocol` for this handshake, as axum's method of that name; the
    /// same as [`protocols`](WsUpgrade::protocols) with one protocol, on a
    /// `&mut`. The response names it only when the client offered it (RFC 6455
    /// section 4.2.2 allows no other); otherwise the handshake goes on without a
    /// subprotocol, which [`selected_protocol`](WsUpgrade::selected_protocol)
    /// shows.
    pub fn set_selected_protocol(&mut self, protocol: impl Into<String>) {
        self.settings.protocols = Some(vec![protocol.into()]);
    }

    /// Called with hyper's error if the connection cannot be handed over after the
    /// handshake response (the client went away, the connection broke). By default
    /// the failure is dropped silently.
    pub fn on_failed_upgrade<F>(mut self, callback: F) -> Self
    where
        F: FnOnce(hyper::Error) + Send + 'static,
    {
        self.failures.upgrade = Some(Box::new(callback));
        self
    }

    /// Called when the connection was handed over but the handshake did not
    /// finish on it, so the callback of [`on_upgrade`](WsUpgrade::on_upgrade)
    /// never runs: a hixie-76 client whose 8 key bytes did not come within the
    /// config's [`handshake_timeout`](crate::Config::handshake_timeout) (an
    /// error whose [`is_timeout`](crate::Error::is_timeout) is true, as on every
    /// path) or whose stream broke. By default the failure is dropped silently.
    pub fn on_failed_handshake<F>(mut self, callback: F) -> Self
    where
        F: FnOnce(crate::Error) + Send + 'static,
    {
        self.failures.handshake = Some(Box::new(callback));
        self
    }

    /// Answers the handshake and, once hyper hands the connection over, runs
    /// `callback` on the socket in a task of its own. Returns the response to send:
    /// 101 (200 over HTTP/2), or the refusal when the settings chosen since
    /// extraction refuse the request (426 for a draft not allowed, 403 for an
    /// origin not allowed, 503 once the shutdown was triggered).
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(ServerSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let http_version = self.head.version();
        let (driver, response) = match self
            .settings
            .check_shutdown()
            .and_then(|()| self.head.driver(self.settings.options()))
            .and_then(|answer| {
                self.settings.check_origin(self.head.headers())?;
                Ok(answer)
            }) {
            Ok(answer) => answer,
            Err(refusal) => return WsRejection::new(refusal, http_version).into_response(),
        };
        let response =
            accept::accepted_response(&driver, response, Accept::default()).map(|()| Body::empty());
        accept::spawn_socket(
            self.on_upgrade,
            driver,
            self.settings.socket_config(),
            self.settings.shutdown.as_ref(),
            self.failures,
            callback,
        );
        response
    }

    fn extract(parts: &mut Parts) -> Result<Self, WsRejection> {
        let version = parts.version;
        let refuse = |refusal| WsRejection::new(refusal, version);
        let head = Head::of(parts);
        // The drafts are decided in `on_upgrade`, once the handler has said whether
        // it takes them; everything else is checked now, by the core's rules,
        // without building the driver that `on_upgrade` builds.
        let checked = head
            .check(&Options::default().allow_drafts(true))
            .map_err(refuse)?;
        let settings = Settings {
            shutdown: parts.extensions.get::<Shutdown>().cloned(),
            ..Settings::default()
        };
        settings.check_shutdown().map_err(refuse)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or_else(|| refuse(Refusal::NotUpgradable))?;
        Ok(WsUpgrade {
            head,
            on_upgrade,
            settings,
            version: checked.version,
            failures: Failures::default(),
        })
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = WsRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        WsUpgrade::extract(parts)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for WsUpgrade {
    type Rejection = WsRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        if accept::wants_websocket(parts) {
            WsUpgrade::extract(parts).map(Some)
        } else {
            Ok(None)
        }
    }
}

/// Why [`WsUpgrade`] refused a request; it answers with the matching status.
///
/// | cause | status |
/// |---|---|
/// | malformed upgrade (no `Upgrade`/`Connection` token, no or a bad key) | 400 |
/// | method other than GET (HTTP/2: CONNECT) | 405 with `Allow` |
/// | unknown `Sec-WebSocket-Version`, or a draft not allowed | 426 with `Sec-WebSocket-Version: 13` |
/// | the connection cannot be upgraded (served without hyper's upgrades) | 426 |
/// | the server's [`Shutdown`] was triggered | 503 |
#[derive(Debug, Clone)]
pub struct WsRejection {
    refusal: Refusal,
    http_version: http::Version,
}

impl WsRejection {
    fn new(refusal: Refusal, http_version: http::Version) -> Self {
        WsRejection {
            refusal,
            http_version,
        }
    }

    /// The status this rejection answers with.
    pub fn status(&self) -> http::StatusCode {
        self.refusal.status()
    }

    /// The core's handshake error, when the core refused the request.
    pub fn handshake_error(&self) -> Option<&crate::protocol::Error> {
        match &self.refusal {
            Refusal::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for WsRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.refusal.fmt(f)
    }
}

impl std::error::Error for WsRejection {}

impl IntoResponse for WsRejection {
    fn into_response(self) -> Response {
        self.refusal.response(self.http_version).map(Body::from)
    }
}
