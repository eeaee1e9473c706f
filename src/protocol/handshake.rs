//! The opening handshakes: picking the server's protocol version from the request,
//! building every response and request byte for byte, checking the client's answer.

use super::error::{Error, ErrorKind};
use super::extension::{self, Negotiated, Offer};
use super::options::Options;
use super::rng::Randomness;
use super::version::Version;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use bytes::Bytes;
use http::header::{self, AsHeaderName, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri};
use sha1::{Digest, Sha1};

/// The GUID RFC 6455 section 1.3 appends to the key.
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

fn malformed(why: &'static str) -> Error {
    Error::new(ErrorKind::MalformedRequest(why))
}

fn bad_response(why: &'static str) -> Error {
    Error::new(ErrorKind::MalformedResponse(why))
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`.
///
/// ```
/// use websocket_protocol::protocol::accept_key;
/// assert_eq!(accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &[u8]) -> String {
    String::from_utf8(accept_key_bytes(key).to_vec()).expect("base64 is ASCII")
}

/// [`accept_key`] on the stack: base64 of a SHA-1 is 28 bytes.
fn accept_key_bytes(key: &[u8]) -> [u8; 28] {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(GUID.as_bytes());
    let mut out = [0; 28];
    let written = BASE64.encode_slice(sha.finalize(), &mut out);
    debug_assert_eq!(written, Ok(28));
    out
}

/// The drafts' header names, which `http` has no constants for, checked when
/// compiled.
const KEY1: HeaderName = HeaderName::from_static("sec-websocket-key1");
const KEY2: HeaderName = HeaderName::from_static("sec-websocket-key2");
const SEC_ORIGIN: HeaderName = HeaderName::from_static("sec-websocket-origin");
const SEC_LOCATION: HeaderName = HeaderName::from_static("sec-websocket-location");
const ORIGIN_75: HeaderName = HeaderName::from_static("websocket-origin");
const LOCATION_75: HeaderName = HeaderName::from_static("websocket-location");
const PROTOCOL_75: HeaderName = HeaderName::from_static("websocket-protocol");

/// The fixed values of the responses, checked when compiled.
const WEBSOCKET: HeaderValue = HeaderValue::from_static("websocket");
const WEBSOCKET_DRAFTS: HeaderValue = HeaderValue::from_static("WebSocket");
const UPGRADE: HeaderValue = HeaderValue::from_static("Upgrade");

/// The hybi-07/08 name of `Origin`, which the server's origin policy reads too.
pub(crate) const HYBI_ORIGIN: HeaderName = SEC_ORIGIN;

/// The tokens of a comma-separated header, over all its lines: trimmed, empty
/// ones skipped, lines that are not visible ASCII skipped whole. The one reader
/// of such lists.
fn tokens(headers: &HeaderMap, name: impl AsHeaderName) -> impl Iterator<Item = &str> {
    headers.get_all(name).iter().flat_map(line_tokens)
}

/// The tokens of one line of a comma-separated header.
fn line_tokens(line: &HeaderValue) -> impl Iterator<Item = &str> {
    line.to_str()
        .into_iter()
        .flat_map(|v| v.split(','))
        // A visible-ASCII value has no white space but spaces and tabs.
        .map(str::trim_ascii)
        .filter(|t| !t.is_empty())
}

/// Whether a comma-separated header (over all its lines) holds `token` (a
/// word: no comma, no white space), ignoring case and surrounding white space.
fn has_token(headers: &HeaderMap, name: impl AsHeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|line| {
        // The usual line is the token alone, which needs no splitting.
        line.as_bytes().eq_ignore_ascii_case(token.as_bytes())
            || line_tokens(line).any(|t| t.eq_ignore_ascii_case(token))
    })
}

/// Whether `Upgrade` lists `websocket`.
fn upgrade_is_websocket(headers: &HeaderMap) -> bool {
    has_token(headers, header::UPGRADE, "websocket")
}

