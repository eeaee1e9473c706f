//! The tower layer: WebSocket requests are answered and handed to a handler, every
//! other request goes to the inner service untouched.

use super::accept::{self, Failures, Head, Refusal, Settings};
use super::request::RequestInfo;
use super::ServerSocket;
use crate::protocol::Driver;
use crate::socket::{Accept, Refuse};
use bytes::Bytes;
use http::request::Parts;
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
    hook: Option<Arc<RequestHook>>,
}

/// A per-request decision of [`WsLayer::on_request`].
type RequestHook = dyn Fn(&mut Parts) -> Result<Accept, Refuse> + Send + Sync;

impl<H> Clone for WsLayer<H> {
    fn clone(&self) -> Self {
        WsLayer {
            handler: self.handler.clone(),
            settings: self.settings.clone(),
            hook: self.hook.clone(),
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
            hook: None,
        }
    }
}

impl<H> WsLayer<H> {
    accept::settings_methods!();

    /// Decides on each upgrade request before it is answered: `hook` sees the
    /// request's head (method, URI with path and query, headers, extensions)
    /// once the core and the origin policy found it a valid upgrade, and
    /// returns an [`Accept`] (the subprotocols, config and extra response
    /// headers for this request) or a [`Refuse`], the response that refuses
    /// it, sent as it is (any status, headers and body).
    ///
    /// It may insert values into the extensions (the user a token belongs to):
    /// the handler finds them in [`RequestInfo::extensions`]. The hook runs
    /// inside the service call, so it must not block; a decision that needs I/O
    /// (a session store) belongs in a middleware in front of the layer, which
    /// can leave its result in the extensions for the hook.
    ///
    /// ```
    /// use websocket_protocol::server::{RequestInfo, ServerSocket, WsLayer};
    /// use websocket_protocol::socket::Accept;
    ///
    /// let layer = WsLayer::new(|ws: ServerSocket, req: RequestInfo| async move {
    ///     let user = req.extensions().get::<String>().cloned();
    ///     println!("{user:?} connected");
    ///     drop(ws);
    /// })
    /// .on_request(|req| {
    ///     let token = req.uri.query().and_then(|q| q.strip_prefix("token="));
    ///     let Some(user) = token.and_then(|t| t.strip_prefix("user-")) else {
    ///         return Err((http::StatusCode::UNAUTHORIZED, "a token is needed\n").into());
    ///     };
    ///     req.extensions.insert(user.to_owned());
    ///     match req.uri.path() {
    ///         "/v2" => Ok(Accept::default().protocols(["chat.v2"])),
    ///         _ => Ok(Accept::default().protocols(["chat"])),
    ///     }
    /// });
    /// ```
    pub fn on_request<F>(mut self, hook: F) -> Self
    where
        F: Fn(&mut Parts) -> Result<Accept, Refuse> + Send + Sync + 'static,
    {
        self.hook = Some(Arc::new(hook));
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
            hook: self.hook.clone(),
        }
    }
}

/// The service [`WsLayer`] builds around an inner service.
pub struct WsService<S, H> {
    inner: S,
    handler: Arc<H>,
    settings: Arc<Settings>,
    hook: Option<Arc<RequestHook>>,
}

impl<S: Clone, H> Clone for WsService<S, H> {
    fn clone(&self) -> Self {
        WsService {
            inner: self.inner.clone(),
            handler: self.handler.clone(),
            settings: self.settings.clone(),
            hook: self.hook.clone(),
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
        let (parts, body) = request.into_parts();
        if !accept::wants_websocket(&parts) {
            let future = self.inner.call(Request::from_parts(parts, body));
            return ResponseFuture::inner(future);
        }
        ResponseFuture::ready(self.upgrade(parts))
    }
}

impl<S, H, Fut> WsService<S, H>
where
    H: Fn(ServerSocket, RequestInfo) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// Answers an upgrade request and, when it is accepted, spawns its handler.
    fn upgrade(&self, parts: Parts) -> Response<Full<Bytes>> {
        match self.try_upgrade(parts) {
            Ok(response) | Err(response) => response,
        }
    }

    /// The 101 (or 200) with the handler spawned, or the refusal. Both sides
    /// are the response, moved once per upgrade request, so its size is moot.
    #[allow(clippy::result_large_err)]
    fn try_upgrade(
        &self,
        mut parts: Parts,
    ) -> Result<Response<Full<Bytes>>, Response<Full<Bytes>>> {
        let version = parts.version;
        let refused = |refusal: Refusal| refusal.response(version).map(Full::from);
        self.settings.check_shutdown().map_err(refused)?;
        // The hook sees only requests the core and the origin policy accept, and
        // its choices apply to this request only; without a hook, building the
        // driver is the check, on the parts themselves.
        let (mut parts, settings, accept, (driver, response)) = match &self.hook {
            None => {
                let head = Head::from_parts(parts);
                let answer = head.driver(self.settings.options()).map_err(refused)?;
                (head.into_parts(), None, Accept::default(), answer)
            }
            Some(hook) => {
                // A copy: the core judges the request as it came, not as the
                // hook leaves it.
                let head = Head::of(&parts);
                let options = self.settings.options();
                let accepted = head.check(&options).map_err(refused)?;
                self.settings
                    .check_origin(&parts.headers)
                    .map_err(refused)?;
                let mut accept = hook(&mut parts).map_err(|r| r.into_response().map(Full::new))?;
                let mut own = Settings::clone(&self.settings);
                let changed = accept.changes_options();
                own.apply(&mut accept);
                let answer = if changed {
                    // Judged again by the hook's options.
                    head.driver(own.options()).map_err(refused)?
                } else {
                    // The answer checked above holds.
                    Driver::answered(accepted, options)
                };
                (parts, Some(own), accept, answer)
            }
        };
        let settings = settings.as_ref().unwrap_or(&self.settings);
        settings.check_origin(&parts.headers).map_err(refused)?;
        let on_upgrade = parts
            .extensions
            .remove::<hyper::upgrade::OnUpgrade>()
            .ok_or_else(|| refused(Refusal::NotUpgradable))?;
        let response =
            accept::accepted_response(&driver, response, accept).map(|()| Full::default());
        let info = RequestInfo::from_parts(parts);
        let handler = self.handler.clone();
        accept::spawn_socket(
            on_upgrade,
            driver,
            settings.socket_config(),
            settings.shutdown.as_ref(),
            Failures::default(),
            move |ws| handler(ws, info),
        );
        Ok(response)
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
