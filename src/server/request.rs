//! What a handler learns about the request that opened its socket.

use bytes::Bytes;
use http::{Extensions, HeaderMap, HeaderValue, Method, Uri, Version};
use std::borrow::Cow;

/// The upgrade request, minus its body: method, URI, HTTP version, headers and
/// extensions (axum's `MatchedPath`, a `ConnectInfo`, whatever earlier layers
/// inserted). hyper's own upgrade handle has been taken out of the extensions.
///
/// It holds memory of its own: the URI and the header values are copied out
/// of hyper's read buffer (8 to 16 KiB, which they point into), so a handler
/// that keeps the request for the socket's life does not keep that buffer.
/// It is one pointer wide, so that it weighs little in the futures that carry
/// it (a handler's, for the socket's life).
#[derive(Clone)]
pub struct RequestInfo(Box<Head>);

#[derive(Clone)]
struct Head {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
}

impl std::fmt::Debug for RequestInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestInfo")
            .field("method", &self.0.method)
            .field("uri", &self.0.uri)
            .field("version", &self.0.version)
            .field("headers", &self.0.headers)
            .field("extensions", &self.0.extensions)
            .finish()
    }
}

impl RequestInfo {
    pub(crate) fn from_parts(mut parts: http::request::Parts) -> Self {
        detach(&mut parts.uri, &mut parts.headers);
        RequestInfo(Box::new(Head {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            // The table hyper's upgrade handle was in, if nothing else is.
            extensions: match parts.extensions.is_empty() {
                true => Extensions::new(),
                false => parts.extensions,
            },
        }))
    }

    /// The request method: GET, or CONNECT for WebSocket over HTTP/2.
    pub fn method(&self) -> &Method {
        &self.0.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.0.uri
    }

    /// The HTTP version the request came over.
    pub fn version(&self) -> Version {
        self.0.version
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.0.headers
    }

    /// The request extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.0.extensions
    }

    /// The request extensions, to take values out of.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.0.extensions
    }
}

/// Points the URI and the header values into one buffer of their own, no
/// longer slices of hyper's read buffer. The map itself and the header names
/// are hyper's own allocations (or static), and stay as they are.
fn detach(uri: &mut Uri, headers: &mut HeaderMap) {
    // The usual target is a path and query, whose text is at hand; any other
    // form is written out.
    let uri_text = match (uri.scheme(), uri.authority(), uri.path_and_query()) {
        (None, None, Some(target)) => Cow::Borrowed(target.as_str()),
        _ => Cow::Owned(uri.to_string()),
    };
    let uri_len = uri_text.len();
    let mut all = Vec::with_capacity(uri_len + headers.values().map(|v| v.len()).sum::<usize>());
    all.extend_from_slice(uri_text.as_bytes());
    drop(uri_text);
    for value in headers.values() {
        all.extend_from_slice(value.as_bytes());
    }
    let all = Bytes::from(all);
    // The bytes are those of a valid URI and valid values.
    if let Ok(copy) = Uri::from_maybe_shared(all.slice(..uri_len)) {
        *uri = copy;
    }
    let mut at = uri_len;
    for value in headers.values_mut() {
        let bytes = all.slice(at..at + value.len());
        at += value.len();
        if let Ok(mut copy) = HeaderValue::from_maybe_shared(bytes) {
            copy.set_sensitive(value.is_sensitive());
            *value = copy;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_keeps_nothing_of_the_buffer_it_was_parsed_from() {
        // As hyper parses: the URI and the values are slices of its read buffer.
        let buffer = Bytes::from_static(b"/chat?room=1 server.example.com a b Bearer x");
        let at = |from: usize, to: usize| buffer.slice(from..to);
        let mut request = http::Request::new(());
        *request.uri_mut() = Uri::from_maybe_shared(at(0, 12)).unwrap();
        let headers = request.headers_mut();
        headers.append("host", HeaderValue::from_maybe_shared(at(13, 31)).unwrap());
        headers.append(
            "x-multi",
            HeaderValue::from_maybe_shared(at(32, 33)).unwrap(),
        );
        headers.append(
            "x-multi",
            HeaderValue::from_maybe_shared(at(34, 35)).unwrap(),
        );
        let mut secret = HeaderValue::from_maybe_shared(at(36, 44)).unwrap();
        secret.set_sensitive(true);
        headers.append("authorization", secret);
        request.extensions_mut().insert(7u8);
        let (parts, ()) = request.into_parts();
        let expected = parts.headers.clone();

        let info = RequestInfo::from_parts(parts);
        assert_eq!(info.uri(), "/chat?room=1");
        assert_eq!(info.uri().query(), Some("room=1"));
        assert_eq!(info.headers(), &expected);
        let multi: Vec<_> = info.headers().get_all("x-multi").iter().collect();
        assert_eq!(multi, ["a", "b"]);
        assert!(info.headers()["authorization"].is_sensitive());
        assert!(!info.headers()["host"].is_sensitive());
        assert_eq!(info.extensions().get::<u8>(), Some(&7));
        let inside = buffer.as_ptr_range();
        let points_in = |bytes: &[u8]| inside.contains(&bytes.as_ptr());
        assert!(!points_in(info.uri().path().as_bytes()));
        for value in info.headers().values() {
            assert!(!points_in(value.as_bytes()), "{value:?}");
        }
    }
}
