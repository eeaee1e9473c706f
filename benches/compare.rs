//! Our server against its peers in one run: fastwebsockets, tokio-websockets and
//! tokio-tungstenite, each written the way that library's own examples write an
//! echo server, on a single-threaded tokio runtime in a thread of its own, with
//! `TCP_NODELAY`. "ours raw" is `WebSocket::accept` on a `TcpStream`, "ours
//! hyper" is `server::WsLayer` on the connections of `server::http_builder()`.
//!
//! One client for every server (ours, on the main thread's runtime), so that
//! only the server differs between the columns. Each row reports the rate the
//! client saw and the server's CPU time per operation, read from the server
//! thread's own CPU clock (`pthread_getcpuclockid`, the same account as
//! `getrusage(RUSAGE_THREAD)`, in nanoseconds), over the measured window only:
//! connections are opened before it and closed after it. A third table gives
//! the share of that CPU spent in the kernel (the thread's `stime` over
//! `utime + stime` in `/proc/self/task/TID/stat`, clock ticks): what no
//! user-space work can take off.
//!
//! ```sh
//! cargo bench --bench compare                    # every row, 2 s per cell
//! cargo bench --bench compare -- --secs 5 --rows pipelined,16\ MiB
//! cargo bench --bench compare -- --rounds 3     # each server's best of 3, in turn
//! cargo bench --bench compare -- --idle [N]      # server RSS per idle socket
//! ```
//!
//! `COMPARE_SECS` sets the seconds per cell too. `--idle N` (default 10,000)
//! runs each server in a child process of this binary (`--serve NAME`), opens
//! `N` idle sockets to it and reports the child's RSS (`/proc/self/statm`) and
//! malloc heap (glibc's `mallinfo2`) per socket. See `benches/README.md` for
//! the figures.

use bytes::Bytes;
use futures::future::join_all;
use futures::{SinkExt, StreamExt, TryStreamExt};
use std::convert::Infallible;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::os::unix::thread::JoinHandleExt;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::{Config, Message, WebSocket};

// ---------------------------------------------------------------------------
// The servers, as each library's examples write them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Server {
    OursRaw,
    OursHyper,
    Fastwebsockets,
    TokioWebsockets,
    Tungstenite,
}

const SERVERS: [Server; 5] = [
    Server::OursRaw,
    Server::OursHyper,
    Server::Fastwebsockets,
    Server::TokioWebsockets,
    Server::Tungstenite,
];

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::OursRaw => "ours raw",
            Server::OursHyper => "ours hyper",
            Server::Fastwebsockets => "fastwebsockets",
            Server::TokioWebsockets => "tokio-websockets",
            Server::Tungstenite => "tokio-tungstenite",
        }
    }

    fn is_ours(self) -> bool {
        matches!(self, Server::OursRaw | Server::OursHyper)
    }

    fn from_name(name: &str) -> Server {
        SERVERS
            .into_iter()
            .find(|s| s.name().replace(' ', "-") == name)
            .unwrap_or_else(|| panic!("no server named {name:?}"))
    }

    async fn serve(self, listener: TcpListener) {
        let ours_hyper = ours_hyper::acceptor();
        loop {
            let (tcp, _) = listener.accept().await.expect("accept");
            tcp.set_nodelay(true).expect("TCP_NODELAY");
            match self {
                Server::OursRaw => tokio::spawn(ours_raw(tcp)),
                Server::OursHyper => ours_hyper(tcp),
                Server::Fastwebsockets => tokio::spawn(fastwebsockets_conn(tcp)),
                Server::TokioWebsockets => {
                    tokio::spawn(tokio::task::unconstrained(tokio_websockets_conn(tcp)))
                }
                Server::Tungstenite => tokio::spawn(tungstenite_conn(tcp)),
            };
        }
    }
}

/// The README's server: default `Config`, echo every message.
async fn ours_raw(tcp: TcpStream) {
    let Ok(mut ws) = WebSocket::accept(tcp, Config::default()).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}

/// examples/echo.rs: one `WsLayer` service with an echo handler, default
/// `Config`, cloned into every connection of `http_builder()`.
mod ours_hyper {
    use super::Infallible;
    use hyper_util::{rt::TokioIo, service::TowerToHyperService};
    use tokio::net::TcpStream;
    use websocket_protocol::server::{http_builder, RequestInfo, ServerSocket, WsLayer};

