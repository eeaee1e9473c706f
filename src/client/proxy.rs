//! Tunnels through an HTTP proxy with `CONNECT` (RFC 9110 section 9.3.6), in
//! plain TCP or in TLS to an `https://` proxy.

use super::error::{Error, ErrorKind};
use super::exchange::{body_start, hyper_error, Background, ClientStream};
use super::target::{tcp_connect, Target};
use super::tls::{Peer, Tls};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// An `http://` or `https://` proxy, `[user:password@]host[:port]`.
#[derive(Clone)]
pub(crate) struct Proxy {
    /// The proxy itself; `secure` for an `https://` proxy.
    target: Target,
    /// `Proxy-Authorization: Basic ...` from the URL's credentials.
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for Proxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The credentials stay out of logs.
        f.debug_struct("Proxy")
            .field("target", &self.target)
            .field("authorization", &self.authorization.as_ref().map(|_| ".."))
            .finish()
    }
}

impl Proxy {
    /// Parses a proxy URL; `from` names where it came from (the builder or an
    /// environment variable) for the error. A URL without a scheme is an
    /// `http://` one, as curl takes it. The port defaults to the scheme's
    /// (80, 443); a path is ignored.
    pub(crate) fn parse(url: &str, from: &str) -> Result<Proxy, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidUrl,
                format!("proxy URL {:?} from {from}: {why}", redact_userinfo(url)),
            )
        };
        let with_scheme;
        let full = if url.contains("://") {
            url
        } else {
            with_scheme = format!("http://{url}");
            &with_scheme
        };
        let uri: http::Uri = full.parse().map_err(|_| invalid("not a URL"))?;
        let secure = match uri.scheme_str().map(str::to_ascii_lowercase).as_deref() {
            Some("http") => false,
            Some("https") => true,
            Some(other) => {
                return Err(invalid(&format!(
                    "{other}:// proxies are not supported, only http:// and https://"
                )))
            }
            None => return Err(invalid("not a URL")),
        };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let authorization = match authority.as_str().rsplit_once('@') {
            Some((userinfo, _)) => Some(
                basic(userinfo)
                    .ok_or_else(|| invalid("the credentials are not valid percent-encoding"))?,
            ),
            None => None,
        };
        let port = authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 });
        Ok(Proxy {
            target: Target::new(authority.host(), port, secure),
            authorization,
        })
    }

    /// The proxy's host, without IPv6 brackets.
    #[cfg(test)]
    pub(crate) fn host(&self) -> &str {
        self.target.bare_host()
    }

    /// Whether the proxy is reached over TLS.
    pub(crate) fn secure(&self) -> bool {
        self.target.secure()
    }

    /// Opens a tunnel through the proxy to `to`. An `https://` proxy is
    /// reached over TLS with `tls`'s configuration.
    pub(crate) async fn tunnel(
        &self,
        to: &Target,
        tls: &Tls,
        max_error_body: usize,
        deadline: Option<Instant>,
    ) -> Result<ClientStream, Error> {
        let tcp = tcp_connect(&self.target).await.map_err(|e| {
            Error::new(
                ErrorKind::Proxy,
                format!("connecting to proxy {}", self.target.authority()),
            )
            .with_source(e)
        })?;
        if self.secure() {
            let tls = tls
                .connect(tcp, self.target.bare_host(), Peer::Proxy)
                .await?;
            self.connect(tls, to, max_error_body, deadline).await
        } else {
            self.connect(tcp, to, max_error_body, deadline).await
        }
    }

    /// Sends `CONNECT` over `io`, a stream to the proxy, and takes the tunnel.
    async fn connect<S>(
        &self,
        io: S,
        to: &Target,
        max_error_body: usize,
        deadline: Option<Instant>,
    ) -> Result<ClientStream, Error>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let proxy = self.target.authority();
        let fail = |context: String| {
            move |e: hyper::Error| hyper_error(Some(ErrorKind::Proxy), &context, e)
        };
        let (mut sender, conn) = http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(io))
            .await
            .map_err(fail(format!("talking to proxy {proxy}")))?;
        let mut background = Background::new(conn);

        let authority = to.authority();
        let mut request = http::Request::connect(&authority)
            .header(http::header::HOST, &authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidUrl,
                    format!("{authority:?} is not a host and port"),
                )
                .with_source(e)
            })?;
        if let Some(auth) = &self.authorization {
            request
                .headers_mut()
                .insert(http::header::PROXY_AUTHORIZATION, auth.clone());
        }
        let mut response = background
            .drive(sender.send_request(request))
            .await
            .map_err(|e| {
                let e = background.take_error().unwrap_or(e);
                fail(format!("sending CONNECT {authority} to proxy {proxy}"))(e)
            })?;
        if !response.status().is_success() {
            let status = response.status();
            let mut head = http::Response::new(());
            *head.status_mut() = status;
            *head.headers_mut() = std::mem::take(response.headers_mut());
            let body = body_start(
                &mut background,
                response.into_body(),
                max_error_body,
                deadline,
            )
            .await;
            return Err(Error::new(
                ErrorKind::Proxy,
                format!("proxy {proxy} refused CONNECT {authority} with status {status}"),
            )
            .with_response(head.map(|()| body)));
        }
        let upgraded = background
            .drive(hyper::upgrade::on(response))
            .await
            .map_err(|e| {
                let e = background.take_error().unwrap_or(e);
                fail(format!("opening the tunnel through proxy {proxy}"))(e)
            })?;
        Ok(TokioIo::new(upgraded))
    }
}

