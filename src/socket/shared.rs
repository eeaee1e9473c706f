//! The transport behind one lock, and the routine that pumps it.
//!
//! # What is kept here
//!
//! The [`Driver`] is the connection: its lifecycle (open, closing and who
//! started it, closed with the close frame and the cause), the incoming events,
//! the bytes to write and their count, every timer. This module keeps only what
//! the driver cannot know: the transport and how it ended, the bytes taken from
//! the driver that the transport has not accepted yet, the sleep on the driver's
//! next deadline, the tasks to wake, and the user's [`ping`](super::WebSocket::ping)
//! futures. Every question about the connection is asked of the driver.
//!
//! # Concurrency
//!
//! A socket (or its two halves, or a ping future) is a handle on one [`Shared`]:
//! the transport and the driver behind a `std::sync::Mutex`, taken for the
//! length of one non-blocking `poll` and never across an `.await`. There is no
//! background task: whoever polls moves the connection forward, through
//! [`State::step`], which writes what is queued, fires due timers and, while
//! reading is allowed, reads once. Whatever that step produces for someone else
//! (a message for the reader, the pong a ping future waits for, room in the
//! write buffer) stays in the driver, and that someone is woken.
//!
//! Waiting goes through two [`WakerSet`]s, one per direction. A caller registers
//! its waker in a set *before* polling the transport in that direction, and the
//! transport only ever sees the set's own waker, so the last task to poll the
//! transport never steals the wakeup of another. Wakes happen after the lock is
//! released and skip the task that is polling.
//!
//! # Reading is bounded
//!
//! The driver decodes one event at a time, and [`Driver::buffered_incoming`]
//! counts what it holds that nobody took. While an event waits and that count
//! is at [`Config::message_buffer_size`](super::Config::message_buffer_size),
//! nobody reads the transport, so TCP pushes back on the peer. Events that are
//! not messages (a pong, a ping, the opening) are taken by whoever polls, so a
//! ping future resolves while nobody reads messages, unless messages wait
//! before its pong: those are the user's, and only the reader takes them.

use super::wakers::WakerSet;
use super::Config;
use crate::error::Error;
use crate::protocol::{
    self, Chunk, CloseCause, CloseCode, CloseFrame, Driver, Event, Message, ReadyState, Role,
    Transmit, Version,
};
use bytes::{Buf, Bytes};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The most one read asks the transport for while a frame's payload is read
/// (the driver sizes its buffer for the whole frame, and the memory is not
/// zeroed first, so asking for more costs nothing): a large frame takes few
/// reads, each as much as the kernel holds.
const MAX_READ: usize = 1 << 20;

/// What a read between frames asks for after the transport went quiet. The
/// driver's input is released then (an idle socket holds no read buffer), and
/// the next chunk is fresh memory the driver zeroes once: small, so that a
/// request-response exchange of small messages does not zero kilobytes per
/// message. It doubles while reads fill it, up to the driver's 8 KiB.
const MIN_READ: usize = 1 << 10;

/// The most a read onto the stack takes (see [`State::poll_read_stack`]): the
/// stack memory is not initialized, so its size costs nothing.
const STACK_READ: usize = 4 << 10;

/// Chunks taken from the driver per vectored write.
const MAX_SLICES: usize = 16;

/// The most a `send` leaves unwritten because the next message is already
/// here (see [`State::defers_flush`]): past it, the replies go out.
const MAX_DEFERRED: usize = 64 << 10;

/// After a write fails, the most reads that collect what the transport already
/// holds (the peer's close frame may be in it).
const MAX_DRAIN_READS: usize = 16;

/// What never changes, or changes once, outside the lock.
pub(crate) struct Ctx {
    readers: Arc<WakerSet>,
    writers: Arc<WakerSet>,
    read_waker: Waker,
    write_waker: Waker,
    pub(crate) version: Version,
    /// The negotiated subprotocol, known from construction (server) or once open
    /// (client).
    pub(crate) protocol: OnceLock<Option<Box<str>>>,
    /// [`Config::fragment_size`]: the largest fragment a message writer cuts.
    pub(crate) fragment_size: usize,
}

pub(crate) struct Shared<IO> {
    pub(crate) ctx: Ctx,
    state: Mutex<State<IO>>,
}

/// How far the transport has gone, as only the I/O layer can see it.
enum Transport {
    /// Both directions work.
    Open,
    /// End of stream was read (and given to the driver); writing goes on.
    ReadClosed,
    /// No more I/O: the transport failed (the error says how, should the
    /// connection turn out to have ended uncleanly), or the last bytes were
    /// given up on.
    Done(Option<Error>),
}

/// The transport's shutdown, which the driver asks for once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    No,
    /// Asked for; done once what is being written is written.
    Pending,
    Done,
}

