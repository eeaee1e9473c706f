//! Stand-ins for the permessage-deflate halves when the `deflate` feature is off.
//! They have no values, so an `Option` of them is always `None` and the framing
//! code needs no `cfg` of its own.

use super::error::Error;
use super::options::Options;
use bytes::Bytes;

/// Cannot exist without the `deflate` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflateParams {}

pub(crate) fn transform(
    params: DeflateParams,
    _server: bool,
    _options: &Options,
) -> (Deflater, Inflater) {
    match params {}
}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum Deflater {}

/// Cannot exist without the `deflate` feature.
#[derive(Debug)]
pub(crate) enum Inflater {}

impl Deflater {
    pub(crate) fn wants(&self, _len: usize) -> bool {
        match *self {}
    }

    pub(crate) fn compress(&mut self, _payload: &[u8]) -> Bytes {
        match *self {}
    }

    pub(crate) fn realign_for_shared(&mut self) -> u8 {
        match *self {}
    }
}

impl Inflater {
    pub(crate) fn decompress(&mut self, _payload: &[u8], _max: usize) -> Result<Bytes, Error> {
        match *self {}
    }
}
