//! Peers for the client tests: a tokio-tungstenite server and raw servers that
//! answer with fixed bytes.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::WebSocketStream;

/// Nothing in these tests may hang.
pub const LIMIT: Duration = Duration::from_secs(5);

pub async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(LIMIT, fut)
        .await
        .expect("test took too long")
}

/// What a tungstenite server saw of the upgrade request.
#[derive(Debug)]
pub struct Seen {
    pub uri: String,
    pub headers: http::HeaderMap,
}

/// Runs the tungstenite handshake over `stream`: picks `choose` as subprotocol
/// if given, reports the request and returns the socket.
// tungstenite's callback signature fixes the size of the error type.
#[allow(clippy::result_large_err)]
pub async fn tungstenite_accept<S>(
    stream: S,
    choose: Option<&'static str>,
) -> (Seen, WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (tx, rx) = oneshot::channel();
    let callback = move |req: &Request, mut res: Response| -> Result<Response, ErrorResponse> {
        let _ = tx.send(Seen {
            uri: req.uri().to_string(),
            headers: req.headers().clone(),
        });
        if let Some(p) = choose {
            res.headers_mut()
                .insert("sec-websocket-protocol", p.parse().unwrap());
        }
        Ok(res)
    };
    let ws = tokio_tungstenite::accept_hdr_async(stream, callback)
        .await
        .expect("tungstenite handshake");
    (rx.await.unwrap(), ws)
}

/// A one-connection tungstenite server on loopback; `serve` gets what the
/// handshake saw and the socket.
pub async fn tungstenite_server<F, Fut>(choose: Option<&'static str>, serve: F) -> SocketAddr
where
    F: FnOnce(Seen, WebSocketStream<tokio::net::TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let (seen, ws) = tungstenite_accept(tcp, choose).await;
        serve(seen, ws).await;
    });
    addr
}

/// Reads one HTTP request head (up to the blank line) from `stream`.
pub async fn read_head<S: AsyncRead + Unpin>(stream: &mut S) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    String::from_utf8(head).unwrap()
}

/// The value of header `name` in a raw request head.
pub fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The correct `Sec-WebSocket-Accept` for a raw request head.
pub fn accept_for(head: &str) -> String {
    derive_accept_key(header(head, "sec-websocket-key").unwrap().as_bytes())
}

/// A one-connection server that reads the request head, writes what `answer`
/// makes of it, then keeps the connection open until the client goes away.
/// The join handle gives back the request head.
pub async fn raw_server<F>(answer: F) -> (SocketAddr, tokio::task::JoinHandle<String>)
where
    F: FnOnce(&str) -> Vec<u8> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let head = read_head(&mut tcp).await;
        let bytes = answer(&head);
        let _ = tcp.write_all(&bytes).await;
        let mut sink = [0u8; 1024];
        while let Ok(Ok(n)) = tokio::time::timeout(LIMIT, tcp.read(&mut sink)).await {
            if n == 0 {
                break;
            }
        }
        head
    });
    (addr, task)
}

/// A 101 with the right accept key plus `extra` header lines (each ending
/// in `\r\n`).
pub fn switching(head: &str, extra: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n{extra}\r\n",
        accept_for(head)
    )
    .into_bytes()
}

/// A local TLS server: a certificate for `localhost` signed by a root made
/// for the test, and a client configuration that trusts only that root.
#[cfg(feature = "rustls")]
pub mod tls {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    use std::net::SocketAddr;
    use std::sync::Arc;
    use tokio::net::TcpListener;
    use tokio_rustls::server::TlsStream;
    use tokio_rustls::TlsAcceptor;

    pub struct Pki {
        pub root: CertificateDer<'static>,
        pub chain: Vec<CertificateDer<'static>>,
        pub key: PrivatePkcs8KeyDer<'static>,
    }