/// `Proxy-Authorization: Basic` for a URL's `user:password` (each
/// percent-decoded, RFC 3986 section 3.2.1), or `None` if an escape is broken.
fn basic(userinfo: &str) -> Option<HeaderValue> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let mut credentials = percent_decode(user)?;
    credentials.push(b':');
    credentials.extend(percent_decode(password)?);
    let mut value = HeaderValue::try_from(format!("Basic {}", BASE64.encode(credentials)))
        .expect("base64 is a valid header value");
    value.set_sensitive(true);
    Some(value)
}

fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex = [bytes.next()?, bytes.next()?];
            let hex = std::str::from_utf8(&hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        } else {
            out.push(b);
        }
    }
    Some(out)
}

/// `http://user:pass@host` -> `http://..@host`, for logs and errors.
pub(crate) fn redact_userinfo(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    // The authority ends at the first `/`, `?` or `#` after the scheme.
    let end = url[start..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| start + i);
    match url[start..end].rfind('@') {
        Some(at) => format!("{}..{}", &url[..start], &url[start + at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(url: &str) -> Option<String> {
        let proxy = Proxy::parse(url, "test").unwrap();
        proxy.authorization.map(|v| v.to_str().unwrap().to_owned())
    }

    #[test]
    fn schemes_ports_and_a_missing_scheme() {
        let p = Proxy::parse("http://proxy.corp", "x").unwrap();
        assert_eq!(
            (p.target.authority(), p.secure()),
            ("proxy.corp:80".into(), false)
        );
        let p = Proxy::parse("HTTPS://proxy.corp/", "x").unwrap();
        assert_eq!(
            (p.target.authority(), p.secure()),
            ("proxy.corp:443".into(), true)
        );
        let p = Proxy::parse("proxy.corp:3128", "x").unwrap();
        assert_eq!(
            (p.target.authority(), p.secure()),
            ("proxy.corp:3128".into(), false)
        );
        let p = Proxy::parse("user:pw@[::1]:3128", "x").unwrap();
        assert_eq!(p.target.authority(), "[::1]:3128");
        assert!(p.authorization.is_some());
    }

    #[test]
    fn other_schemes_and_garbage_are_invalid_urls_naming_their_source() {
        for url in ["socks5://p:1080", "http://", "http://a b/", "ftp://x"] {
            let err = Proxy::parse(url, "HTTPS_PROXY").unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidUrl, "{url}");
            assert!(err.to_string().contains("from HTTPS_PROXY"), "{err}");
        }
    }

    #[test]
    fn credentials_are_percent_decoded_before_encoding() {
        assert_eq!(
            auth("http://aladdin:opensesame@p:1").as_deref(),
            Some("Basic YWxhZGRpbjpvcGVuc2VzYW1l")
        );
        // "user@corp" : "p:ss w%rd"
        assert_eq!(
            auth("http://user%40corp:p%3Ass%20w%25rd@p:1").as_deref(),
            Some(format!("Basic {}", BASE64.encode("user@corp:p:ss w%rd")).as_str())
        );
        assert_eq!(
            auth("http://justuser@p:1").as_deref(),
            Some(format!("Basic {}", BASE64.encode("justuser:")).as_str())
        );
        assert_eq!(auth("http://p:1"), None);
    }

    #[test]
    fn broken_escapes_are_refused_without_echoing_the_password() {
        let err = Proxy::parse("http://user:secret%zz@p:1", "Builder::proxy").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidUrl);
        assert!(!err.to_string().contains("secret"), "{err}");
        assert!(Proxy::parse("http://user:abc%4@p:1", "x").is_err());
    }

    #[test]
    fn redaction_hides_userinfo_only() {
        assert_eq!(redact_userinfo("http://u:p@h:1/"), "http://..@h:1/");
        assert_eq!(redact_userinfo("u:p@h:1"), "..@h:1");
        assert_eq!(redact_userinfo("http://h:1/a@b"), "http://h:1/a@b");
        assert_eq!(redact_userinfo("http://h:1"), "http://h:1");
    }
}