pub(crate) struct State<IO> {
    driver: Driver,
    io: IO,
    /// [`try_write`] for this `IO`.
    try_write: fn(&mut IO, &[u8]) -> Option<usize>,
    transport: Transport,
    /// Chunks taken from the driver's queue that the transport has not accepted
    /// yet (at most [`MAX_SLICES`]): the head of that queue, being written.
    writing: VecDeque<Bytes>,
    needs_flush: bool,
    /// The socket was split: its sender does not read, so its `send` cannot
    /// leave the write to the next read (see [`State::defers_flush`]).
    split: bool,
    /// The reader was just handed a message: the next `send` is its reply,
    /// and may leave the write to the next read (see [`State::defers_flush`]).
    replying: bool,
    shutdown: Shutdown,
    /// Once the driver is closed with bytes still to write: when to give up on a
    /// peer that does not read them. The driver's timers end the connection;
    /// this bounds the transport's last write, which only the I/O layer sees.
    write_deadline: Option<Instant>,
    sleep: Option<Pin<Box<Sleep>>>,
    /// How much the next read between frames asks for: see [`MIN_READ`].
    read_size: usize,
    write_buffer_size: usize,
    message_buffer_size: usize,
    pings: Vec<PingSlot>,
    next_ping: u64,
    /// Bumped by everything that can satisfy a waiter.
    progress: u64,
    wake_readers: bool,
    wake_writers: bool,
}

/// A [`ping`](super::WebSocket::ping) future's pong, once it came.
struct PingSlot {
    id: u64,
    payload: Bytes,
    sent: Instant,
    rtt: Option<Duration>,
}

fn now() -> Instant {
    Instant::now()
}

