//! Where a URL points: host, port, and whether it wants TLS.

use super::error::{Error, ErrorKind};
use tokio::net::TcpStream;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// As written in the URL: an IPv6 address keeps its brackets.
    host: String,
    port: u16,
    secure: bool,
}

impl Target {
    pub(crate) fn new(host: &str, port: u16, secure: bool) -> Target {
        Target {
            host: host.to_owned(),
            port,
            secure,
        }
    }

    /// The server of a `ws://` or `wss://` URL the core has accepted.
    pub(crate) fn from_url(url: &str) -> Result<Target, Error> {
        let invalid = || {
            Error::new(
                ErrorKind::InvalidUrl,
                format!("{url:?} is not a WebSocket URL"),
            )
        };
        let uri: http::Uri = url.parse().map_err(|_| invalid())?;
        let secure = matches!(uri.scheme_str(), Some("wss" | "https"));
        let host = uri.host().ok_or_else(invalid)?;
        let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
        Ok(Target::new(host, port, secure))
    }

    pub(crate) fn secure(&self) -> bool {
        self.secure
    }

    /// The host without IPv6 brackets, for name resolution and TLS.
    pub(crate) fn bare_host(&self) -> &str {
        self.host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&self.host)
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `host:port`, as `CONNECT` and error messages want it.
    pub(crate) fn authority(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// Connects with Nagle off: WebSocket frames are messages, not a byte stream
/// worth coalescing.
pub(crate) async fn tcp_connect(target: &Target) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect((target.bare_host(), target.port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_default_by_scheme_and_ipv6_loses_brackets_only_where_needed() {
        let t = Target::from_url("wss://example.com/chat").unwrap();
        assert_eq!(
            (t.authority(), t.secure()),
            ("example.com:443".into(), true)
        );
        let t = Target::from_url("ws://[::1]:9001").unwrap();
        assert_eq!((t.bare_host(), t.authority()), ("::1", "[::1]:9001".into()));
        assert!(!t.secure());
    }
}
