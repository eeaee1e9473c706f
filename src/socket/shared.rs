//! The connection's state behind one lock, and the routine that moves it forward.
//!
//! # Concurrency
//!
//! A socket (or its two halves, or a ping future) is a handle on one [`Shared`]:
//! the transport, the driver and the buffers behind a `std::sync::Mutex`, taken
//! for the length of one non-blocking `poll` and never across an `.await`. There
//! is no background task: whoever polls moves the connection forward, through
//! [`State::step`], which fires due timers, writes what is queued and, when the
//! caller may wait for input, reads once. Whatever that step produces for someone
//! else (a message for the reader, the pong a ping future waits for, room in the
//! write buffer) is left in the state, and that someone is woken.
//!
//! Waiting goes through two [`WakerSet`]s, one per direction. A caller registers
//! its waker in a set *before* polling the transport in that direction, and the
//! transport only ever sees the set's own waker, so the last task to poll the
//! transport never steals the wakeup of another. Wakes happen after the lock is
//! released and skip the task that is polling.

use super::wakers::WakerSet;
use super::Config;
use crate::error::Error;
use crate::protocol::{
    self, CloseCode, CloseFrame, Driver, Event, Message, ReadyState, Transmit, Version,
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

/// Reads go through a stack buffer of this size while no large frame is in
/// flight, so an idle connection holds no read buffer at all.
const SMALL_READ: usize = 8 << 10;

/// The most a single read asks for when reading a large frame in place.
const LARGE_READ: usize = 64 << 10;

/// Buffers taken from the driver per vectored write.
const MAX_SLICES: usize = 16;

/// What a buffered message costs beyond its payload, so that a flood of empty
/// messages is bounded too.
const MESSAGE_OVERHEAD: usize = 64;

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
}

