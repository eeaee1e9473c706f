//! The tower layer: WebSocket requests are answered and handed to a handler, every
//! other request goes to the inner service untouched.

use super::accept::{self, OriginPolicy, Settings};
use super::request::RequestInfo;
use super::shutdown::Shutdown;
use super::ServerSocket;
use crate::socket::Config;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The response body of a [`WsService`]: the inner service's body, or the
/// layer's own (empty for a handshake, a line of text for a refusal).
pub type WsBody<B> = Either<B, Full<Bytes>>;

/// A `tower::Layer` that answers WebSocket upgrade requests and runs `handler` on
/// each socket; every other request goes to the inner service untouched.
///
/// The handler is any `Fn(ServerSocket, RequestInfo) -> impl Future<Output = ()>`;
/// it runs in a task of its own once hyper has handed over the connection. A
/// request whose `Upgrade` header lists `websocket` (or an HTTP/2 CONNECT with
/// `:protocol websocket`) is the layer's even when it is malformed: it gets the
/// error status (see [the module docs](super)), not the inner service.
///
/// It works with `axum::Router::layer` and `route_layer`, `MethodRouter::layer`,
/// and with plain hyper through hyper-util's `TowerToHyperService`.
///
/// ```
/// use axum::{routing::get, Router};
/// use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};
///
/// let app: Router = Router::new()
///     .route("/", get(|| async { "a normal page" }))
///     .layer(
///         WsLayer::new(|ws: ServerSocket, req: RequestInfo| async move {
///             println!("socket on {}", req.uri().path());
///             drop(ws);
///         })
///         .protocols(["chat", "superchat"])
///         .allowed_origins(["https://example.com"]),
///     );
/// ```
pub struct WsLayer<H> {
    handler: Arc<H>,
    settings: Settings,
}

impl<H> Clone for WsLayer<H> {
    fn clone(&self) -> Self {
        WsLayer {
            handler: self.handler.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<H> std::fmt::Debug for WsLayer<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsLayer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<H, Fut> WsLayer<H>
where
    H: Fn(ServerSocket, RequestInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// A layer that runs `handler` on every accepted socket.
    pub fn new(handler: H) -> Self {
        WsLayer {
            handler: Arc::new(handler),
            settings: Settings::default(),
        }
    }
}

impl<H> WsLayer<H> {
    /// The subprotocols this server speaks. The first protocol in the client's
    /// list that appears here is chosen; with no match the handshake succeeds
    /// without one (RFC 6455 section 4.2.2). Overrides the config's list.
    pub fn protocols<I, S>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.settings.protocols = Some(protocols.into_iter().map(Into::into).collect());
        self
    }

    /// Accepts only these origins (compared ignoring ASCII case); others get 403.
    /// A request without `Origin` (a non-browser client) is accepted; use
    /// [`check_origin`](WsLayer::check_origin) to refuse those too.
    pub fn allowed_origins<I, S>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = origins.into_iter().map(Into::into).collect();
        self.settings.origin = OriginPolicy::List(list.into());
        self
    }

    /// Decides on each request's origin (`None` when the request has no `Origin`
    /// header); `false` answers 403.
    pub fn check_origin<F>(mut self, check: F) -> Self
    where
        F: Fn(Option<&str>) -> bool + Send + Sync + 'static,
    {
        self.settings.origin = OriginPolicy::Check(Arc::new(check));
        self
    }

    /// The socket's settings (limits, timers); its protocol options are the
    /// core's. [`protocols`](WsLayer::protocols) and
    /// [`allow_drafts`](WsLayer::allow_drafts) override the matching options
    /// whichever is called first.
    pub fn config(mut self, config: Config) -> Self {
        self.settings.config = config;
        self
    }

    /// Also accepts hixie-75 and hixie-76 requests (off by default: they get 426).
    /// Serve the connection with `title_case_headers(true)` for those clients; see
    /// [the module docs](super#the-drafts-through-hyper).
    pub fn allow_drafts(mut self, allow: bool) -> Self {
        self.settings.allow_drafts = Some(allow);
        self
    }

    /// Tracks every socket in `shutdown`, which can close them all.
    pub fn shutdown(mut self, shutdown: &Shutdown) -> Self {
        self.settings.shutdown = Some(shutdown.clone());
        self
    }
}

impl<S, H> tower_layer::Layer<S> for WsLayer<H> {
    type Service = WsService<S, H>;

    fn layer(&self, inner: S) -> Self::Service {
        WsService {
            inner,
            handler: self.handler.clone(),
            settings: Arc::new(self.settings.clone()),
        }
    }
}

/// The service [`WsLayer`] builds around an inner service.
pub struct WsService<S, H> {
    inner: S,
    handler: Arc<H>,
    settings: Arc<Settings>,
}

impl<S: Clone, H> Clone for WsService<S, H> {
    fn clone(&self) -> Self {
        WsService {
            inner: self.inner.clone(),
            handler: self.handler.clone(),
            settings: self.settings.clone(),
        }
    }
}

impl<S: std::fmt::Debug, H> std::fmt::Debug for WsService<S, H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsService")
            .field("inner", &self.inner)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl<S, H, Fut, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for WsService<S, H>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    H: Fn(ServerSocket, RequestInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    type Response = Response<WsBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        if !accept::wants_websocket(&parts) {
            let future = self.inner.call(Request::from_parts(parts, body));
            return ResponseFuture::inner(future);
        }
        ResponseFuture::ready(self.upgrade(&mut parts))
    }
}

impl<S, H, Fut> WsService<S, H>
where
    H: Fn(ServerSocket, RequestInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Answers an upgrade request and, when it is accepted, spawns its handler.
    fn upgrade(&self, parts: &mut http::request::Parts) -> Response<Full<Bytes>> {
        let version = parts.version;
        let refused = |refusal: accept::Refusal| refusal.response(version).map(Full::from);
        let driver = match self.settings.accept(parts) {
            Ok(driver) => driver,
            Err(refusal) => return refused(refusal),
        };
        let Some(on_upgrade) = parts.extensions.remove::<hyper::upgrade::OnUpgrade>() else {
            return refused(accept::Refusal::NotUpgradable);
        };
        let response = accept::accepted_response(&driver).map(|()| Full::default());
        let info =
            RequestInfo::from_parts(std::mem::replace(parts, Request::new(()).into_parts().0));
        let handler = self.handler.clone();
        let config = self.settings.socket_config();
        accept::spawn_socket(
            on_upgrade,
            driver,
            config,
            self.settings.shutdown.as_ref(),
            None,
            move |ws| handler(ws, info),
        );
        response
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`WsService`] response.
    pub struct ResponseFuture<F, B, E> {
        #[pin]
        kind: Kind<F, B, E>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProj]
    enum Kind<F, B, E> {
        Inner { #[pin] future: F },
        Ready { response: Option<Result<Response<WsBody<B>>, E>> },
    }
}

impl<F, B, E> ResponseFuture<F, B, E> {
    fn inner(future: F) -> Self {
        ResponseFuture {
            kind: Kind::Inner { future },
        }
    }

    fn ready(response: Response<Full<Bytes>>) -> Self {
        ResponseFuture {
            kind: Kind::Ready {
                response: Some(Ok(response.map(Either::Right))),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B, E>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<WsBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future
                .poll(cx)
                .map(|result| result.map(|res| res.map(Either::Left))),
            KindProj::Ready { response } => {
                Poll::Ready(response.take().expect("polled after completion"))
            }
        }
    }
}