    async fn echo(mut ws: ServerSocket, _request: RequestInfo) {
        while let Some(Ok(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                break;
            }
        }
    }

    async fn not_websocket(
        _request: http::Request<hyper::body::Incoming>,
    ) -> Result<http::Response<String>, Infallible> {
        Ok(http::Response::new(String::new()))
    }

    /// The accept loop's part: builds the service once.
    pub fn acceptor() -> impl Fn(TcpStream) -> tokio::task::JoinHandle<()> {
        let layer = WsLayer::new(echo);
        let service = tower::Layer::layer(&layer, tower::service_fn(not_websocket));
        move |tcp| {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = http_builder()
                    .serve_connection_with_upgrades(TokioIo::new(tcp), service)
                    .await;
            })
        }
    }
}

/// fastwebsockets' examples/echo_server.rs: hyper http1 with upgrades, a
/// `FragmentCollector` in an unconstrained task.
async fn fastwebsockets_conn(tcp: TcpStream) {
    use fastwebsockets::{upgrade, FragmentCollector, OpCode, WebSocketError};
    use http_body_util::Empty;

    async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
        let mut ws = FragmentCollector::new(fut.await?);
        loop {
            let frame = ws.read_frame().await?;
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
                _ => {}
            }
        }
        Ok(())
    }
    async fn server_upgrade(
        mut req: http::Request<hyper::body::Incoming>,
    ) -> Result<http::Response<Empty<Bytes>>, WebSocketError> {
        let (response, fut) = upgrade::upgrade(&mut req)?;
        tokio::spawn(async move {
            let _ = tokio::task::unconstrained(handle_client(fut)).await;
        });
        Ok(response)
    }
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(
            hyper_util::rt::TokioIo::new(tcp),
            hyper::service::service_fn(server_upgrade),
        )
        .with_upgrades()
        .await;
}

/// tokio-websockets' examples/echo_server.rs (it spawns this unconstrained).
async fn tokio_websockets_conn(tcp: TcpStream) {
    use tokio_websockets::{Config, Limits, ServerBuilder};
    let Ok((_request, mut server)) = ServerBuilder::new()
        .config(Config::default().frame_size(usize::MAX))
        .limits(Limits::unlimited())
        .accept(tcp)
        .await
    else {
        return;
    };
    while let Some(Ok(item)) = server.next().await {
        if (item.is_text() || item.is_binary()) && server.send(item).await.is_err() {
            break;
        }
    }
}

/// tokio-tungstenite's examples/echo-server.rs: split, filter, `forward`.
/// `forward` flushes only when the read side has nothing ready, so this one
/// coalesces the replies to pipelined messages.
async fn tungstenite_conn(tcp: TcpStream) {
    let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    let (write, read) = ws.split();
    let _ = read
        .try_filter(|m| std::future::ready(m.is_text() || m.is_binary()))
        .forward(write)
        .await;
}

/// A server on a current-thread runtime in a thread of its own.
struct Running {
    server: Server,
    addr: SocketAddr,
    clock: libc::clockid_t,
    /// The server thread's id, for its `/proc` entry.
    tid: i32,
    _thread: std::thread::JoinHandle<()>,
}