pub(crate) struct Shared<IO> {
    pub(crate) ctx: Ctx,
    state: Mutex<State<IO>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shutdown {
    No,
    /// The driver asked for it; it happens once the queue is written.
    Pending,
    Done,
}

pub(crate) struct State<IO> {
    io: IO,
    /// [`try_write`] for this `IO`.
    try_write: fn(&mut IO, &[u8]) -> Option<usize>,
    driver: Driver,
    write_buffer_size: usize,
    message_buffer_size: usize,
    /// Bytes taken from the driver, not yet written.
    out: VecDeque<Bytes>,
    out_len: usize,
    needs_flush: bool,
    shutdown: Shutdown,
    /// Estimate (never below the truth) of automatic replies (pongs) queued
    /// because of what we read. Reading pauses above the write buffer size, so a
    /// peer that pings without reading cannot make us queue pongs without bound.
    replies: usize,
    incoming: VecDeque<Message>,
    incoming_len: usize,
    /// For the reader, once, before the stream ends.
    error: Option<Error>,
    /// What ended the connection, for everyone else (pings, close, send).
    failure: Option<Error>,
    close_frame: Option<CloseFrame>,
    /// The driver reported `Event::Close`.
    closed: bool,
    /// We started the closing handshake: messages past the buffer are dropped
    /// rather than stop the reading that the close frame needs.
    closing: bool,
    opened: bool,
    /// End of stream read from the transport.
    eof: bool,
    /// The transport failed: no more I/O.
    broken: bool,
    reader_done: bool,
    pings: Vec<PingSlot>,
    next_ping: u64,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Once closed: when to stop waiting for the last bytes to be written.
    linger: Option<Instant>,
    /// Bumped by everything that can satisfy a waiter.
    progress: u64,
    wake_readers: bool,
    wake_writers: bool,
}

struct PingSlot {
    id: u64,
    payload: Bytes,
    sent: Instant,
    result: Option<Result<Duration, Error>>,
}

fn now() -> Instant {
    Instant::now()
}

impl<IO> Shared<IO>
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(io: IO, driver: Driver, config: &Config) -> Arc<Self> {
        let readers = Arc::new(WakerSet::default());
        let writers = Arc::new(WakerSet::default());
        let ctx = Ctx {
            read_waker: Waker::from(readers.clone()),
            write_waker: Waker::from(writers.clone()),
            readers,
            writers,
            version: driver.version(),
            protocol: OnceLock::new(),
        };
        if driver.role() == protocol::Role::Server || driver.ready_state() == ReadyState::Open {
            let _ = ctx.protocol.set(driver.protocol().map(Into::into));
        }
        let mut state = State {
            io,
            try_write: try_write::<IO>,
            driver,
            write_buffer_size: config.get_write_buffer_size(),
            message_buffer_size: config.get_message_buffer_size(),
            out: VecDeque::new(),
            out_len: 0,
            needs_flush: false,
            shutdown: Shutdown::No,
            replies: 0,
            incoming: VecDeque::new(),
            incoming_len: 0,
            error: None,
            failure: None,
            close_frame: None,
            closed: false,
            closing: false,
            opened: false,
            eof: false,
            broken: false,
            reader_done: false,
            pings: Vec::new(),
            next_ping: 0,
            sleep: None,
            linger: None,
            progress: 0,
            wake_readers: false,
            wake_writers: false,
        };
        // Start the driver's clock (idle and keepalive timers count from here); a
        // driver handed over mid-handshake may hold events already (Open,
        // messages that came with the handshake).
        state.driver.handle_timeout(now().into_std());
        state.take_events(&ctx);
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

    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            if s.reader_done {
                return Poll::Ready(None);
            }
            if let Some(message) = s.pop_message() {
                return Poll::Ready(Some(Ok(message)));
            }
            if let Some(error) = s.error.take() {
                return Poll::Ready(Some(Err(error)));
            }
            if s.closed && s.output_done() {
                s.reader_done = true;
                return Poll::Ready(None);
            }
            if !s.step(ctx, me, true) {
                return Poll::Pending;
            }
        })
    }

    /// Waits for room in the write buffer.
    pub(crate) fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            s.check_can_send()?;
            if s.queued() <= s.write_buffer_size {
                return Poll::Ready(Ok(()));
            }
            if !s.step(ctx, me, false) {
                return Poll::Pending;
            }
        })
    }

    pub(crate) fn start_send(&self, message: Message) -> Result<(), Error> {
        self.with_state(|s, ctx| s.command(ctx, |d| d.send(message)))
    }

    /// Writes and flushes everything queued.
    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            if s.broken {
                return Poll::Ready(Err(s.failure_or_closed()));
            }
            if s.output_done() {
                return Poll::Ready(Ok(()));
            }
            if !s.step(ctx, me, false) {
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
                if s.queued() <= s.write_buffer_size {
                    let m = message.take().expect("checked");
                    s.command(ctx, |d| d.send(m))?;
                    continue;
                }
            } else {
                if s.broken {
                    return Poll::Ready(Err(s.failure_or_closed()));
                }
                if s.output_done() {
                    return Poll::Ready(Ok(()));
                }
            }
            if !s.step(ctx, me, false) {
                return Poll::Pending;
            }
        })
    }

    pub(crate) fn start_close(&self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.with_state(|s, ctx| {
            if let ReadyState::Open | ReadyState::Connecting = s.driver.ready_state() {
                s.command(ctx, |d| d.close(code, reason, now().into_std()))?;
            }
            // From here on, reading serves the closing handshake first.
            s.closing = true;
            Ok(())
        })
    }

    /// Waits for the end of the closing handshake and the transport's shutdown.
    pub(crate) fn poll_closed(&self, cx: &mut Context<'_>) -> Poll<Result<CloseFrame, Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            if s.broken || (s.driver.is_finished() && s.output_done()) {
                if let Some(failure) = &s.failure {
                    return Poll::Ready(Err(failure.clone()));
                }
                return Poll::Ready(match &s.close_frame {
                    Some(frame) => Ok(frame.clone()),
                    None => Err(Error::closed()),
                });
            }
            if !s.step(ctx, me, false) {
                return Poll::Pending;
            }
        })
    }

    /// Waits for the opening handshake to finish.
    pub(crate) fn poll_open(&self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            if s.opened {
                return Poll::Ready(Ok(()));
            }
            if s.closed || s.broken {
                return Poll::Ready(Err(s.failure_or_closed()));
            }
            if !s.step(ctx, me, false) {
                return Poll::Pending;
            }
        })
    }

    /// Queues a ping; the id names its slot for [`poll_pong`](Shared::poll_pong).
    pub(crate) fn start_ping(&self, payload: Bytes) -> Result<u64, Error> {
        self.with_state(|s, ctx| {
            s.command(ctx, |d| d.ping(payload.clone()))?;
            let id = s.next_ping;
            s.next_ping += 1;
            s.pings.push(PingSlot {
                id,
                payload,
                sent: now(),
                result: None,
            });
            Ok(id)
        })
    }

    pub(crate) fn poll_pong(&self, cx: &mut Context<'_>, id: u64) -> Poll<Result<Duration, Error>> {
        self.with(cx.waker(), |s, ctx, me| loop {
            let Some(i) = s.pings.iter().position(|p| p.id == id) else {
                return Poll::Ready(Err(Error::closed()));
            };
            if s.pings[i].result.is_some() {
                let slot = s.pings.swap_remove(i);
                return Poll::Ready(slot.result.expect("checked"));
            }
            if !s.step(ctx, me, false) {
                return Poll::Pending;
            }
        })
    }
}

