//! Graceful shutdown that reaches upgraded sockets.
//!
//! hyper's graceful shutdown (and `axum::serve`'s) waits for HTTP connections; an
//! upgraded WebSocket has left hyper by then and would be cut off or outlive the
//! server. [`Shutdown`] tracks the socket tasks that the layer and the extractor
//! spawn, each with a [`CloseHandle`] on its socket, so one call runs the closing
//! handshake with every client and waits for it, bounded.

use crate::protocol::CloseCode;
use crate::socket::CloseHandle;
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// The reason sent with 1001.
const REASON: &str = "server shutting down";

/// A handle that closes every live server socket with 1001 (going away).
///
/// Give a clone to [`WsLayer::shutdown`](super::WsLayer::shutdown) or
/// [`WsUpgrade::shutdown`](super::WsUpgrade::shutdown) (or insert one as a request
/// extension, which the extractor picks up). When the application shuts down,
/// [`close_all`](Shutdown::close_all) starts the closing handshake on every live
/// socket with code 1001 and reason `server shutting down`, waits up to a bound
/// for the clients' answers and for the handlers to return, and aborts the
/// handlers still running then. New upgrades are refused with 503 from the moment
/// it is triggered.
///
/// It is a real closing handshake: the close frame goes out at once (through a
/// [`CloseHandle`]), and the server closes the TCP connection only once the client
/// answered with its close frame, or after the config's
/// [`close_timeout`](crate::Config::close_timeout). The handler sees it as a close
/// of its own: messages that arrive meanwhile are still delivered, sending fails
/// with [`Closed`](crate::ErrorKind::Closed), the message stream ends after the
/// handshake, and [`close_frame`](crate::WebSocket::close_frame) is the client's
/// answer. The socket's task drives the handshake itself and keeps the socket
/// until it is over, so it completes whether the handler reads or not, and when
/// the handler returns early (its `send` failed: the socket is closing); a handler
/// that does not return is aborted at the bound (its socket closed by then).
/// hixie-76 sockets get their close frame (`FF 00`) and are
/// closed at once, as that protocol has it; hixie-75, which has no close frame,
/// is closed by ending the stream.
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
    /// Sockets whose tasks ended within the bound: the handler returned and the
    /// closing handshake was over (completed, timed out, or failed).
    pub closed: usize,
    /// Sockets whose tasks were still running at the bound (a handler that did
    /// not return, or a closing handshake still waiting for the client's answer)
    /// and were aborted, which closes the connection.
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
    /// Set once the upgrade is done and the socket exists.
    socket: Option<CloseHandle>,
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

    /// Starts the shutdown without waiting: every live socket starts its closing
    /// handshake with 1001 (its task then runs it to the end), new upgrades are
    /// refused, [`triggered`](Shutdown::triggered) futures complete. Calling it
    /// again does nothing.
    pub fn trigger(&self) {
        if self.inner.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        self.inner.trigger_tx.send_replace(true);
        let sockets: Vec<CloseHandle> = self
            .lock()
            .values()
            .filter_map(|entry| entry.socket.clone())
            .collect();
        for socket in sockets {
            // Fails only for a bad code or reason, and these are fine.
            let _ = socket.close(CloseCode::GOING_AWAY, REASON);
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
    /// closing handshake to complete and its handler to return; the handlers
    /// still running then are aborted, which drops their sockets.
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
        F: FnOnce(Tracker) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Entry {
                socket: None,
                abort: None,
            },
        );
        self.inner.live_tx.send_modify(|n| *n += 1);
        let registration = Registration {
            inner: self.inner.clone(),
            id,
        };
        let tracker = Tracker {
            inner: self.inner.clone(),
            id,
        };
        let future = task(tracker);
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

/// A socket task's link to the handle.
#[derive(Debug)]
pub(crate) struct Tracker {
    inner: Arc<Inner>,
    id: u64,
}

impl Tracker {
    /// Runs `task` (the handler, on the socket `socket` closes) until it returns.
    ///
    /// Once the shutdown is triggered, this also drives the socket through its
    /// closing handshake, so it completes while the handler is not reading, and
    /// keeps the socket alive until it is over, so it completes when the handler
    /// returns early (say, because a `send` failed: the socket is closing).
    pub(crate) async fn run(self, socket: CloseHandle, task: impl Future<Output = ()>) {
        if let Some(entry) = lock(&self.inner).get_mut(&self.id) {
            entry.socket = Some(socket.clone());
        }
        let mut task = pin!(task);
        let mut triggered = self.inner.trigger_tx.subscribe();
        let triggered = async move { triggered.wait_for(|triggered| *triggered).await.is_ok() };
        tokio::select! {
            () = &mut task => return,
            // The sender lives in `inner`: it cannot fail.
            ok = triggered => {
                if !ok {
                    return task.await;
                }
            }
        }
        let Some(socket) = socket.keep_alive() else {
            // The handler dropped its socket: nothing left to close.
            return task.await;
        };
        // `trigger` closes the sockets it finds registered; this one may have
        // been registered just after it looked. Closing twice does nothing.
        let _ = socket.close(CloseCode::GOING_AWAY, REASON);
        // How it ended is the handler's to see (`close_frame`).
        let handler_done = {
            let mut closed = pin!(socket.closed());
            tokio::select! {
                () = &mut task => {
                    let _ = closed.await;
                    true
                }
                _ = &mut closed => false,
            }
        };
        // Over: the socket is the handler's again, to drop when it likes.
        drop(socket);
        if !handler_done {
            task.await;
        }
    }
}