/// Whether `Connection` lists `upgrade`, as an HTTP/1.1 upgrade needs.
fn connection_is_upgrade(headers: &HeaderMap) -> bool {
    has_token(headers, header::CONNECTION, "upgrade")
}

/// Whether a request is a WebSocket upgrade: an HTTP/1.1 GET that asks for a
/// WebSocket with `Connection: upgrade`, or an HTTP/2 extended CONNECT whose
/// `:protocol` (`protocol`, which `http::Request` does not carry) is `websocket`
/// (RFC 8441). The one rule for every layer; [`accept`] checks the same parts in
/// the order that gives each failure its status.
pub(crate) fn is_upgrade_request(
    method: &Method,
    headers: &HeaderMap,
    protocol: Option<&str>,
) -> bool {
    is_extended_connect(method, protocol)
        || (method == Method::GET
            && upgrade_is_websocket(headers)
            && connection_is_upgrade(headers))
}

/// Whether a request asks for a WebSocket at all, well-formed or not: an
/// `Upgrade` that lists `websocket`, or an extended CONNECT. A server answers such
/// a request itself (with the upgrade or its error status) and never passes it on
/// as plain HTTP.
pub(crate) fn wants_websocket(
    method: &Method,
    headers: &HeaderMap,
    protocol: Option<&str>,
) -> bool {
    is_extended_connect(method, protocol) || upgrade_is_websocket(headers)
}

/// Whether a request is an HTTP/2 extended CONNECT for a WebSocket (RFC 8441).
pub(crate) fn is_extended_connect(method: &Method, protocol: Option<&str>) -> bool {
    method == Method::CONNECT && protocol.is_some_and(|p| p.eq_ignore_ascii_case("websocket"))
}

/// The comma-separated values of a header, over all its lines, trimmed.
fn list(headers: &HeaderMap, name: impl AsHeaderName) -> Vec<String> {
    tokens(headers, name).map(str::to_owned).collect()
}

/// The only value of a header; `Ok(None)` when absent, an error when repeated or
/// not visible ASCII.
fn single(headers: &HeaderMap, name: impl AsHeaderName) -> Result<Option<&str>, Error> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(malformed("a handshake header is repeated"));
    }
    first
        .to_str()
        .map(|v| Some(v.trim_ascii()))
        .map_err(|_| malformed("a handshake header is not ASCII"))
}

/// Which version a request asks for: `Sec-WebSocket-Version` means hybi, else
/// `Sec-WebSocket-Key1` and `Key2` together mean hixie-76, else hixie-75
/// (websocket-driver's rule).
fn select_version(req: &Request<()>) -> Result<Version, Error> {
    let headers = req.headers();
    if let Some(v) = single(headers, header::SEC_WEBSOCKET_VERSION)? {
        return match v {
            "7" => Ok(Version::Hybi7),
            "8" => Ok(Version::Hybi8),
            "13" => Ok(Version::Hybi13),
            _ => Err(Error::new(ErrorKind::UnsupportedVersion)),
        };
    }
    if headers.contains_key(KEY1) && headers.contains_key(KEY2) {
        Ok(Version::Hixie76)
    } else {
        Ok(Version::Hixie75)
    }
}

/// The server's side of a handshake that was accepted.
#[derive(Debug, Clone)]
pub(crate) struct Accepted {
    pub version: Version,
    pub protocol: Option<String>,
    /// Status line and headers, in wire order (names are written in title case).
    pub status: StatusCode,
    pub reason: &'static str,
    pub headers: HeaderMap,
    /// hixie-76: the two key numbers, waiting for the 8 body bytes.
    pub hixie76_keys: Option<(u32, u32)>,
    /// The extensions offered and accepted.
    pub extensions: Negotiated,
}