impl<IO> Shared<IO> {
    fn lock(&self) -> MutexGuard<'_, State<IO>> {
        // A panic while the lock was held leaves the state as consistent as any
        // single poll does; carrying on beats poisoning every handle.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes every task waiting on the socket, in either direction.
    pub(crate) fn wake_all(&self) {
        self.ctx.readers.wake_all();
        self.ctx.writers.wake_all();
    }

    /// The connection is over: the driver is closed, or the transport failed.
    pub(crate) fn is_closed(&self) -> bool {
        let s = self.lock();
        s.broken || s.driver.ready_state() == ReadyState::Closed
    }

    pub(crate) fn forget_ping(&self, id: u64) {
        self.lock().pings.retain(|p| p.id != id);
    }

    pub(crate) fn close_frame(&self) -> Option<CloseFrame> {
        self.lock().close_frame.clone()
    }

    pub(crate) fn state(&self) -> ReadyState {
        self.lock().driver.ready_state()
    }

    pub(crate) fn buffered_amount(&self) -> usize {
        self.lock().queued()
    }

    pub(crate) fn buffered_incoming(&self) -> usize {
        let s = self.lock();
        s.incoming_len + s.driver.buffered_incoming()
    }
}

impl<IO> State<IO> {
    /// Bytes waiting to be written (the write buffer's fill).
    pub(crate) fn queued(&self) -> usize {
        self.out_len + self.driver.buffered_amount()
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
    ///
    /// `reader` is the user reading messages: it reads whenever it needs to.
    /// Others (pings, close, a waiting send) read only while the messages they
    /// keep for the reader fit the message buffer.
    pub(crate) fn step(&mut self, ctx: &Ctx, me: &Waker, reader: bool) -> bool {
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
        if self.may_read(reader) {
            self.poll_read(ctx);
            // What the read produced (pongs, a close echo, a hixie-76 answer)
            // goes out now, not when the user next polls.
            self.write(ctx, me);
        }
        self.progress != before
    }

    /// Writes what is queued, registering `me` to hear when more can be written.
    /// Registration precedes the poll it is for, so no wakeup falls between.
    fn write(&mut self, ctx: &Ctx, me: &Waker) {
        let registered = !self.output_done();
        if registered {
            ctx.writers.register(me);
        }
        self.poll_write(ctx);
        if !registered && !self.output_done() {
            // The driver had more to say (a shutdown) than the queue showed.
            ctx.writers.register(me);
            self.poll_write(ctx);
        }
    }

    /// Runs a driver command, then the driver's clock, then collects events.
    fn command<T>(
        &mut self,
        ctx: &Ctx,
        f: impl FnOnce(&mut Driver) -> Result<T, protocol::Error>,
    ) -> Result<T, Error> {
        if self.broken {
            return Err(self.failure_or_closed());
        }
        let r = f(&mut self.driver).map_err(Error::from);
        self.driver.handle_timeout(now().into_std());
        self.take_events(ctx);
        r
    }

    fn check_can_send(&self) -> Result<(), Error> {
        if self.broken {
            return Err(self.failure_or_closed());
        }
        match self.driver.ready_state() {
            ReadyState::Connecting | ReadyState::Open => Ok(()),
            ReadyState::Closing | ReadyState::Closed => Err(Error::closed()),
        }
    }

    fn failure_or_closed(&self) -> Error {
        self.failure.clone().unwrap_or_else(Error::closed)
    }

    /// Everything queued is written and flushed, and a requested shutdown done.
    fn output_done(&self) -> bool {
        self.broken
            || (self.queued() == 0 && !self.needs_flush && self.shutdown != Shutdown::Pending)
    }

    fn may_read(&self, reader: bool) -> bool {
        if self.broken || self.eof || self.driver.is_finished() {
            return false;
        }
        if self.replies > self.write_buffer_size {
            return false;
        }
        reader || self.closing || self.incoming_len < self.message_buffer_size
    }

    fn pop_message(&mut self) -> Option<Message> {
        let message = self.incoming.pop_front()?;
        if self.incoming_len >= self.message_buffer_size {
            // Whoever stopped reading at the limit may read again.
            self.wake_readers = true;
        }
        self.incoming_len -= message.len() + MESSAGE_OVERHEAD;
        Some(message)
    }

    fn bump(&mut self) {
        self.progress += 1;
        self.wake_readers = true;
    }

    fn take_events(&mut self, ctx: &Ctx) {
        while let Some(event) = self.driver.poll_event() {
            self.bump();
            match event {
                Event::Open => {
                    self.opened = true;
                    let _ = ctx.protocol.set(self.driver.protocol().map(Into::into));
                }
                Event::Message(message) => {
                    if self.closing && self.incoming_len >= self.message_buffer_size {
                        continue;
                    }
                    self.incoming_len += message.len() + MESSAGE_OVERHEAD;
                    self.incoming.push_back(message);
                }
                Event::Ping(_) => {}
                Event::Pong(payload) => {
                    let now = now();
                    if let Some(slot) = self
                        .pings
                        .iter_mut()
                        .filter(|p| p.result.is_none() && p.payload == payload)
                        .min_by_key(|p| p.id)
                    {
                        slot.result = Some(Ok(now.duration_since(slot.sent)));
                    }
                }
                Event::Error(error) => self.record_failure(Error::from(error)),
                Event::Close(frame) => {
                    if frame.code == CloseCode::ABNORMAL && self.eof && self.failure.is_none() {
                        self.record_failure(Error::unexpected_eof());
                    }
                    self.closed = true;
                    self.close_frame = Some(frame);
                    // The last bytes (our close frame or echo) get one close
                    // timeout to leave; see `abandon_output`.
                    let linger = self.driver.options().get_close_timeout();
                    self.linger = Some(now() + linger);
                    let failure = self.failure_or_closed();
                    for slot in self.pings.iter_mut().filter(|p| p.result.is_none()) {
                        slot.result = Some(Err(failure.clone()));
                    }
                }
            }
        }
    }

    fn record_failure(&mut self, error: Error) {
        if self.failure.is_none() {
            self.error = Some(error.clone());
            self.failure = Some(error);
        }
    }

    fn fail_io(&mut self, ctx: &Ctx, error: io::Error) {
        self.record_failure(Error::from(error));
        self.driver.receive_eof(now().into_std());
        self.abandon_output(ctx);
    }

    fn poll_timer(&mut self, ctx: &Ctx) {
        let driver = self.driver.poll_timeout().map(Instant::from_std);
        let deadline = match (driver, self.linger) {
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
        if self.linger.is_some_and(|l| l <= now) {
            self.linger = None;
            if !self.output_done() {
                self.abandon_output(ctx);
            }
        }
        self.driver.handle_timeout(now.into_std());
        self.take_events(ctx);
        self.bump();
    }

    /// The connection is over but its last bytes cannot be written (a peer
    /// that stopped reading): give up on them rather than wait forever.
    fn abandon_output(&mut self, ctx: &Ctx) {
        self.broken = true;
        self.out.clear();
        self.out_len = 0;
        while self.driver.poll_transmit().is_some() {}
        self.take_events(ctx);
        self.bump();
        self.wake_writers = true;
    }

    /// Writes the queue, vectored, then flushes, then shuts the transport down if
    /// the driver asked to.
    fn poll_write(&mut self, ctx: &Ctx) {
        if self.broken {
            return;
        }
        let mut cx = Context::from_waker(&ctx.write_waker);
        loop {
            while self.out.len() < MAX_SLICES {
                match self.driver.poll_transmit() {
                    Some(Transmit::Data(bytes)) => {
                        self.out_len += bytes.len();
                        self.out.push_back(bytes);
                    }
                    Some(Transmit::Shutdown) => self.shutdown = Shutdown::Pending,
                    None => break,
                }
            }
            if self.out.is_empty() {
                break;
            }
            let io = Pin::new(&mut self.io);
            let result = if self.out.len() > 1 && io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_SLICES];
                for (slice, chunk) in slices.iter_mut().zip(&self.out) {
                    *slice = IoSlice::new(chunk);
                }
                io.poll_write_vectored(&mut cx, &slices[..self.out.len()])
            } else {
                io.poll_write(&mut cx, &self.out[0])
            };
            match result {
                Poll::Pending => return,
                Poll::Ready(Ok(0)) => {
                    return self.fail_io(ctx, io::ErrorKind::WriteZero.into());
                }
                Poll::Ready(Ok(n)) => self.consume(n),
                Poll::Ready(Err(e)) => return self.fail_io(ctx, e),
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(&mut cx) {
                Poll::Pending => return,
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => return self.fail_io(ctx, e),
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
        if self.out.capacity() > MAX_SLICES {
            self.out = VecDeque::new();
        }
    }

    fn consume(&mut self, mut n: usize) {
        self.out_len -= n;
        self.replies = self.replies.saturating_sub(n);
        self.needs_flush = true;
        self.progress += 1;
        self.wake_writers = true;
        while n > 0 {
            let front = &mut self.out[0];
            if n >= front.len() {
                n -= front.len();
                self.out.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    /// One read from the transport, straight into the driver's buffer when a large
    /// frame is in flight, through the stack otherwise.
    fn poll_read(&mut self, ctx: &Ctx) {
        let mut cx = Context::from_waker(&ctx.read_waker);
        // What the driver queues in answer to this read (pongs) counts as replies.
        let before = self.driver.buffered_amount();
        let hint = self.driver.read_hint();
        let result = if hint > SMALL_READ {
            // Straight into the driver's buffer, sized for the whole frame (its
            // size passed the limits when its header was read).
            let chunk = self.driver.input_chunk(LARGE_READ);
            let mut buf = ReadBuf::new(chunk);
            let result = Pin::new(&mut self.io).poll_read(&mut cx, &mut buf);
            let n = buf.filled().len();
            self.driver.commit(n, now().into_std());
            result.map_ok(|()| n)
        } else {
            let mut stack = [MaybeUninit::<u8>::uninit(); SMALL_READ];
            let mut buf = ReadBuf::uninit(&mut stack);
            let result = Pin::new(&mut self.io).poll_read(&mut cx, &mut buf);
            if !buf.filled().is_empty() {
                self.driver.receive(buf.filled(), now().into_std());
            }
            result.map_ok(|()| buf.filled().len())
        };
        match result {
            Poll::Pending => {
                // Quiet: an idle socket holds no read buffer at all (the
                // driver keeps a small one between reads, which only the I/O
                // layer knows to be idle).
                self.driver.shrink_input();
                return;
            }
            Poll::Ready(Err(e)) => return self.fail_io(ctx, e),
            Poll::Ready(Ok(0)) => {
                self.eof = true;
                self.driver.receive_eof(now().into_std());
            }
            // Already fed to the driver above.
            Poll::Ready(Ok(_)) => {}
        }
        self.driver.handle_timeout(now().into_std());
        self.replies += self.driver.buffered_amount().saturating_sub(before);
        self.take_events(ctx);
        self.bump();
    }
}

/// Ends the connection as well as can be done without waiting: a close frame
/// (1001) if it is still open, written if the transport takes it now. Dropping
/// the transport then closes it.
impl<IO> Drop for State<IO> {
    fn drop(&mut self) {
        if self.broken || self.driver.ready_state() != ReadyState::Open {
            return;
        }
        if self
            .driver
            .close(CloseCode::GOING_AWAY, "", now().into_std())
            .is_err()
        {
            return;
        }
        let mut pending: Vec<Bytes> = self.out.drain(..).collect();
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