impl<IO> Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(io: IO, mut driver: Driver, config: &Config) -> Arc<Self> {
        // Nothing reads it from here on: the driver never leaves the socket.
        driver.release_handshake_response();
        let readers = Arc::new(WakerSet::default());
        let writers = Arc::new(WakerSet::default());
        let ctx = Ctx {
            read_waker: Waker::from(readers.clone()),
            write_waker: Waker::from(writers.clone()),
            readers,
            writers,
            version: driver.version(),
            protocol: OnceLock::new(),
            fragment_size: config.get_fragment_size(),
        };
        if driver.role() == Role::Server || driver.ready_state() != ReadyState::Connecting {
            let _ = ctx.protocol.set(driver.protocol().map(Into::into));
        }
        let state = State {
            driver,
            io,
            try_write: try_write::<IO>,
            transport: Transport::Open,
            // Usually one chunk at a time (the driver packs small frames);
            // a queue would start with room for four, kept while idle.
            writing: VecDeque::with_capacity(1),
            needs_flush: false,
            split: false,
            replying: false,
            shutdown: Shutdown::No,
            write_deadline: None,
            sleep: None,
            read_size: MIN_READ,
            write_buffer_size: config.get_write_buffer_size(),
            message_buffer_size: config.get_message_buffer_size(),
            pings: Vec::new(),
            next_ping: 0,
            progress: 0,
            wake_readers: false,
            wake_writers: false,
        };
        Arc::new(Shared {
            ctx,
            state: Mutex::new(state),
        })
    }

    /// Runs `f` under the lock, then wakes whoever `f` made progress for.
    pub(crate) fn with<R>(
        &self,
        me: &Waker,
        f: impl FnOnce(&mut State<IO>, &Ctx, &Waker) -> R,
    ) -> R {
        let mut state = self.lock();
        let r = f(&mut state, &self.ctx, me);
        let (readers, writers) = (state.wake_readers, state.wake_writers);
        state.wake_readers = false;
        state.wake_writers = false;
        drop(state);
        if readers {
            self.ctx.readers.wake_others(me);
        }
        if writers {
            self.ctx.writers.wake_others(me);
        }
        r
    }

    /// Runs `f` under the lock with no task to wake (commands that do no I/O).
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut State<IO>, &Ctx) -> R) -> R {
        self.with(Waker::noop(), |s, ctx, _| f(s, ctx))
    }

    // ---- the operations the public handles are made of ----------------------

    /// The reader: the next message, or the error the connection failed with,
    /// or the end once the closing handshake is over and our last bytes are out.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            match s.driver.poll_event() {
                Some(Event::Message(message)) => {
                    if s.driver.buffered_incoming() + message.len() >= s.message_buffer_size {
                        // Whoever stopped reading at the bound may read again.
                        s.wake_readers = true;
                    }
                    s.replying = true;
                    return Poll::Ready(Some(Ok(message)));
                }
                Some(Event::Error(error)) => {
                    // The close frame decoding just queued leaves now: the user
                    // may drop the socket on seeing the error.
                    s.write(ctx, me);
                    return Poll::Ready(Some(Err(error.into())));
                }
                Some(Event::Close(_)) => {
                    s.bump();
                    // The transport's end is the error only when it cut the
                    // connection short; after a close frame it is the end.
                    if let Some(CloseCause::Eof) = s.driver.close_cause() {
                        s.write(ctx, me);
                        return Poll::Ready(Some(Err(s.eof_error())));
                    }
                }
                Some(event) => s.on_control(ctx, event),
                None => {
                    if s.reading_done() && s.output_done() {
                        return Poll::Ready(None);
                    }
                    if !s.step(ctx, me) {
                        return Poll::Pending;
                    }
                }
            }
        })
    }

    /// Waits for room in the write buffer.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.check_can_send()?;
            if s.room_for_message() {
                return Poll::Ready(Ok(()));
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }

    pub(crate) fn start_send(&self, message: Message) -> Result<(), Error> {
        self.with_state(|s, _| {
            s.replying = false;
            s.send_message(message)
        })
    }

    /// Writes and flushes everything queued.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.replying = false;
            if let Transport::Done(Some(error)) = &s.transport {
                return Poll::Ready(Err(error.clone()));
            }
            if s.output_done() {
                return Poll::Ready(Ok(()));
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }

    /// `poll_ready`, `start_send` and `poll_flush` under one lock: the inherent
    /// `send`. `message` is taken once it is queued.
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        message: &mut Option<Message>,
    ) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            if message.is_some() {
                s.check_can_send()?;
                if s.room_for_message() {
                    let m = message.take().expect("checked");
                    s.send_message(m)?;
                    continue;
                }
            } else {
                if let Transport::Done(Some(error)) = &s.transport {
                    return Poll::Ready(Err(error.clone()));
                }
                if s.output_done() || s.defers_flush() {
                    return Poll::Ready(Ok(()));
                }
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }

    pub(crate) fn start_close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.with_state(|s, _| match s.driver.ready_state() {
            ReadyState::Connecting | ReadyState::Open => {
                s.command(|d, now| d.close(code, reason, now))?;
                // The reader's stream now ends with the closing handshake.
                s.bump();
                Ok(())
            }
            // The first close wins.
            ReadyState::Closing | ReadyState::Closed => Ok(()),
        })
    }

    /// Waits for the end of the closing handshake and the transport's shutdown.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<Result<CloseFrame, Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.take_controls(ctx);
            if s.is_over() {
                return Poll::Ready(s.outcome());
            }
            // Waiting for the peer's answer to our close frame: messages sent
            // before it are kept for the reader up to the bound, and dropped
            // beyond it so that the answer can be read.
            if s.driver.close_sent().is_some()
                && s.driver.close_received().is_none()
                && s.reading_paused()
                && matches!(s.driver.peek_event(), Some(Event::Message(_)))
            {
                s.driver.poll_event();
                s.bump();
                continue;
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }

    /// Waits for the opening handshake to finish.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.take_controls(ctx);
            match s.driver.ready_state() {
                ReadyState::Connecting => {}
                ReadyState::Open | ReadyState::Closing => return Poll::Ready(Ok(())),
                ReadyState::Closed => {
                    return Poll::Ready(match s.driver.close_cause() {
                        // It opened, then closed cleanly (or is closing).
                        Some(CloseCause::Clean) | None => Ok(()),
                        Some(_) => Err(s.end_error()),
                    });
                }
            }
            if let Transport::Done(Some(error)) = &s.transport {
                return Poll::Ready(Err(error.clone()));
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }

    /// Queues a ping; the id names its slot for [`poll_pong`](Shared::poll_pong).
    pub(crate) fn start_ping(&self, payload: Bytes) -> Result<u64, Error> {
        self.with_state(|s, _| {
            s.command(|d, _| d.ping(payload.clone()))?;
            let id = s.next_ping;
            s.next_ping += 1;
            s.pings.push(PingSlot {
                id,
                payload,
                sent: now(),
                rtt: None,
            });
            Ok(id)
        })
    }

    pub(crate) fn poll_pong(&self, cx: &mut Context<'_>, id: u64) -> Poll<Result<Duration, Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.take_controls(ctx);
            let Some(i) = s.pings.iter().position(|p| p.id == id) else {
                return Poll::Ready(Err(Error::closed()));
            };
            if let Some(rtt) = s.pings[i].rtt {
                s.pings.swap_remove(i);
                return Poll::Ready(Ok(rtt));
            }
            if s.driver.close_cause().is_some() {
                s.pings.swap_remove(i);
                return Poll::Ready(Err(s.end_error()));
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }
}

// ---- streaming send hook (messages sent in fragments): begin ----
impl<IO> State<IO> {
    /// A whole message may be queued: the write buffer is at or below its
    /// high-water mark and no message is being sent in fragments (the peer
    /// could receive nothing else until it ends, so whole messages wait for it).
    fn room_for_message(&self) -> bool {
        self.queued() <= self.write_buffer_size && self.driver.sending_message().is_none()
    }
}