impl Accepted {
    /// An answer of `headers` headers, in a map of their size: grown one
    /// header at a time, it would have room for twice as many, and the driver
    /// keeps it until the socket opens.
    fn new(version: Version, status: StatusCode, headers: usize) -> Self {
        Accepted {
            version,
            protocol: None,
            status,
            reason: reason_phrase(version),
            headers: HeaderMap::with_capacity(headers),
            hixie76_keys: None,
            extensions: Negotiated::default(),
        }
    }

    /// Adds a response header; a value that cannot be a header (an origin or
    /// host echoed from the request) refuses the request.
    fn push(&mut self, name: HeaderName, value: impl AsRef<[u8]>) -> Result<(), Error> {
        let value = HeaderValue::from_bytes(value.as_ref())
            .map_err(|_| malformed("a header value cannot be echoed"))?;
        self.headers.append(name, value);
        Ok(())
    }

    /// Adds a response header whose value is fixed (no allocation).
    fn push_static(&mut self, name: HeaderName, value: HeaderValue) {
        self.headers.append(name, value);
    }

    /// The response head for an HTTP stack to send.
    pub fn into_response(self) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers;
        res
    }
}

/// A response head (without a body) as bytes, with `reason` as the phrase.
pub(crate) fn response_head(res: &Response<()>, reason: &str) -> Vec<u8> {
    write_head(
        &["HTTP/1.1 ", res.status().as_str(), " ", reason],
        res.headers(),
    )
}

