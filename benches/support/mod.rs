//! Echo peers over loopback TCP for the end-to-end benchmarks: each library
//! talks to an echo server of its own, on the same runtime.

use futures::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use websocket_protocol::{Config, WebSocket};

/// A connected loopback pair with Nagle off on both ends.
pub async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (client, server) = (client.unwrap(), server.unwrap().0);
    client.set_nodelay(true).unwrap();
    server.set_nodelay(true).unwrap();
    (client, server)
}

/// Our client, connected to our echo server; both ends use `config`.
pub async fn ours(config: Config) -> WebSocket<TcpStream> {
    let (client, server) = tcp_pair().await;
    let server_config = config.clone();
    tokio::spawn(async move {
        let mut ws = WebSocket::accept(server, server_config).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if ws.send(m).await.is_err() {
                break;
            }
        }
    });
    WebSocket::connect(client, "ws://127.0.0.1/", config)
        .await
        .unwrap()
}

/// A tokio-tungstenite client, connected to a tokio-tungstenite echo server.
pub async fn tungstenite() -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let (client, server) = tcp_pair().await;
    tokio::spawn(async move {
        let mut ws = tokio_tungstenite::accept_async(server).await.unwrap();
        while let Some(Ok(m)) = ws.next().await {
            if (m.is_binary() || m.is_text()) && ws.send(m).await.is_err() {
                break;
            }
        }
    });
    tokio_tungstenite::client_async("ws://127.0.0.1/", client)
        .await
        .unwrap()
        .0
}

/// A fastwebsockets client, connected to a fastwebsockets echo server. Both
/// start framing right after the TCP connect (fastwebsockets' own
/// `after_handshake`): the handshake is not part of what is measured.
#[allow(dead_code)]
pub async fn fastwebsockets() -> fastwebsockets::FragmentCollector<TcpStream> {
    use fastwebsockets::{FragmentCollector, Frame, OpCode, Role, WebSocket as Fws};
    let (client, server) = tcp_pair().await;
    tokio::spawn(async move {
        let mut ws = FragmentCollector::new(Fws::after_handshake(server, Role::Server));
        while let Ok(frame) = ws.read_frame().await {
            match frame.opcode {
                OpCode::Text | OpCode::Binary => {
                    let echo = Frame::new(true, frame.opcode, None, frame.payload);
                    if ws.write_frame(echo).await.is_err() {
                        break;
                    }
                }
                OpCode::Close => break,
                _ => {}
            }
        }
    });
    FragmentCollector::new(Fws::after_handshake(client, Role::Client))
}
