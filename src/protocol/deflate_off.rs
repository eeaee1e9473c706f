//! Stand-ins for the permessage-deflate halves when the `deflate` feature is off.
//! They have no values, so an `Option` of them is always `None` and the framing
//! code needs no `cfg` of its own.

use super::error::Error;
use super::options::Options;
use super::version::Role;
use bytes::Bytes;

/// Cannot exist without the `deflate` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateParams {}

pub(crate) fn transform(
    params: DeflateParams,
    _role: Role,
    _options: &Options,
) -> (Deflater, Inflater) {
    match params {}
}

/// Cannot exist without the `deflate` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Compression {}

#[allow(dead_code)] // For the hub's prepared messages, through `extension`.
pub(crate) fn compress_standalone(settings: Compression, _payload: &[u8]) -> Bytes {
    match settings {}
}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum Deflater {}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum Inflater {}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum DeflateStream {}

impl Deflater {
    pub(crate) fn wants(&self, _len: usize) -> bool {
        match *self {}
    }

    pub(crate) fn compress(&mut self, _payload: &[u8]) -> Bytes {
        match *self {}
    }

    #[allow(dead_code)] // For the hub's prepared messages, through `extension`.
    pub(crate) fn settings(&self) -> Compression {
        match *self {}
    }

    pub(crate) fn sent(&mut self, _payload: &[u8]) {
        match *self {}
    }

    pub(crate) fn start_stream(&mut self) -> DeflateStream {
        match *self {}
    }

    pub(crate) fn compress_fragment(
        &mut self,
        _stream: &mut DeflateStream,
        _piece: &[u8],
        _fin: bool,
    ) -> Bytes {
        match *self {}
    }

    pub(crate) fn end_stream(&mut self, stream: DeflateStream) {
        match stream {}
    }
}

impl Inflater {
    pub(crate) fn decompress(&mut self, _payload: &[u8], _max: usize) -> Result<Bytes, Error> {
        match *self {}
    }
}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum InflateStream {}

impl Inflater {
    pub(crate) fn start_stream(&self) -> Result<InflateStream, Error> {
        match *self {}
    }

    pub(crate) fn streamed(&mut self, _out: &[u8]) {
        match *self {}
    }
}

impl InflateStream {
    pub(crate) fn inflate(
        &mut self,
        _input: &[u8],
        _out: &mut Vec<u8>,
        _room: usize,
        _last: bool,
    ) -> Result<(usize, bool), Error> {
        match *self {}
    }
}