impl Running {
    fn start(server: Server) -> Running {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("non-blocking");
        let addr = listener.local_addr().expect("local address");
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(server.name().to_owned())
            .spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid_tx.send(unsafe { libc::gettid() }).expect("tid");
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    server
                        .serve(TcpListener::from_std(listener).expect("listener"))
                        .await
                })
            })
            .expect("server thread");
        let mut clock: libc::clockid_t = 0;
        // SAFETY: the thread is alive (its accept loop never returns) and
        // `clock` is a valid place for the result.
        let rc = unsafe { libc::pthread_getcpuclockid(thread.as_pthread_t(), &mut clock) };
        assert_eq!(rc, 0, "pthread_getcpuclockid");
        Running {
            server,
            addr,
            clock,
            tid: tid_rx.recv().expect("the server thread's id"),
            _thread: thread,
        }
    }

    /// The server thread's user and system time so far, in clock ticks.
    fn ticks(&self) -> Ticks {
        let path = format!("/proc/self/task/{}/stat", self.tid);
        let stat = std::fs::read_to_string(&path).expect("the thread's stat");
        // The fields after the parenthesised name, from the third (state) on:
        // utime and stime are the 14th and 15th.
        let mut fields = stat[stat.rfind(')').expect("stat's name") + 2..].split(' ');
        let mut tick = || fields.next().and_then(|f| f.parse().ok());
        let utime = (0..12).map(|_| tick()).last().flatten().expect("utime");
        let stime = tick().expect("stime");
        Ticks {
            user: utime,
            system: stime,
        }
    }

    /// CPU time the server thread has used so far (user + system).
    fn cpu(&self) -> Duration {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `clock` came from pthread_getcpuclockid for a live thread;
        // `ts` is a valid out-pointer.
        let rc = unsafe { libc::clock_gettime(self.clock, &mut ts) };
        assert_eq!(rc, 0, "clock_gettime");
        Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
    }
}

// ---------------------------------------------------------------------------
// The client and the rows.

type Client = WebSocket<TcpStream>;

/// The client's limits are above every row's message, so only the server's
/// defaults can refuse one. It offers no permessage-deflate (our client's
/// default), so no server compresses.
fn client_config() -> Config {
    Config::default()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
}

async fn connect(addr: SocketAddr) -> Client {
    let tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.set_nodelay(true).expect("TCP_NODELAY");
    WebSocket::connect(tcp, &format!("ws://{addr}/"), client_config())
        .await
        .expect("client handshake")
}

#[derive(Clone, Copy)]
enum Work {
    /// Each connection sends `in_flight` messages, flushes once, then reads
    /// their echoes, and again.
    Echo {
        message: fn() -> Message,
        in_flight: usize,
    },
    /// Each connection loop opens a socket, closes it (closing handshake), and
    /// again.
    Handshake,
}

struct Row {
    name: &'static str,
    conns: usize,
    work: Work,
    /// Bytes per operation, for a MB/s figure; 0 for a count per second.
    bytes: usize,
}

fn rows() -> Vec<Row> {
    fn small() -> Message {
        Message::binary(vec![7u8; 16])
    }
    fn text() -> Message {
        Message::text("x".repeat(1 << 10))
    }
    fn mib() -> Message {
        Message::binary(vec![7u8; 1 << 20])
    }
    fn mib16() -> Message {
        Message::binary(vec![7u8; 16 << 20])
    }
    let echo = |message, in_flight| Work::Echo { message, in_flight };
    vec![
        Row {
            name: "echo 16 B binary, 100 conns",
            conns: 100,
            work: echo(small, 1),
            bytes: 0,
        },
        Row {
            name: "echo 1 KiB text, 100 conns",
            conns: 100,
            work: echo(text, 1),
            bytes: 0,
        },
        Row {
            name: "pipelined 16 B, 16 in flight, 100 conns",
            conns: 100,
            work: echo(small, 16),
            bytes: 0,
        },
        Row {
            name: "16 MiB echo, 4 conns",
            conns: 4,
            work: echo(mib16, 1),
            bytes: 16 << 20,
        },
        Row {
            name: "handshakes, 8 at a time",
            conns: 8,
            work: Work::Handshake,
            bytes: 0,
        },
        Row {
            name: "1 MiB echo, 4 conns",
            conns: 4,
            work: echo(mib, 1),
            bytes: 1 << 20,
        },
    ]
}

/// A thread's CPU time in clock ticks (coarse, but split by mode).
#[derive(Clone, Copy)]
struct Ticks {
    user: u64,
    system: u64,
}

/// One cell: operations completed, wall time and server CPU of the window.
struct Cell {
    ops: u64,
    wall: Duration,
    cpu: Duration,
    /// The server thread's ticks over the window.
    ticks: Ticks,
}

impl Cell {
    fn rate(&self) -> f64 {
        self.ops as f64 / self.wall.as_secs_f64()
    }
    fn cpu_per_op(&self) -> Duration {
        self.cpu.div_f64(self.ops.max(1) as f64)
    }
    /// The share of the server's CPU time spent in the kernel.
    fn kernel_share(&self) -> f64 {
        let Ticks { user, system } = self.ticks;
        system as f64 / (user + system).max(1) as f64
    }
}