impl<IO> Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Opens a message to be sent in fragments.
    pub(crate) fn start_message(
        &self,
        kind: protocol::MessageKind,
    ) -> Result<protocol::OutgoingMessage, Error> {
        self.with_state(|s, _| {
            s.check_can_send()?;
            s.command(|d, _| d.start_message(kind))
        })
    }

    /// Waits for room in the write buffer, then queues `piece` as a fragment
    /// of `message` (the last one, with FIN, when `fin`; the message is then
    /// taken) and starts writing it. A refused last piece leaves `message` in
    /// place. Whole messages waiting for this one to end are woken when it does.
    pub(crate) fn poll_fragment(
        &self,
        cx: &mut Context<'_>,
        message: &mut Option<protocol::OutgoingMessage>,
        piece: &Bytes,
        fin: bool,
    ) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.check_can_send()?;
            if s.queued() <= s.write_buffer_size {
                let Some(m) = message.as_mut() else {
                    return Poll::Ready(Err(Error::closed()));
                };
                if fin {
                    let m = message.take().expect("checked");
                    if let Err(unfinished) =
                        s.command(|d, _| Ok(d.finish_message(m, piece.clone())))?
                    {
                        let (m, error) = unfinished.into_parts();
                        *message = Some(m);
                        return Poll::Ready(Err(error.into()));
                    }
                    // Senders of whole messages may go on.
                    s.bump();
                    s.wake_writers = true;
                } else {
                    s.command(|d, _| d.send_fragment(m, piece.clone()))?;
                }
                s.write(ctx, me);
                return Poll::Ready(Ok(()));
            }
            if !s.step(ctx, me) {
                return Poll::Pending;
            }
        })
    }
}

impl<IO> Shared<IO> {
    /// Gives up on `message` (see [`Driver::abort_message`]) and wakes whoever
    /// waits on the socket, to write the close frame.
    pub(crate) fn abort_message(&self, message: protocol::OutgoingMessage) {
        {
            let mut s = self.lock();
            s.driver.abort_message(message, now().into_std());
            // What `bump` does; the wakes follow, for every waiter.
            s.progress += 1;
        }
        self.wake_all();
    }
}
// ---- streaming send hook: end ----

// ---- hub hook (prepared messages): begin ----
/// Why [`Shared::try_send_prepared`] did not queue a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The write buffer is above its high-water mark.
    Full,
    /// The connection can no longer send.
    Closed,
}

impl<IO> Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Queues a prepared message if the write buffer is at or below its
    /// high-water mark, without waiting and without I/O. Whoever drives the socket
    /// (its reader, a waiting send) is woken to write it, once per burst: if bytes
    /// were already queued, a wakeup is on its way (or the transport's writable
    /// waker is armed), and what is queued now leaves in the same write.
    pub(crate) fn try_send_prepared(
        &self,
        message: &protocol::PreparedMessage,
    ) -> Result<(), Refused> {
        let mut s = self.lock();
        if s.check_can_send().is_err() {
            return Err(Refused::Closed);
        }
        let idle = s.queued() == 0;
        if !s.room_for_message() {
            return Err(Refused::Full);
        }
        s.driver
            .send_prepared(message)
            .map_err(|_| Refused::Closed)?;
        drop(s);
        if idle {
            // Every task driving the socket registers with the readers (see
            // `State::step`), whatever it waits for.
            self.ctx.readers.wake_all();
        }
        Ok(())
    }
}
// ---- hub hook: end ----

// ---- stream_recv hook: messages read in pieces (see `stream_recv.rs`) ----
impl<IO> Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// The reader of pieces: the next [`Chunk`] of a message (or its start or
    /// end), as [`poll_next`](Shared::poll_next) is for whole messages; the
    /// error the connection failed with; or the end, as `poll_next` ends.
    pub(crate) fn poll_chunk(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk, Error>>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            match s.driver.poll_chunk() {
                Some(Chunk::Event(Event::Error(error))) => {
                    s.write(ctx, me);
                    return Poll::Ready(Some(Err(error.into())));
                }
                Some(Chunk::Event(Event::Close(_))) => {
                    s.bump();
                    if let Some(CloseCause::Eof) = s.driver.close_cause() {
                        s.write(ctx, me);
                        return Poll::Ready(Some(Err(s.eof_error())));
                    }
                }
                Some(Chunk::Event(event)) => s.on_control(ctx, event),
                Some(chunk) => {
                    // Whoever stopped reading at the bound may read again.
                    s.wake_readers = true;
                    return Poll::Ready(Some(Ok(chunk)));
                }
                None => {
                    if s.reading_done() && s.output_done() {
                        return Poll::Ready(None);
                    }
                    if !s.step(ctx, me) {
                        return Poll::Pending;
                    }
                }
            }
        })
    }
}

impl<IO> Shared<IO> {
    /// The reader of pieces gives its message up (see [`Driver::discard_message`]).
    pub(crate) fn discard_message(&self) {
        self.lock().driver.discard_message();
        // A reader may be waiting behind the pieces just dropped.
        self.ctx.readers.wake_all();
    }

