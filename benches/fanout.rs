//! Fan-out over loopback: 10 publishers send 64-byte text messages to one room
//! of 1,000 (and, when the file-descriptor limit allows, 10,000) subscribers
//! that only read, in three server shapes, in one run:
//!
//! - `hub`: every socket subscribed to a [`Hub`] topic; a publish frames the
//!   message once and queues it on each socket, whose reading task writes it;
//! - `send loop`: each publisher `send`s the message to every socket in turn
//!   (each sender behind an async mutex, as several publishers share them);
//! - `broadcast`: the chat example's old shape, a `tokio::sync::broadcast`
//!   channel and a task per guest that forwards each message with `send`.
//!
//! Then with permessage-deflate on, the hub (the message compressed once) against
//! the send loop (compressed by every socket).
//!
//! The subscribers run in a child process (this binary again) as raw TCP
//! clients that count frames, so the server's CPU time (`getrusage`) is its
//! own. A figure is deliveries per second (from the first publish to the last
//! frame counted by the clients) and server CPU time per delivery.
//!
//! ```sh
//! cargo bench --bench fanout            # about a minute
//! ```

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, Mutex};
use websocket_protocol::hub::Hub;
use websocket_protocol::protocol::{DeflateConfig, PreparedMessage};
use websocket_protocol::socket::Sender;
use websocket_protocol::{Config, Utf8Bytes, WebSocket};

const PUBLISHERS: usize = 10;
const CLIENT_ENV: &str = "WSP_FANOUT_CLIENT";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shape {
    Hub,
    SendLoop,
    Broadcast,
}

impl Shape {
    fn name(self) -> &'static str {
        match self {
            Shape::Hub => "hub",
            Shape::SendLoop => "send loop",
            Shape::Broadcast => "broadcast + task per guest",
        }
    }
}

fn main() {
    if let Ok(spec) = std::env::var(CLIENT_ENV) {
        return client_process(&spec);
    }
    let limit = raise_fd_limit();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!("fan-out: {PUBLISHERS} publishers, 64-byte text, one topic (fd limit {limit})");
    println!(
        "{:<8} {:<28} {:>7} {:>12} {:>15} {:>13}",
        "subs", "server", "deflate", "deliveries", "deliveries/s", "CPU/delivery"
    );
    let mut runs = vec![(1_000, 100)];
    // The server holds one descriptor per subscriber (the clients are another
    // process), plus a few.
    if limit >= 10_000 + 256 {
        runs.push((10_000, 20));
    } else {
        println!("10,000 subscribers skipped: the fd limit is {limit}");
    }
    for (subs, each) in runs {
        let mut per_sec = Vec::new();
        for shape in [Shape::Hub, Shape::SendLoop, Shape::Broadcast] {
            per_sec.push(rt.block_on(run(shape, subs, each, false)));
        }
        println!(
            "{subs:<8} hub / broadcast: {:.1}x, hub / send loop: {:.1}x",
            per_sec[0] / per_sec[2],
            per_sec[0] / per_sec[1]
        );
    }
    for shape in [Shape::Hub, Shape::SendLoop] {
        rt.block_on(run(shape, 1_000, 50, true));
    }
}