/// An HTTP/1.1 head: the start line (the concatenation of `start_line`), each
/// header with its name in title case (`Sec-WebSocket-Accept`, as the drafts'
/// clients compare it), the blank line. The one writer of the heads the crate
/// writes itself.
pub(crate) fn write_head(start_line: &[&str], headers: &HeaderMap) -> Vec<u8> {
    let start_len = start_line.iter().map(|s| s.len()).sum::<usize>();
    let header_len = headers.iter().map(|(n, v)| n.as_str().len() + v.len() + 4);
    let mut out = Vec::with_capacity(start_len + header_len.sum::<usize>() + 4);
    for part in start_line {
        out.extend_from_slice(part.as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    for (name, value) in headers {
        title_case(name.as_str(), &mut out);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// A whole HTTP/1.1 response as bytes, with its `Content-Length` unless it is
/// informational, for servers without an HTTP stack. `reason` is the status
/// line's phrase (the status's canonical one when `None`).
pub(crate) fn response_bytes(res: &Response<impl AsRef<[u8]>>, reason: Option<&str>) -> Vec<u8> {
    let status = res.status();
    let reason = reason.unwrap_or_else(|| status.canonical_reason().unwrap_or(""));
    let body = res.body().as_ref();
    let mut headers = res.headers().clone();
    if !status.is_informational() {
        headers.insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    let mut out = write_head(&["HTTP/1.1 ", status.as_str(), " ", reason], &headers);
    out.extend_from_slice(body);
    out
}

/// The reason phrase of the server's status line: the drafts' own, which some
/// old clients compare byte for byte.
pub(crate) fn reason_phrase(version: Version) -> &'static str {
    match version {
        Version::Hixie75 => "Web Socket Protocol Handshake",
        Version::Hixie76 => "WebSocket Protocol Handshake",
        Version::Hybi7 | Version::Hybi8 | Version::Hybi13 => "Switching Protocols",
    }
}

/// Validates an upgrade request and builds the response. See
/// [`Driver::server`](super::Driver::server) for the rules.
pub(crate) fn accept(req: &Request<()>, options: &Options) -> Result<Accepted, Error> {
    let headers = req.headers();
    if !upgrade_is_websocket(headers) {
        return Err(malformed("missing Upgrade: websocket"));
    }
    if req.method() != Method::GET {
        return Err(Error::new(ErrorKind::MethodNotAllowed));
    }
    // RFC 6455 section 4.2.1, and the drafts before it: HTTP/1.1 or later.
    if req.version() < http::Version::HTTP_11 {
        return Err(malformed("the HTTP version must be at least 1.1"));
    }
    if !connection_is_upgrade(headers) {
        return Err(malformed("missing Connection: Upgrade"));
    }
    let version = select_version(req)?;
    if version.is_draft() && !options.allow_drafts {
        return Err(Error::new(ErrorKind::DraftsNotAllowed(version)));
    }
    let protocol = negotiate(headers, version, &options.protocols).map(str::to_owned);
    let status = StatusCode::SWITCHING_PROTOCOLS;
    match version {
        Version::Hybi7 | Version::Hybi8 | Version::Hybi13 => {
            let key = single(headers, header::SEC_WEBSOCKET_KEY)?
                .ok_or_else(|| malformed("missing Sec-WebSocket-Key"))?;
            // Base64 of 16 bytes is 24 characters, padding included: decoded
            // on the stack, with room for the engine's estimate of 18.
            let mut raw = [0; 18];
            if key.len() != 24 || BASE64.decode_slice(key, &mut raw) != Ok(16) {
                return Err(malformed("Sec-WebSocket-Key is not base64 of 16 bytes"));
            }
            let (extensions, answer) = extension::server_accept(headers, options);
            let count = 3 + usize::from(protocol.is_some()) + usize::from(answer.is_some());
            let mut out = Accepted::new(version, status, count);
            out.push_static(header::UPGRADE, WEBSOCKET);
            out.push_static(header::CONNECTION, UPGRADE);
            out.push(
                header::SEC_WEBSOCKET_ACCEPT,
                accept_key_bytes(key.as_bytes()),
            )?;
            if let Some(p) = &protocol {
                out.push(header::SEC_WEBSOCKET_PROTOCOL, p)?;
            }
            if let Some(answer) = answer {
                out.push(header::SEC_WEBSOCKET_EXTENSIONS, answer)?;
            }
            out.protocol = protocol;
            out.extensions = extensions;
            Ok(out)
        }
        Version::Hixie76 | Version::Hixie75 => {
            let hixie76 = version == Version::Hixie76;
            let hixie76_keys = match hixie76 {
                true => {
                    let key1 = single(headers, KEY1)?.unwrap_or_default();
                    let key2 = single(headers, KEY2)?.unwrap_or_default();
                    Some((hixie76_key_number(key1)?, hixie76_key_number(key2)?))
                }
                false => None,
            };
            let host = single(headers, header::HOST)?.ok_or_else(|| malformed("missing Host"))?;
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
            let scheme = if options.secure { "wss" } else { "ws" };
            // hixie-76 names its headers `Sec-WebSocket-*`, hixie-75 `WebSocket-*`.
            let (origin_name, location_name, protocol_name) = if hixie76 {
                (SEC_ORIGIN, SEC_LOCATION, header::SEC_WEBSOCKET_PROTOCOL)
            } else {
                (ORIGIN_75, LOCATION_75, PROTOCOL_75)
            };
            let origin = single(headers, header::ORIGIN)?;
            let count = 3 + usize::from(origin.is_some()) + usize::from(protocol.is_some());
            let mut out = Accepted::new(version, status, count);
            out.hixie76_keys = hixie76_keys;
            out.push_static(header::UPGRADE, WEBSOCKET_DRAFTS);
            out.push_static(header::CONNECTION, UPGRADE);
            if let Some(origin) = origin {
                out.push(origin_name, origin)?;
            }
            out.push(location_name, format!("{scheme}://{host}{path}"))?;
            if let Some(p) = &protocol {
                out.push(protocol_name, p)?;
            }
            out.protocol = protocol;
            Ok(out)
        }
    }
}

/// Validates an HTTP/2 extended CONNECT (RFC 8441) and builds its `200` response.
/// The caller has checked the `:protocol` pseudo-header, which `http::Request`
/// does not carry. There is no key to answer: the version must be 13 and the
/// response headers are the chosen subprotocol and extensions only.
pub(crate) fn accept_extended_connect(
    req: &Request<()>,
    options: &Options,
) -> Result<Accepted, Error> {
    if req.method() != Method::CONNECT {
        return Err(Error::new(ErrorKind::MethodNotAllowed));
    }
    match single(req.headers(), header::SEC_WEBSOCKET_VERSION)? {
        Some("13") => {}
        Some(_) => return Err(Error::new(ErrorKind::UnsupportedVersion)),
        None => return Err(malformed("missing Sec-WebSocket-Version")),
    }
    let protocol = negotiate(req.headers(), Version::Hybi13, &options.protocols).map(str::to_owned);
    // RFC 8441 keeps the extension negotiation of RFC 6455.
    let (extensions, answer) = extension::server_accept(req.headers(), options);
    let count = usize::from(protocol.is_some()) + usize::from(answer.is_some());
    let mut out = Accepted::new(Version::Hybi13, StatusCode::OK, count);
    out.reason = "OK";
    if let Some(p) = &protocol {
        out.push(header::SEC_WEBSOCKET_PROTOCOL, p)?;
    }
    if let Some(answer) = answer {
        out.push(header::SEC_WEBSOCKET_EXTENSIONS, answer)?;
    }
    out.protocol = protocol;
    out.extensions = extensions;
    Ok(out)
}

/// The subprotocols a client offers, in its order of preference (hixie-75 names
/// the header `WebSocket-Protocol`).
pub(crate) fn requested_protocols(headers: &HeaderMap, version: Version) -> Vec<String> {
    list(headers, protocols_header(version))
}

/// The header a client offers its subprotocols in.
fn protocols_header(version: Version) -> HeaderName {
    match version {
        Version::Hixie75 => PROTOCOL_75,
        _ => header::SEC_WEBSOCKET_PROTOCOL,
    }
}

/// The first protocol in the client's list that the server supports.
pub(crate) fn negotiate<'a>(
    headers: &HeaderMap,
    version: Version,
    supported: &'a [String],
) -> Option<&'a str> {
    if supported.is_empty() {
        return None;
    }
    tokens(headers, protocols_header(version))
        .find_map(|offered| supported.iter().find(|s| *s == offered))
        .map(String::as_str)
}

/// A hixie-76 key's number: its digits divided by its spaces, which must divide
/// them exactly (draft-hixie-76 section 5.2, step 4).
pub(crate) fn hixie76_key_number(key: &str) -> Result<u32, Error> {
    let invalid = || malformed("invalid Sec-WebSocket-Key1/Key2");
    let mut number: u64 = 0;
    let mut spaces: u64 = 0;
    let mut digits = 0;
    for c in key.bytes() {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add((c - b'0') as u64))
                    .filter(|&n| n <= u32::MAX as u64)
                    .ok_or_else(invalid)?;
            }
            b' ' => spaces += 1,
            _ => {}
        }
    }
    if digits == 0 || spaces == 0 || number % spaces != 0 {
        return Err(invalid());
    }
    Ok((number / spaces) as u32)
}