    /// The limit on the message being read in pieces (see
    /// [`Driver::set_message_limit`]).
    pub(crate) fn set_message_limit(&self, limit: usize) {
        self.lock().driver.set_message_limit(limit);
    }
}
// ---- stream_recv hook: end ----

impl<IO> Shared<IO> {
    fn lock(&self) -> MutexGuard<'_, State<IO>> {
        // A panic while the lock was held leaves the state as consistent as any
        // single poll does; carrying on beats poisoning every handle.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The socket was split into halves (`true`) or put back together.
    pub(crate) fn set_split(&self, split: bool) {
        self.lock().split = split;
    }

    /// Wakes every task waiting on the socket, in either direction.
    pub(crate) fn wake_all(&self) {
        self.ctx.readers.wake_all();
        self.ctx.writers.wake_all();
    }

    /// The connection is over: the closing handshake is done (a client may still
    /// wait for the server to close the transport), or the transport is done.
    pub(crate) fn is_closed(&self) -> bool {
        let s = self.lock();
        matches!(s.transport, Transport::Done(_)) || s.driver.ready_state() == ReadyState::Closed
    }

    pub(crate) fn forget_ping(&self, id: u64) {
        self.lock().pings.retain(|p| p.id != id);
    }

    pub(crate) fn close_frame(&self) -> Option<CloseFrame> {
        let s = self.lock();
        match s.driver.state() {
            protocol::ConnectionState::Closed { frame, .. } => Some(frame),
            // A client's closing handshake is done before the server closes the
            // transport.
            _ => s.driver.close_received().cloned(),
        }
    }

    pub(crate) fn state(&self) -> ReadyState {
        self.lock().driver.ready_state()
    }

    pub(crate) fn buffered_amount(&self) -> usize {
        self.lock().queued()
    }

    pub(crate) fn buffered_incoming(&self) -> usize {
        self.lock().driver.buffered_incoming()
    }
}

impl<IO> State<IO> {
    /// Bytes waiting to be written, the write buffer's fill: the driver's queue
    /// and the part of it being written.
    pub(crate) fn queued(&self) -> usize {
        self.driver.buffered_amount() + self.writing.iter().map(Bytes::len).sum::<usize>()
    }
}

impl<IO> Drop for Shared<IO> {
    fn drop(&mut self) {
        // Tell pending ping futures and close handles (which hold weak
        // references) that it is over.
        self.wake_all();
    }
}