async fn run_cell(server: &Running, row: &Row, secs: f64) -> Cell {
    let addr = server.addr;
    let ops = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::with_capacity(row.conns);
    match row.work {
        Work::Echo { message, in_flight } => {
            let clients = join_all((0..row.conns).map(|_| connect(addr))).await;
            let message = message();
            for mut ws in clients {
                let (ops, stop, message) = (ops.clone(), stop.clone(), message.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..in_flight {
                            ws.feed(message.clone()).await.expect("send");
                        }
                        ws.flush().await.expect("flush");
                        for _ in 0..in_flight {
                            let echo = ws.recv().await.expect("an echo").expect("echo");
                            assert_eq!(echo.len(), message.len());
                        }
                        ops.fetch_add(in_flight as u64, Ordering::Relaxed);
                    }
                    Some(ws)
                }));
            }
        }
        Work::Handshake => {
            for _ in 0..row.conns {
                let (ops, stop) = (ops.clone(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    let mut last = None;
                    while !stop.load(Ordering::Relaxed) {
                        let mut ws = connect(addr).await;
                        ws.close(1000, "").await.expect("close");
                        ops.fetch_add(1, Ordering::Relaxed);
                        last = Some(ws);
                    }
                    last
                }));
            }
        }
    }
    // The window starts once every connection is open and the server has
    // settled (hyper starts the handler after the response has gone), and ends
    // once every task has finished the round it was in.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let cpu = server.cpu();
    let ticks = server.ticks();
    let start = Instant::now();
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let clients: Vec<Client> = join_all(tasks)
        .await
        .into_iter()
        .filter_map(|t| t.expect("client task"))
        .collect();
    let cell = Cell {
        ops: ops.load(Ordering::Relaxed),
        wall: start.elapsed(),
        cpu: server.cpu() - cpu,
        ticks: {
            let now = server.ticks();
            Ticks {
                user: now.user - ticks.user,
                system: now.system - ticks.system,
            }
        },
    };
    join_all(clients.into_iter().map(|mut ws| async move {
        let _ = ws.close(1000, "").await;
    }))
    .await;
    // Let the server finish the closes before the next cell's window opens.
    tokio::time::sleep(Duration::from_millis(100)).await;
    cell
}

// ---------------------------------------------------------------------------
// The table.

fn fmt_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 10_000.0 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1_000_000.0 {
        format!("{:.0} µs", ns / 1e3)
    } else {
        format!("{:.1} ms", ns / 1e6)
    }
}

fn fmt_rate(row: &Row, rate: f64) -> String {
    if row.bytes > 0 {
        format!("{:.0} MB/s", rate * row.bytes as f64 / 1e6)
    } else if rate >= 10_000.0 {
        format!("{:.0} k/s", rate / 1e3)
    } else {
        format!("{rate:.0}/s")
    }
}

fn print_tables(rows: &[Row], cells: &[Vec<Cell>]) {
    let header = |what: &str| {
        print!("\n| {what} |");
        for s in SERVERS {
            print!(" {} |", s.name());
        }
        println!(" best peer | raw / best | hyper / best |");
        println!("|---|{}---|---|---|", "---|".repeat(SERVERS.len()));
    };
    let best_peer = |values: &[f64], higher_is_better: bool| {
        SERVERS
            .iter()
            .zip(values)
            .filter(|(s, _)| !s.is_ours())
            .max_by(|a, b| {
                let o = a.1.total_cmp(b.1);
                if higher_is_better {
                    o
                } else {
                    o.reverse()
                }
            })
            .map(|(s, v)| (*s, *v))
            .expect("peers")
    };

    header("throughput (client's view)");
    for (row, cells) in rows.iter().zip(cells) {
        let rates: Vec<f64> = cells.iter().map(Cell::rate).collect();
        let (peer, best) = best_peer(&rates, true);
        print!("| {} |", row.name);
        for r in &rates {
            print!(" {} |", fmt_rate(row, *r));
        }
        println!(
            " {} | {:.2} | {:.2} |",
            peer.name(),
            rates[0] / best,
            rates[1] / best
        );
    }

    header("server CPU per operation");
    for (row, cells) in rows.iter().zip(cells) {
        let cpu: Vec<f64> = cells.iter().map(|c| c.cpu_per_op().as_secs_f64()).collect();
        let (peer, best) = best_peer(&cpu, false);
        print!("| {} |", row.name);
        for c in cells {
            print!(" {} |", fmt_duration(c.cpu_per_op()));
        }
        println!(
            " {} | {:.2} | {:.2} |",
            peer.name(),
            cpu[0] / best,
            cpu[1] / best
        );
    }
    println!(
        "\nratios: ours / the best of fastwebsockets, tokio-websockets and \
         tokio-tungstenite; above 1 is better for throughput, below 1 for CPU."
    );

    print!("\n| share of server CPU in the kernel |");
    for s in SERVERS {
        print!(" {} |", s.name());
    }
    println!("\n|---|{}", "---|".repeat(SERVERS.len()));
    for (row, cells) in rows.iter().zip(cells) {
        print!("| {} |", row.name);
        for c in cells {
            print!(" {:.0} % |", c.kernel_share() * 100.0);
        }
        println!();
    }
}

