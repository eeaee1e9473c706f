//! TLS for `wss://` and `https://` proxies, through rustls (feature `rustls`).
//!
//! Without the feature this module keeps only the settings type, and asking it
//! for TLS is [`ErrorKind::TlsNotEnabled`]; the builder refuses such URLs
//! before connecting, so that error is a backstop.

use super::error::{Error, ErrorKind};
#[cfg(feature = "rustls")]
use rustls::ClientConfig;
#[cfg(feature = "rustls")]
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// The builder's TLS settings: its `ClientConfig`, or none for the default.
#[derive(Clone, Default)]
pub(crate) struct Tls {
    #[cfg(feature = "rustls")]
    pub(crate) config: Option<Arc<ClientConfig>>,
}

/// Who is at the other end, for the error's kind and words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Server,
    Proxy,
}

/// What [`Tls::connect`] makes of a stream.
#[cfg(feature = "rustls")]
pub(crate) type Secured<S> = imp::TlsIo<S>;
/// Without rustls nothing is ever secured; the type only lets callers compile.
#[cfg(not(feature = "rustls"))]
pub(crate) type Secured<S> = S;

impl Tls {
    /// Whether these settings can run TLS at all.
    pub(crate) const ENABLED: bool = cfg!(feature = "rustls");

    /// Runs the TLS handshake with `host` over `io`. Failures are
    /// [`ErrorKind::Tls`] (or [`ErrorKind::Io`] if the transport failed)
    /// with a server, and [`ErrorKind::Proxy`] with a proxy.
    pub(crate) async fn connect<S>(
        &self,
        io: S,
        host: &str,
        peer: Peer,
    ) -> Result<Secured<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        #[cfg(feature = "rustls")]
        {
            imp::connect(io, host, self.config.clone(), peer).await
        }
        #[cfg(not(feature = "rustls"))]
        {
            let _ = io;
            Err(Error::new(
                ErrorKind::TlsNotEnabled,
                format!(
                    "TLS with {}{host} needs the `rustls` feature of websocket-protocol",
                    if peer == Peer::Proxy { "proxy " } else { "" }
                ),
            ))
        }
    }
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        #[cfg(feature = "rustls")]
        let config = if self.config.is_some() {
            "custom"
        } else {
            "default"
        };
        #[cfg(not(feature = "rustls"))]
        let config = "disabled";
        f.write_str(config)
    }
}

#[cfg(feature = "rustls")]
mod imp {
    use super::{Error, ErrorKind, Peer};
    use rustls::pki_types::ServerName;
    use rustls::{ClientConfig, RootCertStore};
    use std::io;
    use std::pin::Pin;
    use std::sync::{Arc, OnceLock};
    use std::task::{Context, Poll};
    use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
    use tokio_rustls::client::TlsStream;
    use tokio_rustls::TlsConnector;

    /// The configuration used unless the builder is given one: the webpki
    /// (Mozilla) roots, plus the platform's with feature
    /// `rustls-native-roots`, rustls' safe defaults, ALPN `http/1.1`. Built
    /// once per process.
    ///
    /// The ring provider is named rather than taken from the process default,
    /// so it works whichever other rustls providers the application links.
    pub(crate) fn default_config() -> Arc<ClientConfig> {
        static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
        CONFIG
            .get_or_init(|| {
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                let mut config = ClientConfig::builder_with_provider(provider)
                    .with_safe_default_protocol_versions()
                    .expect("ring supports rustls' default protocol versions")
                    .with_root_certificates(roots())
                    .with_no_client_auth();
                config.alpn_protocols = vec![b"http/1.1".to_vec()];
                Arc::new(config)
            })
            .clone()
    }

    fn roots() -> RootCertStore {
        #[allow(unused_mut)]
        let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        #[cfg(feature = "rustls-native-roots")]
        {
            // Certificates the platform store cannot read or parse are
            // skipped: one bad entry must not cost every other root, and the
            // webpki roots stand regardless.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
        }
        roots
    }

    pub(super) async fn connect<S>(
        io: S,
        host: &str,
        config: Option<Arc<ClientConfig>>,
        peer: Peer,
    ) -> Result<TlsIo<S>, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (who, proxy) = match peer {
            Peer::Server => ("", false),
            Peer::Proxy => ("proxy ", true),
        };
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            let kind = if proxy {
                ErrorKind::Proxy
            } else {
                ErrorKind::Tls
            };
            Error::new(kind, format!("{host:?} is not a valid TLS server name")).with_source(e)
        })?;
        let connector = TlsConnector::from(config.unwrap_or_else(default_config));
        let stream = connector.connect(name, io).await.map_err(|e| {
            // tokio-rustls reports TLS alerts and certificate errors as I/O
            // errors wrapping a rustls::Error; anything else is the transport
            // failing.
            let is_tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
            let context = format!("TLS handshake with {who}{host}");
            if proxy {
                Error::new(ErrorKind::Proxy, context).with_source(e)
            } else if is_tls {
                Error::new(ErrorKind::Tls, context).with_source(e)
            } else {
                Error::io(context, e)
            }
        })?;
        Ok(TlsIo(stream))
    }

    /// A client TLS stream that reads a TCP close without TLS `close_notify`
    /// as the end of the stream.
    ///
    /// Many servers close that way after the WebSocket closing handshake, and
    /// rustls rightly reports it as `UnexpectedEof`, since for HTTP bodies it
    /// could hide a truncation. WebSocket frames its own messages and ends
    /// with a close frame, so the socket above tells a clean end from a cut
    /// one by itself.
    pub(crate) struct TlsIo<S>(TlsStream<S>);

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsIo<S> {
        fn poll_read(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            match Pin::new(&mut self.0).poll_read(cx, buf) {
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    Poll::Ready(Ok(()))
                }
                other => other,
            }
        }
    }

    impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for TlsIo<S> {
        fn poll_write(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write(cx, buf)
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            bufs: &[io::IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
        }

        fn is_write_vectored(&self) -> bool {
            self.0.is_write_vectored()
        }

        fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_flush(cx)
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }
}
