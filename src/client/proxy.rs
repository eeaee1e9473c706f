//! Tunnels through an HTTP proxy with `CONNECT` (RFC 9110 section 9.3.6).

use super::error::{Error, ErrorKind};
use super::exchange::{body_start, hyper_error, Background, ClientStream};
use super::target::{tcp_connect, Target};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use bytes::Bytes;
use http::HeaderValue;
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::time::Instant;

/// An `http://[user:password@]host[:port]` proxy.
#[derive(Clone)]
pub(crate) struct Proxy {
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
    pub(crate) fn parse(url: &str) -> Result<Proxy, Error> {
        let invalid =
            |why: &str| Error::new(ErrorKind::InvalidUrl, format!("proxy URL {url:?}: {why}"));
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(invalid("only http:// proxies are supported"));
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let authorization = match authority.as_str().rsplit_once('@') {
            Some((credentials, _)) => {
                let value = format!("Basic {}", BASE64.encode(credentials));
                Some(HeaderValue::try_from(value).map_err(|_| invalid("invalid credentials"))?)
            }
            None => None,
        };
        Ok(Proxy {
            target: Target::new(authority.host(), authority.port_u16().unwrap_or(80), false),
            authorization,
        })
    }

    /// Opens a tunnel through the proxy to `to`.
    pub(crate) async fn tunnel(
        &self,
        to: &Target,
        max_error_body: usize,
        deadline: Option<Instant>,
    ) -> Result<ClientStream, Error> {
        let proxy = self.target.authority();
        let fail = |context: String| {
            move |e: hyper::Error| hyper_error(Some(ErrorKind::Proxy), &context, e)
        };
        let tcp = tcp_connect(&self.target).await.map_err(|e| {
            Error::new(ErrorKind::Proxy, format!("connecting to proxy {proxy}")).with_source(e)
        })?;
        let (mut sender, conn) = http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(tcp))
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
