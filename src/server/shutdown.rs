//! Graceful shutdown that reaches upgraded sockets.
//!
//! hyper's graceful shutdown (and `axum::serve`'s) waits for HTTP connections; an
//! upgraded WebSocket has left hyper by then and would be cut off or outlive the
//! server. [`Shutdown`] tracks the socket tasks that the layer and the extractor
//! spawn, so one call closes them all with 1001 and waits for them, bounded.

use futures_util::task::AtomicWaker;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// A handle that closes every live server socket with 1001 (going away).
///
/// Give a clone to [`WsLayer::shutdown`](super::WsLayer::shutdown) or
/// [`WsUpgrade::shutdown`](super::WsUpgrade::shutdown) (or insert one as a request
/// extension, which the extractor picks up). When the application shuts down,
/// [`close_all`](Shutdown::close_all) sends every live socket a close frame with
/// code 1001 and reason `server shutting down`, waits up to a bound for their
/// handlers to finish, and aborts those still running. New upgrades are refused
/// with 503 from the moment it is triggered.
///
/// The close reaches a socket the next time its handler reads (the close frame goes
/// out as the socket's answer and the message stream ends with it), at a frame
/// boundary of the incoming stream; hixie-75, which has no close frame, is closed by
/// ending the stream. A handler that never reads runs until the bound and is then
/// aborted, which drops its socket.
///
/// ```no_run
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use websocket_protocol::server::{RequestInfo, ServerSocket, Shutdown, WsLayer};
///
/// # async fn run() -> std::io::Result<()> {
/// let shutdown = Shutdown::new();
/// let app = Router::new().route("/", get(|| async { "hello" })).layer(
///     WsLayer::new(|_ws: ServerSocket, _req: RequestInfo| async {}).shutdown(&shutdown),
/// );
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
/// let server = axum::serve(listener, app).with_graceful_shutdown(shutdown.triggered());
/// let server = tokio::spawn(async move { server.await });
/// tokio::signal::ctrl_c().await?;
/// let outcome = shutdown.close_all(Duration::from_secs(5)).await;
/// println!("{} sockets closed, {} aborted", outcome.closed, outcome.aborted);
/// server.await??;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

/// What [`Shutdown::close_all`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ShutdownOutcome {
    /// Sockets whose handlers finished within the bound.
    pub closed: usize,
    /// Sockets whose handlers were still running at the bound and were aborted.
    pub aborted: usize,
}

#[derive(Debug)]
struct Inner {
    triggered: AtomicBool,
    trigger_tx: watch::Sender<bool>,
    live_tx: watch::Sender<usize>,
    next_id: AtomicU64,
    sockets: Mutex<HashMap<u64, Entry>>,
}

#[derive(Debug)]
struct Entry {
    waker: Arc<AtomicWaker>,
    abort: Option<AbortHandle>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            triggered: AtomicBool::new(false),
            trigger_tx: watch::Sender::new(false),
            live_tx: watch::Sender::new(0),
            next_id: AtomicU64::new(0),
            sockets: Mutex::new(HashMap::new()),
        }
    }
}

impl Shutdown {
    /// A handle with no sockets, not triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts the shutdown without waiting: live sockets are told to close, new
    /// upgrades are refused, [`triggered`](Shutdown::triggered) futures complete.
    /// Calling it again does nothing.
    pub fn trigger(&self) {
        if self.inner.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.trigger_tx.send_replace(true);
        for entry in self.lock().values() {
            entry.waker.wake();
        }
    }

    /// Whether [`trigger`](Shutdown::trigger) (or `close_all`) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    /// A future that completes once the shutdown is triggered; pass it to
    /// `axum::serve(..).with_graceful_shutdown` or hyper-util's graceful shutdown
    /// so the HTTP server stops accepting at the same moment.
    ///
    /// Cancel safety: dropping it has no effect on the shutdown.
    pub fn triggered(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.inner.trigger_tx.subscribe();
        async move {
            // The channel closes when every handle is gone: then nothing can
            // trigger the shutdown any more, and waiting forever is right.
            if rx.wait_for(|triggered| *triggered).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// How many socket tasks are live (upgrading or open).
    pub fn live(&self) -> usize {
        *self.inner.live_tx.borrow()
    }

    /// Triggers the shutdown, then waits up to `timeout` for every live socket's
    /// handler to finish; those still running then are aborted.
    ///
    /// Cancel safety: cancelling it leaves the shutdown triggered and the sockets
    /// closing; nothing is aborted.
    pub async fn close_all(&self, timeout: Duration) -> ShutdownOutcome {
        let live = self.live();
        self.trigger();
        let mut rx = self.inner.live_tx.subscribe();
        let drained = tokio::time::timeout(timeout, rx.wait_for(|n| *n == 0)).await;
        if matches!(drained, Ok(Ok(_))) {
            return ShutdownOutcome {
                closed: live,
                aborted: 0,
            };
        }
        let sockets = self.lock();
        for entry in sockets.values() {
            if let Some(abort) = &entry.abort {
                abort.abort();
            }
        }
        let aborted = sockets.len();
        ShutdownOutcome {
            closed: live.saturating_sub(aborted),
            aborted,
        }
    }

    /// Spawns a socket task that this handle tracks until it ends.
    pub(crate) fn spawn<F, Fut>(&self, task: F)
    where
        F: FnOnce(Watch) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let waker = Arc::new(AtomicWaker::new());
        self.lock().insert(
            id,
            Entry {
                waker: waker.clone(),
                abort: None,
            },
        );
        self.inner.live_tx.send_modify(|n| *n += 1);
        let registration = Registration {
            inner: self.inner.clone(),
            id,
        };
        let watch = Watch {
            inner: self.inner.clone(),
            waker,
        };
        let future = task(watch);
        let handle = tokio::spawn(async move {
            let _registration = registration;
            future.await;
        });
        // The task may already have finished and removed its entry.
        if let Some(entry) = self.lock().get_mut(&id) {
            entry.abort = Some(handle.abort_handle());
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        lock(&self.inner)
    }
}

fn lock(inner: &Inner) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
    // The map holds no invariant a panic could break halfway.
    inner.sockets.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes a socket task from the handle when the task ends or is aborted.
struct Registration {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&self.inner).remove(&self.id);
        self.inner.live_tx.send_modify(|n| *n -= 1);
    }
}

/// What a socket's I/O needs from the handle: whether the shutdown has been
/// triggered, and a place for the waker to call when it is.
#[derive(Debug)]
pub(crate) struct Watch {
    inner: Arc<Inner>,
    waker: Arc<AtomicWaker>,
}

impl Watch {
    pub(crate) fn is_triggered(&self) -> bool {
        self.inner.triggered.load(Ordering::SeqCst)
    }

    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.waker.register(waker);
    }
}
