//! What a handler learns about the request that opened its socket.

use http::{Extensions, HeaderMap, Method, Uri, Version};

/// The upgrade request, minus its body: method, URI, HTTP version, headers and
/// extensions (axum's `MatchedPath`, a `ConnectInfo`, whatever earlier layers
/// inserted). hyper's own upgrade handle has been taken out of the extensions.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    method: Method,
    uri: Uri,
    version: Version,
    headers: HeaderMap,
    extensions: Extensions,
}

impl RequestInfo {
    pub(crate) fn from_parts(parts: http::request::Parts) -> Self {
        RequestInfo {
            method: parts.method,
            uri: parts.uri,
            version: parts.version,
            headers: parts.headers,
            extensions: parts.extensions,
        }
    }

    /// The request method: GET, or CONNECT for WebSocket over HTTP/2.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The request target.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The HTTP version the request came over.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The request headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The request extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// The request extensions, to take values out of.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }
}