// ---------------------------------------------------------------------------
// Idle memory: each server alone in a child process.

/// Resident set size of this process, from `/proc/self/statm`.
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("statm's resident field");
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize
}

/// Bytes malloc has handed out and not had back, every arena and mmapped
/// chunk included (glibc's `mallinfo2`).
fn heap() -> usize {
    // SAFETY: mallinfo2 has no preconditions; it only reads malloc's state.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

/// Raises the soft limit on open files to the hard limit; returns the limit.
fn raise_nofile() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid out-pointer, then a valid in-pointer.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur as usize
}

/// `--serve NAME`: the child. Prints its address, then answers each line on
/// stdin with "RSS HEAP"; ends at the end of stdin.
fn serve_child(name: &str) {
    raise_nofile();
    let server = Running::start(Server::from_name(name));
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}", server.addr).unwrap();
    out.flush().unwrap();
    for line in std::io::stdin().lock().lines() {
        if line.is_err() {
            break;
        }
        writeln!(out, "{} {}", rss(), heap()).unwrap();
        out.flush().unwrap();
    }
}

struct Child {
    process: std::process::Child,
    stdin: std::process::ChildStdin,
    stdout: BufReader<std::process::ChildStdout>,
}

impl Child {
    fn spawn(server: Server) -> (Child, SocketAddr) {
        let mut process = Command::new(std::env::current_exe().expect("this binary"))
            .args(["--serve", &server.name().replace(' ', "-")])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("child server");
        let stdin = process.stdin.take().unwrap();
        let mut stdout = BufReader::new(process.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).expect("the child's address");
        let addr = line.trim().parse().expect("an address");
        (
            Child {
                process,
                stdin,
                stdout,
            },
            addr,
        )
    }

    /// The child's (RSS, heap) now.
    fn measure(&mut self) -> (usize, usize) {
        writeln!(self.stdin, "measure").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).expect("a measurement");
        let mut it = line
            .split_whitespace()
            .map(|v| v.parse().expect("a number"));
        (it.next().unwrap(), it.next().unwrap())
    }
}