impl<IO> State<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// Makes every bit of progress possible without waiting, registering `me`
    /// for what it would wait on. Returns whether anything changed that a waiter
    /// could be waiting for; `false` means `me` will be woken.
    pub(crate) fn step(&mut self, ctx: &Ctx, me: &Waker) -> bool {
        let before = self.progress;
        self.write(ctx, me);
        if self.progress != before {
            // Maybe that was all the caller waited for: let it check before
            // registering for (and paying for) a read.
            return true;
        }
        // Every waiter waits on protocol progress, timers included.
        ctx.readers.register(me);
        self.poll_timer(ctx);
        if self.may_read() {
            self.poll_read(ctx);
            // What the read produced (pongs, a close echo, a hixie-76 answer)
            // goes out now, in one write, not when the user next polls.
            self.take_controls(ctx);
            self.write(ctx, me);
        }
        self.progress != before
    }

    /// Writes what is queued, registering `me` to hear when more can be written.
    /// Registration precedes the poll it is for, so no wakeup falls between.
    fn write(&mut self, ctx: &Ctx, me: &Waker) {
        if !self.output_done() {
            ctx.writers.register(me);
            self.poll_write(ctx);
        }
    }

    /// Runs a driver command at the current time.
    fn command<T>(
        &mut self,
        f: impl FnOnce(&mut Driver, std::time::Instant) -> Result<T, protocol::Error>,
    ) -> Result<T, Error> {
        if let Transport::Done(Some(error)) = &self.transport {
            return Err(error.clone());
        }
        f(&mut self.driver, now().into_std()).map_err(Error::from)
    }

    /// [`command`](State::command) for `Driver::send`, which needs no time:
    /// a message costs no clock read.
    fn send_message(&mut self, message: Message) -> Result<(), Error> {
        if let Transport::Done(Some(error)) = &self.transport {
            return Err(error.clone());
        }
        self.driver.send(message).map_err(Error::from)
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if let Transport::Done(Some(error)) = &self.transport {
            return Err(error.clone());
        }
        match self.driver.ready_state() {
            ReadyState::Connecting | ReadyState::Open => Ok(()),
            ReadyState::Closing | ReadyState::Closed => Err(Error::closed()),
        }
    }

    /// Takes the events at the head of the driver's queue that are nobody's
    /// message: the opening, pings (the driver queued the pong), pongs (for the
    /// ping futures). Messages, errors and the close are the reader's.
    fn take_controls(&mut self, ctx: &Ctx) {
        while let Some(Event::Open | Event::Ping(_) | Event::Pong(_)) = self.driver.peek_event() {
            let event = self.driver.poll_event().expect("peeked");
            self.on_control(ctx, event);
        }
    }

    fn on_control(&mut self, ctx: &Ctx, event: Event) {
        self.bump();
        match event {
            Event::Open => {
                let _ = ctx.protocol.set(self.driver.protocol().map(Into::into));
            }
            Event::Pong(payload) => {
                let now = now();
                if let Some(slot) = self
                    .pings
                    .iter_mut()
                    .filter(|p| p.rtt.is_none() && p.payload == payload)
                    .min_by_key(|p| p.id)
                {
                    slot.rtt = Some(now.duration_since(slot.sent));
                }
            }
            _ => {}
        }
    }

    /// Whether a `send` on the unsplit socket may return with its message
    /// queued but not written: it is the first since the reader took a
    /// message, and the driver already holds the next event, so the caller's
    /// next `recv` returns at once, and the replies to every frame of
    /// one read leave together, in one write, when the reader finds nothing
    /// more decoded (before it reads again), or when a `send` finds no next
    /// event. Bounded by [`MAX_DEFERRED`] and the write buffer; `flush`,
    /// `close`, a ping and dropping the socket write at once. A lone message
    /// (nothing behind it) is written by its `send` as before.
    fn defers_flush(&mut self) -> bool {
        // Only the first send after a message was taken: a socket that sends
        // without reading (messages piling up unread) writes every send.
        std::mem::take(&mut self.replying)
            && !self.split
            && matches!(self.transport, Transport::Open | Transport::ReadClosed)
            && self.queued() <= MAX_DEFERRED.min(self.write_buffer_size)
            && self.driver.peek_event().is_some()
    }

    /// Whether an event waits that nobody took, with the driver holding as much
    /// as the message buffer allows: reading waits for the user.
    fn reading_paused(&mut self) -> bool {
        self.driver.buffered_incoming() >= self.message_buffer_size
            && (self.driver.peek_event().is_some() || self.driver.chunk_waiting())
    }

    fn may_read(&mut self) -> bool {
        matches!(self.transport, Transport::Open)
            && self.driver.close_cause().is_none()
            && !self.reading_paused()
    }

    /// The reader has seen everything: the driver is closed, or (a client) the
    /// peer's close frame came and only the end of the transport remains.
    fn reading_done(&self) -> bool {
        self.driver.close_cause().is_some() || self.driver.close_received().is_some()
    }

    /// Everything queued is written and flushed, and a requested shutdown done.
    fn output_done(&self) -> bool {
        match self.transport {
            Transport::Done(_) => true,
            _ => {
                self.writing.is_empty()
                    && self.driver.buffered_amount() == 0
                    && !self.needs_flush
                    && self.shutdown != Shutdown::Pending
                    // Closed, the driver still has the shutdown to hand out.
                    && (self.driver.close_cause().is_none() || self.driver.is_finished())
            }
        }
    }

    /// The connection is over for the close waiters: the driver is closed and
    /// its last bytes are out (or given up on).
    fn is_over(&self) -> bool {
        self.driver.close_cause().is_some() && self.output_done()
    }

    /// What a close waiter gets once it is over: the close frame after a clean
    /// end, the cause otherwise.
    fn outcome(&self) -> Result<CloseFrame, Error> {
        match self.driver.state() {
            protocol::ConnectionState::Closed {
                frame,
                cause: CloseCause::Clean | CloseCause::Abandoned,
            } => Ok(frame),
            _ => Err(self.end_error()),
        }
    }

    /// Why the connection is over, for those who learn it from a failed call.
    fn end_error(&self) -> Error {
        match self.driver.close_cause() {
            Some(CloseCause::Error(e) | CloseCause::Handshake(e)) => Error::from(e.clone()),
            Some(CloseCause::Timeout) => {
                Error::from(protocol::Error::new(protocol::ErrorKind::CloseTimeout))
            }
            Some(CloseCause::Eof) => self.eof_error(),
            _ => Error::closed(),
        }
    }

    /// The transport ended the connection before its closing handshake: how.
    fn eof_error(&self) -> Error {
        match &self.transport {
            Transport::Done(Some(error)) => error.clone(),
            _ => Error::unexpected_eof(),
        }
    }

    fn bump(&mut self) {
        self.progress += 1;
        self.wake_readers = true;
    }

    /// The transport failed. Writing stops at once; what the read side already
    /// holds is still given to the driver, as it may be the peer's close frame
    /// (a peer that closed and went away makes the write of our echo fail):
    /// after it, the end of the transport is the clean end it announced.
    fn fail_transport(&mut self, ctx: &Ctx, error: io::Error, reading: bool) {
        self.transport = Transport::Done(Some(Error::from(error)));
        self.writing.clear();
        if !reading {
            let mut cx = Context::from_waker(&ctx.read_waker);
            for _ in 0..MAX_DRAIN_READS {
                let chunk = self.driver.input_chunk(MAX_READ);
                let mut buf = ReadBuf::new(chunk);
                match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
                    Poll::Ready(Ok(())) if !buf.filled().is_empty() => {
                        let n = buf.filled().len();
                        self.driver.commit(n, now().into_std());
                    }
                    _ => break,
                }
            }
        }
        self.driver.receive_eof(now().into_std());
        self.discard_output();
    }

    /// Drops what can no longer be written.
    fn discard_output(&mut self) {
        self.writing.clear();
        while self.driver.poll_transmit().is_some() {}
        self.bump();
        self.wake_writers = true;
    }

    fn poll_timer(&mut self, ctx: &Ctx) {
        if self.write_deadline.is_none()
            && self.driver.close_cause().is_some()
            && !self.output_done()
        {
            let timeout = self.driver.options().get_close_timeout();
            self.write_deadline = Some(now() + timeout);
        }
        let driver = self.driver.poll_timeout().map(Instant::from_std);
        let deadline = match (driver, self.write_deadline) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(deadline) => deadline,
                None => return,
            },
        };
        let fired = deadline <= now() || {
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if sleep.deadline() != deadline {
                sleep.as_mut().reset(deadline);
            }
            let mut cx = Context::from_waker(&ctx.read_waker);
            sleep.as_mut().poll(&mut cx).is_ready()
        };
        if !fired {
            return;
        }
        let now = now();
        if driver.is_some_and(|d| d <= now) {
            self.driver.handle_timeout(now.into_std());
            if let Some(CloseCause::Timeout) = self.driver.close_cause() {
                // The peer did not answer our close frame: it will not read the
                // rest either.
                self.give_up_writing();
            }
        }
        if self.write_deadline.is_some_and(|d| d <= now) {
            // Once: what is left to write is dropped, so it is not armed again.
            self.write_deadline = None;
            if !self.output_done() {
                self.give_up_writing();
            }
        }
        self.bump();
    }

    /// The connection is over but its last bytes cannot be written (a peer
    /// that stopped reading): give up on them rather than wait forever.
    fn give_up_writing(&mut self) {
        if !matches!(self.transport, Transport::Done(_)) {
            self.transport = Transport::Done(None);
        }
        self.discard_output();
    }

    /// Writes the queue, vectored, then flushes, then shuts the transport down if
    /// the driver asked to.
    fn poll_write(&mut self, ctx: &Ctx) {
        if let Transport::Done(_) = self.transport {
            return self.discard_output();
        }
        let mut cx = Context::from_waker(&ctx.write_waker);
        loop {
            while self.writing.len() < MAX_SLICES {
                match self.driver.poll_transmit() {
                    Some(Transmit::Data(bytes)) => self.writing.push_back(bytes),
                    Some(Transmit::Shutdown) => self.shutdown = Shutdown::Pending,
                    None => break,
                }
            }
            if self.writing.is_empty() {
                break;
            }
            let io = Pin::new(&mut self.io);
            let result = if self.writing.len() > 1 && io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                for (slice, chunk) in slices.iter_mut().zip(&self.writing) {
                    *slice = IoSlice::new(chunk);
                }
                io.poll_write_vectored(&mut cx, &slices[..self.writing.len()])
            } else {
                io.poll_write(&mut cx, &self.writing[0])
            };
            match result {
                Poll::Pending => return,
                Poll::Ready(Ok(0)) => {
                    return self.fail_transport(ctx, io::ErrorKind::WriteZero.into(), false);
                }
                Poll::Ready(Ok(n)) => self.consume(n),
                Poll::Ready(Err(e)) => return self.fail_transport(ctx, e, false),
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(&mut cx) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return self.fail_transport(ctx, e, false),
            }
        }
        if self.shutdown == Shutdown::Pending {
            match Pin::new(&mut self.io).poll_shutdown(&mut cx) {
                Poll::Pending => return,
                // The peer may have gone already; the connection is over either way.
                Poll::Ready(_) => {
                    self.shutdown = Shutdown::Done;
                    self.bump();
                }
            }
        }
        if self.writing.capacity() > MAX_SLICES {
            self.writing = VecDeque::new();
        }
    }

    fn consume(&mut self, mut n: usize) {
        self.needs_flush = true;
        self.progress += 1;
        self.wake_writers = true;
        while n > 0 {
            let front = &mut self.writing[0];
            if n >= front.len() {
                n -= front.len();
                self.writing.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// One read from the transport, in place into the driver's input, or,
    /// while the driver holds no input buffer, onto the stack first.
    fn poll_read(&mut self, ctx: &Ctx) {
        let mut cx = Context::from_waker(&ctx.read_waker);
        let between_frames = self.driver.read_hint() == 0;
        if between_frames && self.driver.input_capacity() == 0 {
            return self.poll_read_stack(ctx);
        }
        let max = if between_frames {
            self.read_size
        } else {
            MAX_READ
        };
        // Not zeroed: `ReadBuf` keeps track of what the read initialized.
        let spare = self.driver.input_spare(max);
        let asked = spare.len();
        let start = spare.as_ptr().cast::<u8>();
        let mut buf = ReadBuf::uninit(spare);
        match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
            Poll::Pending => {
                // Quiet: an idle socket holds no read buffer.
                self.driver.shrink_input();
                self.read_size = MIN_READ;
                return;
            }
            // A reader may put a `ReadBuf` of its own in place of ours (safe
            // code can): what it filled is then not in the driver's memory.
            Poll::Ready(Ok(())) if !buf.filled().is_empty() && buf.filled().as_ptr() != start => {
                let error = io::Error::other("the transport's read replaced its buffer");
                self.fail_transport(ctx, error, true);
            }
            Poll::Ready(Ok(())) => match buf.filled().len() {
                0 => {
                    self.transport = Transport::ReadClosed;
                    self.driver.receive_eof(now().into_std());
                }
                n => {
                    if between_frames && n == asked {
                        self.read_size = (self.read_size * 2).min(MAX_READ);
                    }
                    // SAFETY: the `n` bytes `buf` filled start at `start` (checked
                    // above), the start of the slice `input_spare` handed out, and
                    // `ReadBuf` guarantees its filled part is initialized. Nothing
                    // called the driver in between.
                    unsafe { self.driver.commit_init(n, now().into_std()) };
                }
            },
            Poll::Ready(Err(e)) => self.fail_transport(ctx, e, true),
        }
        self.bump();
    }
}

impl<IO> State<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    /// A read while the driver holds no input buffer (the transport went quiet
    /// after the last one): into uninitialized stack memory, so that the read
    /// that finds nothing (most of them, for request-response traffic) costs no
    /// buffer, and one that brings a message costs the driver an allocation of
    /// its size, not a zeroed chunk it then releases.
    fn poll_read_stack(&mut self, ctx: &Ctx) {
        let mut cx = Context::from_waker(&ctx.read_waker);
        let mut stack = [MaybeUninit::<u8>::uninit(); STACK_READ];
        let mut buf = ReadBuf::uninit(&mut stack);
        match Pin::new(&mut self.io).poll_read(&mut cx, &mut buf) {
            Poll::Pending => {
                self.read_size = MIN_READ;
                return;
            }
            Poll::Ready(Ok(())) => match buf.filled() {
                [] => {
                    self.transport = Transport::ReadClosed;
                    self.driver.receive_eof(now().into_std());
                }
                data => {
                    if data.len() == STACK_READ {
                        // A flood: the next reads go in place, and grow.
                        self.read_size = (STACK_READ * 2).min(MAX_READ);
                    }
                    self.driver.receive(data, now().into_std());
                }
            },
            Poll::Ready(Err(e)) => self.fail_transport(ctx, e, true),
        }
        self.bump();
    }
}