/// One measured run; returns deliveries per second.
async fn run(shape: Shape, subs: usize, each: usize, deflate: bool) -> f64 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let messages = PUBLISHERS * each;
    let mut child = spawn_clients(addr, subs, messages, deflate);
    let mut config = Config::default();
    if deflate {
        config = config.deflate(DeflateConfig::default());
    }
    // Accept everyone before publishing.
    let mut senders = Vec::with_capacity(subs);
    let mut readers = Vec::with_capacity(subs);
    for _ in 0..subs {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let ws = WebSocket::accept(tcp, config.clone()).await.unwrap();
        let (tx, mut rx) = ws.split();
        // Every server reads its sockets (to see the peer's messages and close);
        // with the hub this task is also what writes.
        readers.push(tokio::spawn(async move {
            while let Some(Ok(_)) = rx.recv().await {}
        }));
        senders.push(tx);
    }
    let hub = Hub::new();
    let room = broadcast::channel::<Utf8Bytes>(messages + 16).0;
    let mut guests = Vec::new();
    let shared: Vec<Arc<Mutex<Sender<TcpStream>>>>;
    match shape {
        Shape::Hub => {
            for tx in &senders {
                hub.subscribe("room", tx);
            }
            shared = Vec::new();
        }
        Shape::SendLoop => {
            shared = senders.drain(..).map(|s| Arc::new(Mutex::new(s))).collect();
        }
        Shape::Broadcast => {
            for mut tx in senders.drain(..) {
                let mut inbox = room.subscribe();
                guests.push(tokio::spawn(async move {
                    while let Ok(line) = inbox.recv().await {
                        if tx.text(line).await.is_err() {
                            break;
                        }
                    }
                }));
            }
            shared = Vec::new();
        }
    }
    let shared = Arc::new(shared);

    let cpu_before = cpu_time();
    let start = Instant::now();
    let publishers: Vec<_> = (0..PUBLISHERS)
        .map(|p| {
            let (hub, room, shared) = (hub.clone(), room.clone(), shared.clone());
            tokio::spawn(async move {
                let mut skipped = 0;
                for n in 0..each {
                    let text = line(p, n);
                    match shape {
                        Shape::Hub => {
                            skipped += hub.publish("room", PreparedMessage::text(text)).skipped
                        }
                        Shape::SendLoop => {
                            for s in shared.iter() {
                                s.lock().await.text(text.clone()).await.unwrap();
                            }
                        }
                        Shape::Broadcast => {
                            room.send(text).unwrap();
                        }
                    }
                    // Publishers take turns, as independent tasks would.
                    tokio::task::yield_now().await;
                }
                skipped
            })
        })
        .collect();
    let mut skipped = 0;
    for p in publishers {
        skipped += p.await.unwrap();
    }
    assert_eq!(
        skipped, 0,
        "the hub skipped subscribers: raise the write buffer"
    );
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut done = String::new();
    out.read_line(&mut done).unwrap();
    assert_eq!(done.trim(), "done", "the clients failed");
    let elapsed = start.elapsed();
    let cpu = cpu_time() - cpu_before;
    let deliveries = (subs * messages) as f64;
    let per_sec = deliveries / elapsed.as_secs_f64();
    println!(
        "{subs:<8} {:<28} {:>7} {:>12} {:>15.0} {:>10.0} ns",
        shape.name(),
        if deflate { "on" } else { "off" },
        subs * messages,
        per_sec,
        cpu.as_nanos() as f64 / deliveries
    );
    drop((senders, shared, guests, hub, room));
    for r in readers {
        r.abort();
    }
    let _ = child.stdin.take().map(|mut s| s.write_all(b"bye\n"));
    let _ = child.wait();
    per_sec
}

/// A 64-byte line naming its publisher and number.
fn line(p: usize, n: usize) -> Utf8Bytes {
    let mut s = format!("publisher {p:02} message {n:06} ");
    while s.len() < 64 {
        s.push('.');
    }
    Utf8Bytes::from(s)
}

fn spawn_clients(
    addr: SocketAddr,
    subs: usize,
    messages: usize,
    deflate: bool,
) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .env(
            CLIENT_ENV,
            format!("{addr},{subs},{messages},{}", deflate as u8),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap()
}

/// User plus system CPU time of this process.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes into the struct it is given, which is zeroed
    // plain data.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Raises the soft limit on open files to the hard one; returns the soft limit.
fn raise_fd_limit() -> u64 {
    // SAFETY: getrlimit and setrlimit read and write a plain struct.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur = limit.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit);
        limit.rlim_cur as u64
    }
}

// ---- the subscribers' process ----------------------------------------------

/// `addr,subs,messages,deflate`: opens `subs` raw WebSocket connections, counts
/// the frames on each until every one has `messages`, prints `done`.
fn client_process(spec: &str) {
    raise_fd_limit();
    let parts: Vec<&str> = spec.split(',').collect();
    let addr: SocketAddr = parts[0].parse().unwrap();
    let subs: usize = parts[1].parse().unwrap();
    let messages: usize = parts[2].parse().unwrap();
    let deflate = parts[3] == "1";
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut tasks = Vec::with_capacity(subs);
        for _ in 0..subs {
            let tcp = TcpStream::connect(addr).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let tcp = handshake(tcp, deflate).await;
            tasks.push(tokio::spawn(count_frames(tcp, messages)));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    println!("done");
    std::io::stdout().flush().unwrap();
    // Stay connected until the server has measured.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
}

async fn handshake(mut tcp: TcpStream, deflate: bool) -> TcpStream {
    let ext = if deflate {
        "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    } else {
        ""
    };
    let request = format!(
        "GET / HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{ext}\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tcp.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    if deflate {
        assert!(String::from_utf8_lossy(&head).contains("permessage-deflate"));
    }
    tcp
}

/// Reads server frames (unmasked, short) and counts them.
async fn count_frames(mut tcp: TcpStream, messages: usize) {
    let mut buf = vec![0u8; 64 << 10];
    let (mut filled, mut frames) = (0, 0);
    while frames < messages {
        let n = tcp.read(&mut buf[filled..]).await.unwrap();
        assert!(n > 0, "closed after {frames} frames");
        filled += n;
        let mut pos = 0;
        while filled - pos >= 2 {
            let len = (buf[pos + 1] & 0x7F) as usize;
            assert!(len < 126, "a short frame");
            if filled - pos < 2 + len {
                break;
            }
            pos += 2 + len;
            frames += 1;
        }
        buf.copy_within(pos..filled, 0);
        filled -= pos;
    }
}
