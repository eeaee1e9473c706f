//! Streaming send through the socket, against peers nobody here wrote:
//! fastwebsockets reading raw frames (no `FragmentCollector`), tokio-tungstenite
//! reassembling, and the `send_file` example with its heap measured.

use fastwebsockets::{OpCode, Role};
use futures::{SinkExt, StreamExt};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::protocol::{accept_key, MessageKind, Options};
use websocket_protocol::{CloseCode, Config, ErrorKind, WebSocket};

/// `options` without permessage-deflate (which servers accept by default).
fn no_deflate(options: Options) -> Options {
    #[cfg(feature = "deflate")]
    let options = options.deflate(None);
    options
}

async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), f)
        .await
        .expect("timed out")
}

/// Our client on one end of a TCP connection, and fastwebsockets as the
/// server on the other, after a handshake written by hand.
async fn with_fastwebsockets(
    config: Config,
) -> (WebSocket<TcpStream>, fastwebsockets::WebSocket<TcpStream>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tcp.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find_map(|l| {
                l.strip_prefix("Sec-WebSocket-Key: ")
                    .or_else(|| l.strip_prefix("sec-websocket-key: "))
            })
            .unwrap()
            .trim()
            .to_owned();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key.as_bytes())
        );
        tcp.write_all(response.as_bytes()).await.unwrap();
        let mut ws = fastwebsockets::WebSocket::after_handshake(tcp, Role::Server);
        ws.set_auto_close(false);
        ws.set_auto_pong(false);
        ws
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    let ours = WebSocket::connect(tcp, &format!("ws://{addr}/"), config)
        .await
        .unwrap();
    (ours, server.await.unwrap())
}

/// Reads raw frames up to and including the close: (opcode, fin, payload).
async fn frames(ws: &mut fastwebsockets::WebSocket<TcpStream>) -> Vec<(OpCode, bool, Vec<u8>)> {
    let mut out = Vec::new();
    loop {
        let f = within(10, ws.read_frame()).await.unwrap();
        let close = f.opcode == OpCode::Close;
        out.push((f.opcode, f.fin, f.payload.to_vec()));
        if close {
            return out;
        }
    }
}

fn config() -> Config {
    Config::default()
        .fragment_size(1000)
        // The peer does not answer close frames: do not wait long for it.
        .close_timeout(Duration::from_millis(300))
        .options(no_deflate(Options::default().rng_seed(1)))
}

#[tokio::test]
async fn the_writer_cuts_fragments_of_the_configured_size() {
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    let data: Vec<u8> = (0..3500u32).map(|i| (i % 251) as u8).collect();
    let mut writer = ours.message_writer(MessageKind::Binary).unwrap();
    // Small writes are gathered; a large one is cut.
    writer.write_all(&data[..10]).await.unwrap();
    writer.write_all(&data[10..]).await.unwrap();
    writer.shutdown().await.unwrap();
    assert!(writer.is_finished());
    drop(writer);
    ours.text("after").await.unwrap();
    ours.close(CloseCode::NORMAL, "").await.ok();
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool, usize)> = got.iter().map(|(o, f, p)| (*o, *f, p.len())).collect();
    assert_eq!(
        shape,
        [
            (OpCode::Binary, false, 1000),
            (OpCode::Continuation, false, 1000),
            (OpCode::Continuation, false, 1000),
            (OpCode::Continuation, true, 500),
            (OpCode::Text, true, 5),
            (OpCode::Close, true, 2),
        ]
    );
    let joined: Vec<u8> = got[..4].iter().flat_map(|(_, _, p)| p.clone()).collect();
    assert_eq!(joined, data);
}

#[tokio::test]
async fn a_ping_goes_between_fragments_and_the_sink_sends_items_as_fragments() {
    let (ours, mut peer) = with_fastwebsockets(config()).await;
    let (mut tx, rx) = ours.split();
    {
        let mut sink = tx.message_sink(MessageKind::Text).unwrap();
        sink.send(bytes::Bytes::from("héllo, ".to_owned()))
            .await
            .unwrap();
        // A control frame from the other half while the message is open.
        drop(rx.ping(&b"between"[..]));
        sink.feed(bytes::Bytes::from(vec![b'x'; 1500]))
            .await
            .unwrap();
        sink.flush().await.unwrap();
        sink.close().await.unwrap();
        assert!(sink.is_finished());
    }
    drop((tx, rx));
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool, usize)> = got.iter().map(|(o, f, p)| (*o, *f, p.len())).collect();
    assert_eq!(
        shape,
        [
            (OpCode::Text, false, 8),
            (OpCode::Ping, true, 7),
            (OpCode::Continuation, false, 1000),
            (OpCode::Continuation, false, 500),
            (OpCode::Continuation, true, 0),
            // Dropping the sender closes with 1001.
            (OpCode::Close, true, 2),
        ]
    );
    assert_eq!(got[0].2, "héllo, ".as_bytes());
}