/// The 16-byte answer to a hixie-76 challenge.
pub(crate) fn hixie76_answer((key1, key2): (u32, u32), key3: &[u8; 8]) -> [u8; 16] {
    let mut md5 = md5::Md5::new();
    md5.update(key1.to_be_bytes());
    md5.update(key2.to_be_bytes());
    md5.update(key3);
    md5.finalize().into()
}

/// Parses an HTTP/1.1 request head from the start of `buf`: `Ok(None)` while
/// incomplete, otherwise the request and the size of its head. Bytes after the head
/// (a hixie-76 body, early frames) belong to the connection. The target and the
/// header values share one copy of the head, not of `buf`.
///
/// ```
/// use websocket_protocol::protocol::{parse_request, Options};
/// let raw = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\nrest";
/// let (req, size) = parse_request(raw, &Options::default()).unwrap().unwrap();
/// assert_eq!(req.uri().path(), "/chat");
/// assert_eq!(&raw[size..], b"rest");
/// ```
pub fn parse_request(buf: &[u8], options: &Options) -> Result<Option<(Request<()>, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Request::new(&mut storage);
    let size = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(size)) => size,
        Ok(httparse::Status::Partial) => {
            return if buf.len() > options.max_handshake_size {
                Err(Error::new(ErrorKind::RequestTooLarge))
            } else {
                Ok(None)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(Error::new(ErrorKind::RequestTooLarge)),
        Err(_) => return Err(malformed("request head is not valid HTTP/1.1")),
    };
    if size > options.max_handshake_size {
        return Err(Error::new(ErrorKind::RequestTooLarge));
    }
    // One copy of the head for the target and the values to point into, not
    // an allocation each.
    let head = Bytes::copy_from_slice(&buf[..size]);
    let shared = |part: &[u8]| head.slice(offset_in(buf, part));
    let invalid = || malformed("invalid method or target");
    let mut req = Request::new(());
    let method = parsed.method.unwrap_or("GET");
    *req.method_mut() = Method::from_bytes(method.as_bytes()).map_err(|_| invalid())?;
    *req.uri_mut() = match parsed.path {
        Some(path) => Uri::from_maybe_shared(shared(path.as_bytes())).map_err(|_| invalid())?,
        None => Uri::from_static("/"),
    };
    if parsed.version == Some(0) {
        *req.version_mut() = http::Version::HTTP_10;
    }
    *req.headers_mut() = copy_headers(parsed.headers, |value| {
        HeaderValue::from_maybe_shared(shared(value))
    })?;
    Ok(Some((req, size)))
}