async fn idle(n: usize) {
    let limit = raise_nofile();
    // Each process holds one end of every socket, plus a few files of its own.
    let n = if n + 64 > limit {
        let fewer = limit.saturating_sub(64);
        println!("note: the open-files limit is {limit}; measuring {fewer} sockets instead of {n}");
        fewer
    } else {
        n
    };
    println!("\n| {n} idle sockets | server RSS per socket | server heap per socket |");
    println!("|---|---|---|");
    for server in SERVERS {
        let (mut child, addr) = Child::spawn(server);
        // One socket before the baseline, so that what every server allocates
        // once (its first task, hyper's first connection) is not counted.
        let mut first = connect(addr).await;
        echo_once(&mut first).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (rss0, heap0) = child.measure();
        let mut clients = Vec::with_capacity(n);
        for _ in 0..n.div_ceil(100) {
            let batch = (n - clients.len()).min(100);
            clients.extend(
                join_all((0..batch).map(|_| async move {
                    let mut ws = connect(addr).await;
                    echo_once(&mut ws).await;
                    ws
                }))
                .await,
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (rss1, heap1) = child.measure();
        let per = |a: usize, b: usize| (b as f64 - a as f64) / n as f64 / 1024.0;
        println!(
            "| {} | {:.1} KiB | {:.1} KiB |",
            server.name(),
            per(rss0, rss1),
            per(heap0, heap1)
        );
        // The server goes first, so the TIME_WAITs are on its side.
        let _ = child.process.kill();
        let _ = child.process.wait();
        drop(clients);
        drop(first);
    }
}

/// One small message each way: a socket that has done something, then idles.
async fn echo_once(ws: &mut Client) {
    ws.text("hello").await.expect("send");
    let echo = ws.recv().await.expect("an echo").expect("echo");
    assert_eq!(echo, Message::text("hello"));
}

// ---------------------------------------------------------------------------

fn main() {
    let mut args = std::env::args().skip(1).peekable();
    let mut secs: f64 = std::env::var("COMPARE_SECS")
        .ok()
        .map(|s| s.parse().expect("COMPARE_SECS: seconds"))
        .unwrap_or(2.0);
    let mut rounds = 1;
    let mut only: Option<Vec<String>> = None;
    let mut idle_sockets = None;
    let mut servers_only: Option<Vec<Server>> = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--serve" => return serve_child(&args.next().expect("--serve NAME")),
            "--secs" => secs = args.next().and_then(|s| s.parse().ok()).expect("--secs N"),
            "--rounds" => {
                rounds = args
                    .next()
                    .and_then(|s| s.parse().ok())
                    .filter(|&n| n > 0)
                    .expect("--rounds N")
            }
            "--rows" => {
                only = Some(
                    args.next()
                        .expect("--rows a,b")
                        .split(',')
                        .map(str::to_owned)
                        .collect(),
                )
            }
            // Only these servers (their names with `-` for spaces): for a
            // profiler run (e.g. callgrind on one server).
            "--servers" => {
                servers_only = Some(
                    args.next()
                        .expect("--servers a,b")
                        .split(',')
                        .map(Server::from_name)
                        .collect(),
                )
            }
            "--idle" => {
                let n = args.next_if(|a| !a.starts_with("--"));
                idle_sockets = Some(n.map_or(10_000, |n| n.parse().expect("--idle [N]")));
            }
            // What cargo bench passes along.
            "--bench" => {}
            other => panic!("unknown argument {other:?}"),
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if let Some(n) = idle_sockets {
        return rt.block_on(idle(n));
    }

    let rows: Vec<Row> = rows()
        .into_iter()
        .filter(|r| {
            only.as_ref()
                .is_none_or(|o| o.iter().any(|w| r.name.contains(w.as_str())))
        })
        .collect();
    // The tables need every server; a subset is reported by the lines above.
    let tables = servers_only.is_none();
    let servers: Vec<Running> = servers_only
        .unwrap_or(SERVERS.to_vec())
        .into_iter()
        .map(Running::start)
        .collect();
    let cells: Vec<Vec<Cell>> = rt.block_on(async {
        let mut all = Vec::new();
        for row in &rows {
            // Rounds go through every server in turn, so that a busy moment
            // of a shared machine falls on all of them alike; each server
            // keeps its best round (the least CPU per operation: noise only
            // ever adds to it).
            let mut cells: Vec<Option<Cell>> = servers.iter().map(|_| None).collect();
            for _ in 0..rounds {
                for (server, best) in servers.iter().zip(&mut cells) {
                    // A short warm-up round, then the measured one.
                    run_cell(server, row, secs / 5.0).await;
                    let cell = run_cell(server, row, secs).await;
                    eprintln!(
                        "{:<42} {:<18} {:>12} {:>10} server CPU per op, {:.0} % in the kernel",
                        row.name,
                        server.server.name(),
                        fmt_rate(row, cell.rate()),
                        fmt_duration(cell.cpu_per_op()),
                        cell.kernel_share() * 100.0
                    );
                    if best
                        .as_ref()
                        .is_none_or(|b| cell.cpu_per_op() < b.cpu_per_op())
                    {
                        *best = Some(cell);
                    }
                }
            }
            let cells: Vec<Cell> = cells.into_iter().map(|c| c.expect("a round")).collect();
            all.push(cells);
        }
        all
    });
    if tables {
        print_tables(&rows, &cells);
    }
}
