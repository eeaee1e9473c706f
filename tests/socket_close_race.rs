//! The clean close is clean whatever the transport does after it: the server
//! fails the connection with 1009 and goes away at once; the client's stream
//! ends with the 1009 close frame, never with an I/O error from writing its
//! echo to (or reading from) a transport the server has already dropped.
//! 1,000 runs over an in-memory pipe and 1,000 over loopback TCP, with no
//! sleeps: each run races the server's drop against the client's read.

// Only its TCP pair is used here.
#[allow(unused_imports)]
mod socket_support;

use socket_support::tcp_pair;
use tokio::io::{AsyncRead, AsyncWrite};
use websocket_protocol::{CloseCode, Config, ErrorKind, WebSocket};

const RUNS: usize = 1000;

async fn run<IO>(server: IO, client: IO, i: usize)
where
    IO: AsyncRead + AsyncWrite + Unpin,
{
    let (server, client) = tokio::join!(
        WebSocket::accept(server, Config::default().max_message_size(100)),
        WebSocket::connect(client, "ws://localhost/", Config::default())
    );
    let (mut server, mut client) = (server.unwrap(), client.unwrap());
    client.binary(vec![7u8; 200]).await.unwrap();
    let (failed, end) = tokio::join!(
        async move {
            let failed = server.recv().await;
            // Gone as soon as it has failed: the transport closes under the
            // client's echo of the close frame.
            drop(server);
            failed
        },
        client.recv()
    );
    let err = failed
        .expect("an error")
        .expect_err("the message is too big");
    assert_eq!(err.kind(), ErrorKind::LimitExceeded, "run {i}: {err}");
    assert!(
        end.is_none(),
        "run {i}: the client's stream ended with {end:?}"
    );
    let frame = client.close_frame().expect("a close frame");
    assert_eq!(frame.code, CloseCode::TOO_BIG, "run {i}");
    assert_eq!(
        frame.reason.as_str(),
        "frame or message exceeds the configured maximum",
        "run {i}"
    );
    // The end is not an error later either.
    assert!(client.recv().await.is_none(), "run {i}");
}

#[tokio::test]
async fn over_an_in_memory_pipe_the_client_ends_cleanly_with_1009() {
    for i in 0..RUNS {
        let (server, client) = tokio::io::duplex(8 << 10);
        run(server, client, i).await;
    }
}

#[tokio::test]
async fn over_tcp_the_client_ends_cleanly_with_1009() {
    for i in 0..RUNS {
        let (client, server) = tcp_pair().await;
        run(server, client, i).await;
    }
}