/// Where `part`, a slice of `buf`, lies in it.
fn offset_in(buf: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    start..start + part.len()
}

/// The parsed headers in a map of their number, each value made by `value`.
fn copy_headers(
    from: &[httparse::Header<'_>],
    value: impl Fn(&[u8]) -> Result<HeaderValue, http::header::InvalidHeaderValue>,
) -> Result<HeaderMap, Error> {
    let mut to = HeaderMap::with_capacity(from.len());
    for h in from {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| malformed("invalid header name"))?;
        let value = value(h.value).map_err(|_| malformed("invalid header value"))?;
        to.append(name, value);
    }
    Ok(to)
}

/// The client's side: the request it sends and what it expects back.
#[derive(Debug, Clone)]
pub(crate) struct ClientHandshake {
    request: Request<()>,
    accept: String,
    protocols: Vec<String>,
    /// The extensions the request offered, to check the answer against.
    offer: Offer,
}

impl ClientHandshake {
    pub(crate) fn new(url: &str, options: &Options, rng: &mut Randomness) -> Result<Self, Error> {
        let invalid = |why| Error::new(ErrorKind::InvalidUrl(why));
        // RFC 6455 section 3: a WebSocket URI has no fragment. (The URI parser
        // would drop it silently.)
        if url.contains('#') {
            return Err(invalid("a WebSocket URL has no #fragment"));
        }
        let uri: http::Uri = url.parse().map_err(|_| invalid("not a URL"))?;
        let scheme = uri.scheme_str().unwrap_or_default();
        let default_port =
            if scheme.eq_ignore_ascii_case("ws") || scheme.eq_ignore_ascii_case("http") {
                80
            } else if scheme.eq_ignore_ascii_case("wss") || scheme.eq_ignore_ascii_case("https") {
                443
            } else {
                return Err(invalid("the scheme must be ws:// or wss://"));
            };
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL are not supported; send an Authorization header",
            ));
        }
        if authority.host().is_empty() {
            return Err(invalid("no host"));
        }
        // An out-of-range port parses as no port at all: catch it, or the
        // request would go to the default port.
        let port_text = authority
            .as_str()
            .get(authority.host().len()..)
            .unwrap_or_default()
            .trim_start_matches(':');
        let host = match authority.port_u16() {
            None if !port_text.is_empty() => {
                return Err(invalid("the port is not a number up to 65535"))
            }
            Some(port) if port != default_port => format!("{}:{port}", authority.host()),
            _ => authority.host().to_owned(),
        };
        // RFC 6455 section 3: the resource name is the path, "/" when empty,
        // then the query if any (`ws://host?x` asks for `/?x`).
        let path = match uri.path() {
            "" => "/",
            path => path,
        };
        let target = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path.to_owned(),
        };
        let key = BASE64.encode(rng.bytes::<16>());
        let mut request = Request::get(target.as_str())
            .header("Host", host)
            .header("Upgrade", "websocket")
            .header("Connection", "Upgrade")
            .header("Sec-WebSocket-Key", &key)
            .header("Sec-WebSocket-Version", "13");
        if !options.protocols.is_empty() {
            let offer = options.protocols.join(", ");
            request = request.header("Sec-WebSocket-Protocol", offer);
        }
        let offer = Offer::new(options);
        if let Some(header) = offer.header() {
            request = request.header("Sec-WebSocket-Extensions", header);
        }
        let mut request = request
            .body(())
            .map_err(|_| invalid("invalid target or protocol list"))?;
        for (name, value) in options.headers.iter().flat_map(|h| h.iter()) {
            request.headers_mut().append(name, value.clone());
        }
        Ok(ClientHandshake {
            accept: accept_key(key.as_bytes()),
            request,
            protocols: options.protocols.clone(),
            offer,
        })
    }

    pub(crate) fn request(&self) -> &Request<()> {
        &self.request
    }

    /// The request as bytes, header names in their conventional spelling.
    pub(crate) fn request_bytes(&self) -> Vec<u8> {
        let target = self.request.uri().to_string();
        write_head(&["GET ", &target, " HTTP/1.1"], self.request.headers())
    }

    /// Checks the server's response; returns the chosen subprotocol and the
    /// extensions it accepted.
    pub(crate) fn check(&self, res: &Response<()>) -> Result<(Option<String>, Negotiated), Error> {
        if res.status() != StatusCode::SWITCHING_PROTOCOLS {
            return Err(Error::new(ErrorKind::UnexpectedStatus(res.status())));
        }
        let headers = res.headers();
        if !upgrade_is_websocket(headers) {
            return Err(bad_response("missing Upgrade: websocket"));
        }
        if !connection_is_upgrade(headers) {
            return Err(bad_response("missing Connection: Upgrade"));
        }
        match single(headers, "sec-websocket-accept") {
            Ok(Some(accept)) if accept == self.accept => {}
            Ok(Some(_)) | Err(_) => return Err(Error::new(ErrorKind::InvalidAccept)),
            Ok(None) => return Err(bad_response("missing Sec-WebSocket-Accept")),
        }
        let extensions = extension::client_check(headers, &self.offer)?;
        let chosen = list(headers, "sec-websocket-protocol");
        let protocol = match chosen.as_slice() {
            [] => None,
            [one] if self.protocols.contains(one) => Some(one.clone()),
            [one] => return Err(Error::unoffered_protocol(one)),
            _ => return Err(bad_response("more than one Sec-WebSocket-Protocol")),
        };
        Ok((protocol, extensions))
    }
}