#[tokio::test]
async fn pings_and_a_close_handle_go_between_fragments() {
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    let handle = ours.close_handle();
    let ping = ours.ping(&b"mid"[..]);
    let mut writer = ours.message_writer(MessageKind::Binary).unwrap();
    writer.write_all(&[1u8; 1000]).await.unwrap();
    writer.write_all(&[2u8; 10]).await.unwrap(); // cuts the first fragment
    writer.flush().await.unwrap();
    drop(ping); // queued already; the future is not needed
    handle.close(1000, "stop").unwrap();
    let err = writer.write_all(&[3u8; 2000]).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    drop(writer);
    // Something has to drive the socket to write the close frame.
    let closing = tokio::spawn(async move { handle.closed().await });
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool)> = got.iter().map(|(o, f, _)| (*o, *f)).collect();
    assert_eq!(
        shape,
        [
            (OpCode::Ping, true),
            (OpCode::Binary, false),
            (OpCode::Close, true)
        ]
    );
    assert_eq!(got[2].2[..2], 1000u16.to_be_bytes());
    closing.abort();
    drop(ours);
}

#[tokio::test]
async fn dropping_the_writer_mid_message_fails_the_connection_with_1011() {
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    let mut writer = ours.message_writer(MessageKind::Binary).unwrap();
    writer.write_all(&[7u8; 2500]).await.unwrap();
    drop(writer);
    // The reader learns why, once.
    let err = within(10, ours.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool, usize)> = got.iter().map(|(o, f, p)| (*o, *f, p.len())).collect();
    assert_eq!(
        &shape[..2],
        [
            (OpCode::Binary, false, 1000),
            (OpCode::Continuation, false, 1000)
        ]
    );
    let (op, _, close) = &got[2];
    assert_eq!(*op, OpCode::Close);
    assert_eq!(close[..2], 1011u16.to_be_bytes());
}

#[tokio::test]
async fn hub_deliveries_find_the_subscriber_full_while_a_message_is_open() {
    use websocket_protocol::hub::Hub;
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    let hub = Hub::new();
    let _subscription = hub.subscribe("t", &ours);
    let mut writer = ours.message_writer(MessageKind::Binary).unwrap();
    writer.write_all(&[1u8; 1500]).await.unwrap();
    let report = hub.publish(
        "t",
        websocket_protocol::protocol::PreparedMessage::text("hub"),
    );
    assert_eq!(report.delivered, 0, "{report:?}");
    writer.shutdown().await.unwrap();
    drop(writer);
    let report = hub.publish(
        "t",
        websocket_protocol::protocol::PreparedMessage::text("hub"),
    );
    assert_eq!(report.delivered, 1, "{report:?}");
    ours.close(CloseCode::NORMAL, "").await.ok();
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool)> = got.iter().map(|(o, f, _)| (*o, *f)).collect();
    assert_eq!(
        shape,
        [
            (OpCode::Binary, false),
            (OpCode::Continuation, true),
            (OpCode::Text, true),
            (OpCode::Close, true)
        ]
    );
}

/// The example's binary, which `cargo test` builds beside the tests (built
/// here when only this test file was asked for).
fn send_file_example() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir
        .join("examples")
        .join(format!("send_file{}", std::env::consts::EXE_SUFFIX));
    if !path.exists() {
        let mut cargo = std::process::Command::new(env!("CARGO"));
        cargo.args(["build", "--example", "send_file"]);
        if !cfg!(debug_assertions) {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("cargo build --example send_file");
        assert!(status.success(), "cargo build --example send_file failed");
    }
    path
}

