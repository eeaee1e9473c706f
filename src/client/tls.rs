//! `wss://` through rustls (feature `rustls`).

use super::error::{Error, ErrorKind};
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;

/// The configuration `wss://` uses unless the builder is given one: the
/// webpki (Mozilla) roots, rustls' safe defaults, ALPN `http/1.1`. Built once.
///
/// The ring provider is named rather than taken from the process default, so
/// it works whichever other rustls providers the application links.
pub(crate) fn default_config() -> Arc<ClientConfig> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots =
                rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports rustls' default protocol versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(config)
        })
        .clone()
}

/// Runs the TLS handshake with `host` over `io`.
pub(crate) async fn connect<S>(
    io: S,
    host: &str,
    config: Option<Arc<ClientConfig>>,
) -> Result<TlsIo<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::Tls,
            format!("{host:?} is not a valid TLS server name"),
        )
        .with_source(e)
    })?;
    let connector = TlsConnector::from(config.unwrap_or_else(default_config));
    let stream = connector.connect(name, io).await.map_err(|e| {
        // tokio-rustls reports TLS alerts and certificate errors as I/O errors
        // wrapping a rustls::Error; anything else is the transport failing.
        let is_tls = e.get_ref().is_some_and(|inner| inner.is::<rustls::Error>());
        let context = format!("TLS handshake with {host}");
        if is_tls {
            Error::new(ErrorKind::Tls, context).with_source(e)
        } else {
            Error::io(context, e)
        }
    })?;
    Ok(TlsIo(stream))
}

/// A client TLS stream that reads a TCP close without TLS `close_notify` as
/// the end of the stream.
///
/// Many servers close that way after the WebSocket closing handshake, and
/// rustls rightly reports it as `UnexpectedEof`, since for HTTP bodies it could
/// hide a truncation. WebSocket frames its own messages and ends with a close
/// frame, so the socket above tells a clean end from a cut one by itself.
pub(crate) struct TlsIo<S>(TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for TlsIo<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(())),
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