/// Parses an HTTP/1.1 response head from the start of `buf`.
pub(crate) fn parse_response(
    buf: &[u8],
    max: usize,
) -> Result<Option<(Response<()>, usize)>, Error> {
    let mut storage = [httparse::EMPTY_HEADER; 64];
    let mut parsed = httparse::Response::new(&mut storage);
    let size = match parsed.parse(buf) {
        Ok(httparse::Status::Complete(size)) => size,
        Ok(httparse::Status::Partial) if buf.len() <= max => return Ok(None),
        Ok(httparse::Status::Partial) | Err(httparse::Error::TooManyHeaders) => {
            return Err(bad_response("response head is too large"))
        }
        Err(_) => return Err(bad_response("response head is not valid HTTP/1.1")),
    };
    if size > max {
        return Err(bad_response("response head is too large"));
    }
    let mut res = Response::new(());
    *res.status_mut() = StatusCode::from_u16(parsed.code.unwrap_or(0))
        .map_err(|_| bad_response("invalid status code"))?;
    // Values of their own: a client keeps the response for the connection's life.
    *res.headers_mut() = copy_headers(parsed.headers, HeaderValue::from_bytes)
        .map_err(|_| bad_response("invalid header"))?;
    Ok(Some((res, size)))
}

/// Writes `sec-websocket-key` as `Sec-WebSocket-Key`.
fn title_case(name: &str, out: &mut Vec<u8>) {
    for (i, part) in name.as_bytes().split(|&b| b == b'-').enumerate() {
        if i > 0 {
            out.push(b'-');
        }
        if part.eq_ignore_ascii_case(b"websocket") {
            out.extend_from_slice(b"WebSocket");
            continue;
        }
        if let Some((first, rest)) = part.split_first() {
            out.push(first.to_ascii_uppercase());
            out.extend_from_slice(rest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6455_accept_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn draft_76_example_gives_its_published_answer() {
        let k1 = hixie76_key_number("18x 6]8vM;54 *(5:  {   U1]8  z [  8").unwrap();
        let k2 = hixie76_key_number("1_ tx7X d  <  nw  334J702) 7]o}` 0").unwrap();
        assert_eq!((k1, k2), (155712099, 173347027));
        assert_eq!(&hixie76_answer((k1, k2), b"Tm[K T2u"), b"fQJ,fN/4F4!~K~MH");
    }

    #[test]
    fn hixie76_keys_without_spaces_or_with_remainders_are_rejected() {
        assert!(hixie76_key_number("12345").is_err());
        assert!(hixie76_key_number("1 2 3").is_err()); // 123 / 2
        assert!(hixie76_key_number("   ").is_err());
        assert!(hixie76_key_number("99999999999 ").is_err()); // over 32 bits
        assert_eq!(hixie76_key_number("1 2").unwrap(), 12);
    }

    #[test]
    fn extended_connect_answers_200_with_the_chosen_protocol_only() {
        let req = Request::connect("/chat")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "x, chat")
            .body(())
            .unwrap();
        let options = Options::default().protocols(["chat"]);
        let accepted = accept_extended_connect(&req, &options).unwrap();
        let res = accepted.into_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers().len(), 1);
        assert_eq!(res.headers()["sec-websocket-protocol"], "chat");

        let get = Request::get("/").header("sec-websocket-version", "13");
        let err = accept_extended_connect(&get.body(()).unwrap(), &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MethodNotAllowed);
        let v8 = Request::connect("/").header("sec-websocket-version", "8");
        let err = accept_extended_connect(&v8.body(()).unwrap(), &options).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UnsupportedVersion);
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn extended_connect_negotiates_permessage_deflate() {
        let req = Request::connect("/")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-extensions", "permessage-deflate")
            .body(())
            .unwrap();
        let options = Options::default().deflate(super::super::DeflateConfig::default());
        let accepted = accept_extended_connect(&req, &options).unwrap();
        assert!(accepted.extensions.deflate.is_some());
        let res = accepted.into_response();
        let ext = res.headers()["sec-websocket-extensions"].to_str().unwrap();
        assert!(ext.starts_with("permessage-deflate"), "{ext}");
    }

    #[test]
    fn title_case_spells_websocket_headers() {
        let spelled = |name| {
            let mut out = Vec::new();
            title_case(name, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(spelled("sec-websocket-protocol"), "Sec-WebSocket-Protocol");
        assert_eq!(spelled("authorization"), "Authorization");
    }
}