#[tokio::test]
async fn the_send_file_example_streams_a_large_file_in_bounded_memory() {
    const SIZE: usize = 24 << 20;
    let dir = std::env::temp_dir().join(format!("wsp-send-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..SIZE as u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();

    // A tokio-tungstenite server that counts the frames of the message.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let message = ws.next().await.unwrap().unwrap();
        // Then the client's close, answered, and the end.
        while let Some(Ok(_)) = ws.next().await {}
        message.into_data()
    });
    let child = tokio::process::Command::new(send_file_example())
        .arg(format!("ws://{addr}/"))
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the send_file example (cargo build --example send_file)");
    let output = within(120, child.wait_with_output()).await.unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(stdout.trim(), "close frame: 1000 \"file sent\"", "{stderr}");
    let received = within(60, server).await.unwrap();
    assert!(received[..] == data[..], "the bytes arrived as sent");
    let peak: usize = stderr
        .lines()
        .find_map(|l| l.split("peak heap: ").nth(1))
        .and_then(|p| p.split(' ').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no peak in {stderr}"));
    // The fragment being gathered, the write buffer (128 KiB), the masked copy
    // of a fragment, copy's buffer: well under a MiB for a 24 MiB file.
    assert!(
        peak < 1 << 20,
        "peak heap {peak} bytes for a {SIZE}-byte file"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn the_writer_waits_while_the_write_buffer_is_full() {
    // A transport that takes 16 KiB and a peer that reads nothing yet.
    let (ours_io, mut theirs) = tokio::io::duplex(16 << 10);
    let server = tokio::spawn(async move {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            theirs.read_exact(&mut byte).await.unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8(head).unwrap();
        let key = head
            .lines()
            .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key:"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.to_owned())
            .unwrap();
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n\r\n",
            accept_key(key.trim().as_bytes())
        );
        theirs.write_all(response.as_bytes()).await.unwrap();
        theirs
    });
    let config = Config::default()
        .write_buffer_size(128 << 10)
        .options(no_deflate(Options::default()));
    let ws = WebSocket::connect(ours_io, "ws://x/", config)
        .await
        .unwrap();
    let mut theirs = server.await.unwrap();
    let (mut tx, rx) = ws.split();
    const SIZE: usize = 8 << 20;
    let data = vec![5u8; SIZE];
    {
        let mut writer = tx.message_writer(MessageKind::Binary).unwrap();
        let mut write = std::pin::pin!(writer.write_all(&data));
        // Poll until it stops making progress: it must wait, not buffer 8 MiB.
        for _ in 0..200 {
            assert!(futures::poll!(write.as_mut()).is_pending());
            tokio::task::yield_now().await;
        }
        let queued = rx.buffered_amount();
        assert!(
            queued <= (128 << 10) + (64 << 10) + 14,
            "{queued} bytes queued: the write buffer plus a fragment at most"
        );
        // The peer reads: the rest goes through.
        let reader = tokio::spawn(async move {
            let mut total = 0usize;
            let mut buf = vec![0u8; 64 << 10];
            loop {
                let n = theirs.read(&mut buf).await.unwrap();
                if n == 0 {
                    return total;
                }
                total += n;
            }
        });
        within(60, write).await.unwrap();
        within(60, writer.shutdown()).await.unwrap();
        drop(writer);
        drop((tx, rx));
        let total = within(60, reader).await.unwrap();
        // 128 fragments of 64 KiB, each with a 14-byte masked header, the
        // last one with FIN (the writer held it until shutdown), then the
        // 1001 close frame (8 bytes) of the dropped socket.
        assert_eq!(total, SIZE + 128 * 14 + 8);
    }
}

#[tokio::test]
async fn a_fed_last_item_carries_fin() {
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    {
        let mut sink = ours.message_sink(MessageKind::Text).unwrap();
        sink.send(bytes::Bytes::from_static(b"frag")).await.unwrap();
        sink.send(bytes::Bytes::from_static(b"ment")).await.unwrap();
        sink.feed(bytes::Bytes::from_static(b"ed")).await.unwrap();
        sink.close().await.unwrap();
    }
    ours.close(CloseCode::NORMAL, "").await.ok();
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool, &[u8])> = got.iter().map(|(o, f, p)| (*o, *f, &p[..])).collect();
    assert_eq!(
        &shape[..3],
        [
            (OpCode::Text, false, &b"frag"[..]),
            (OpCode::Continuation, false, &b"ment"[..]),
            (OpCode::Continuation, true, &b"ed"[..]),
        ]
    );
}

#[tokio::test]
async fn text_that_is_not_utf8_fails_the_writer_and_dropping_it_fails_with_1011() {
    let (mut ours, mut peer) = with_fastwebsockets(config()).await;
    let mut writer = ours.message_writer(MessageKind::Text).unwrap();
    writer.write_all("é".repeat(600).as_bytes()).await.unwrap(); // a fragment cut mid-code-point
    writer.write_all(b"\xff").await.unwrap(); // gathered, not checked yet
    let err = writer.shutdown().await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    let inner = err
        .get_ref()
        .unwrap()
        .downcast_ref::<websocket_protocol::Error>()
        .unwrap();
    assert!(inner.to_string().contains("not valid UTF-8"), "{inner}");
    // The writer is done.
    assert!(writer.write_all(b"x").await.is_err());
    drop(writer);
    let err = within(10, ours.recv()).await.unwrap().unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::INTERNAL_ERROR));
    let got = frames(&mut peer).await;
    let shape: Vec<(OpCode, bool, usize)> = got.iter().map(|(o, f, p)| (*o, *f, p.len())).collect();
    assert_eq!(shape[0], (OpCode::Text, false, 1000));
    assert_eq!(shape.last().unwrap().0, OpCode::Close);
    assert_eq!(got.last().unwrap().2[..2], 1011u16.to_be_bytes());
}