    pub fn pki() -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "websocket-protocol test root");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let leaf = CertificateParams::new(vec!["localhost".to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        Pki {
            root: ca.der().clone(),
            chain: vec![leaf.der().clone(), ca.der().clone()],
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    fn provider() -> Arc<rustls::crypto::CryptoProvider> {
        Arc::new(rustls::crypto::ring::default_provider())
    }

    /// A client configuration trusting only `root`.
    pub fn client_config(root: &CertificateDer<'static>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(root.clone()).unwrap();
        Arc::new(
            rustls::ClientConfig::builder_with_provider(provider())
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth(),
        )
    }

    pub fn acceptor(pki: &Pki) -> TlsAcceptor {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(pki.chain.clone(), PrivateKeyDer::Pkcs8(pki.key.clone_key()))
            .unwrap();
        TlsAcceptor::from(Arc::new(config))
    }

    /// Accepts one TCP connection and runs the TLS handshake on it; the
    /// handle gives the TLS stream, or the TLS error the server saw.
    pub async fn tls_listener(
        pki: &Pki,
    ) -> (
        SocketAddr,
        tokio::task::JoinHandle<std::io::Result<TlsStream<tokio::net::TcpStream>>>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = acceptor(pki);
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            acceptor.accept(tcp).await
        });
        (addr, task)
    }
}

/// A CONNECT proxy on loopback for any number of connections: reads the
/// request head, checks `Proxy-Authorization` if told to, dials the target and
/// splices the two streams. Every request head it reads is reported, in order.
pub mod proxy {
    use super::{header, read_head};
    use std::net::SocketAddr;
    use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::mpsc;

    pub struct TestProxy {
        pub addr: SocketAddr,
        heads: mpsc::UnboundedReceiver<String>,
    }

    impl TestProxy {
        /// The next request head the proxy read.
        pub async fn head(&mut self) -> String {
            super::within(self.heads.recv())
                .await
                .expect("the proxy is running")
        }

        /// Whether no request has reached the proxy (yet).
        pub fn untouched(&mut self) -> bool {
            self.heads.try_recv().is_err()
        }
    }

    /// A plain-TCP proxy; with `auth`, requests whose `Proxy-Authorization`
    /// is not exactly `auth` get 407.
    pub async fn start(auth: Option<&'static str>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, heads) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(serve(tcp, auth, tx.clone()));
            }
        });
        TestProxy { addr, heads }
    }

    /// A proxy reached over TLS with a certificate for `localhost` from `pki`.
    #[cfg(feature = "rustls")]
    pub async fn start_tls(pki: &super::tls::Pki, auth: Option<&'static str>) -> TestProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = super::tls::acceptor(pki);
        let (tx, heads) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    // A client that refuses our certificate hangs up here.
                    if let Ok(tls) = acceptor.accept(tcp).await {
                        serve(tls, auth, tx).await;
                    }
                });
            }
        });
        TestProxy { addr, heads }
    }

    async fn serve<S>(
        mut client: S,
        auth: Option<&'static str>,
        heads: mpsc::UnboundedSender<String>,
    ) where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let head = read_head(&mut client).await;
        let _ = heads.send(head.clone());
        let answer = |status: &str, extra: &str| {
            format!("HTTP/1.1 {status}\r\n{extra}Content-Length: 0\r\n\r\n")
        };
        let mut words = head.split(' ');
        let (Some("CONNECT"), Some(target)) = (words.next(), words.next()) else {
            let _ = client
                .write_all(answer("405 Method Not Allowed", "").as_bytes())
                .await;
            return;
        };
        if auth.is_some() && header(&head, "proxy-authorization") != auth {
            let refusal = answer(
                "407 Proxy Authentication Required",
                "Proxy-Authenticate: Basic realm=\"test\"\r\n",
            );
            let _ = client.write_all(refusal.as_bytes()).await;
            return;
        }
        let target = target.replace("localhost", "127.0.0.1");
        let Ok(mut upstream) = TcpStream::connect(&target).await else {
            let _ = client
                .write_all(answer("502 Bad Gateway", "").as_bytes())
                .await;
            return;
        };
        if client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await
            .is_ok()
        {
            let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
        }
    }
}
