//! Through tinyproxy, a CONNECT proxy nobody on this project wrote, chosen by
//! proxy settings in the environment's form, with Basic credentials.
//! Needs `tinyproxy` on the PATH (Debian's `tinyproxy-bin`); `.ci/run`
//! installs it.

mod client_support;

use client_support::*;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::process::Stdio;
use websocket_protocol::client::{Builder, ErrorKind, ProxyEnv};
use websocket_protocol::Message;

/// A tinyproxy on a free loopback port that wants `aladdin:opensesame`,
/// killed when dropped.
struct Tinyproxy {
    addr: SocketAddr,
    _child: tokio::process::Child,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn tinyproxy() -> Tinyproxy {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("wsp-tinyproxy-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("tinyproxy.conf");
    // No ConnectPort line: CONNECT to any port is allowed.
    std::fs::write(
        &conf,
        format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nMaxClients 8\n\
             BasicAuth aladdin opensesame\nLogLevel Warning\n"
        ),
    )
    .unwrap();
    let child = tokio::process::Command::new("tinyproxy")
        .arg("-d")
        .arg("-c")
        .arg(&conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("tinyproxy on the PATH (apt-get install tinyproxy-bin)");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Ready once it accepts; bounded by count, not by a clock.
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Tinyproxy {
                addr,
                _child: child,
                _dir: TempDir(dir),
            };
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("tinyproxy did not start listening on {addr}");
}

fn settings(var: &'static str, value: String) -> ProxyEnv {
    ProxyEnv::from_lookup(move |name| (name == var).then(|| value.clone()))
}

async fn echo_server() -> SocketAddr {
    tungstenite_server(None, |_, mut ws| async move {
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() || message.is_binary() {
                ws.send(message).await.unwrap();
            }
        }
    })
    .await
}

#[tokio::test]
#[ignore = "needs tinyproxy (Debian's tinyproxy-bin); .ci/run installs it"]
async fn ws_through_tinyproxy_with_credentials() {
    let proxy = tinyproxy().await;
    let server = echo_server().await;
    let env = settings(
        "http_proxy",
        format!("http://aladdin:opensesame@{}", proxy.addr),
    );
    let (mut ws, _) = within(
        Builder::new(format!("ws://{server}/"))
            .proxy_env(env)
            .connect(),
    )
    .await
    .unwrap();
    for size in [0, 125, 65536] {
        let payload = vec![b'x'; size];
        within(ws.send(Message::binary(payload.clone())))
            .await
            .unwrap();
        let echoed = within(ws.recv()).await.unwrap().unwrap();
        assert_eq!(echoed, Message::binary(payload));
    }
}

#[tokio::test]
#[ignore = "needs tinyproxy (Debian's tinyproxy-bin); .ci/run installs it"]
async fn tinyproxy_refusing_bad_credentials_is_a_proxy_error() {
    let proxy = tinyproxy().await;
    let env = settings("all_proxy", format!("http://aladdin:wrong@{}", proxy.addr));
    let err = within(Builder::new("ws://127.0.0.1:9/").proxy_env(env).connect())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Proxy, "{err:?}");
    // tinyproxy answers 401 where RFC 9110 would have 407.
    let status = err.status().unwrap().as_u16();
    assert!(status == 401 || status == 407, "{err}");
}

#[cfg(feature = "rustls")]
#[tokio::test]
#[ignore = "needs tinyproxy (Debian's tinyproxy-bin); .ci/run installs it"]
async fn wss_through_tinyproxy_from_https_proxy() {
    use client_support::tls::{client_config, pki, tls_listener};
    let pki = pki();
    let (addr, tls) = tls_listener(&pki).await;
    tokio::spawn(async move {
        let tls = tls.await.unwrap().expect("server TLS handshake");
        let (_, mut ws) = tungstenite_accept(tls, None).await;
        while let Some(Ok(message)) = ws.next().await {
            if message.is_text() {
                ws.send(message).await.unwrap();
            }
        }
    });
    let proxy = tinyproxy().await;
    let env = settings(
        "HTTPS_PROXY",
        format!("http://aladdin:opensesame@{}", proxy.addr),
    );
    let (mut ws, _) = within(
        Builder::new(format!("wss://localhost:{}/", addr.port()))
            .proxy_env(env)
            .tls_config(client_config(&pki.root))
            .connect(),
    )
    .await
    .unwrap();
    within(ws.send(Message::text("tls inside the tunnel")))
        .await
        .unwrap();
    let echoed = within(ws.recv()).await.unwrap().unwrap();
    assert_eq!(echoed, Message::text("tls inside the tunnel"));
}