/// Ends the connection as well as can be done without waiting: a close frame
/// (1001) if it is still open, then whatever is left to write (a close frame
/// the user did not wait for, after an error), written if the transport takes
/// it now. Dropping the transport then closes it.
impl<IO> Drop for State<IO> {
    fn drop(&mut self) {
        if matches!(self.transport, Transport::Done(_)) {
            return;
        }
        match self.driver.ready_state() {
            // Nothing was said yet that is worth finishing.
            ReadyState::Connecting => return,
            ReadyState::Open => {
                let _ = self
                    .driver
                    .close(CloseCode::GOING_AWAY, "", now().into_std());
            }
            ReadyState::Closing | ReadyState::Closed => {}
        }
        let mut pending: Vec<Bytes> = self.writing.drain(..).collect();
        while let Some(Transmit::Data(bytes)) = self.driver.poll_transmit() {
            pending.push(bytes);
        }
        for chunk in pending {
            let mut chunk = &chunk[..];
            while !chunk.is_empty() {
                match (self.try_write)(&mut self.io, chunk) {
                    Some(n) if n > 0 => chunk = &chunk[n..],
                    _ => return,
                }
            }
        }
    }
}

/// One write that does not wait, for `Drop`, which cannot name the transport's
/// traits (the socket types carry no bounds): captured where they are known.
fn try_write<IO: AsyncWrite + Unpin>(io: &mut IO, buf: &[u8]) -> Option<usize> {
    let mut cx = Context::from_waker(Waker::noop());
    match Pin::new(io).poll_write(&mut cx, buf) {
        Poll::Ready(Ok(n)) => Some(n),
        _ => None,
    }
}
