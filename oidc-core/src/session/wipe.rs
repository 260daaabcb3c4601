//! Buffers that are wiped when dropped.
//!
//! `zeroize::Zeroizing<Vec<u8>>` wipes a vector one byte at a time (each with its own volatile
//! write and fence), which on a 4 KiB session costs more than decrypting it. These wrappers
//! wipe through `zeroize`'s slice path instead, which compiles to a memset the optimiser may
//! not remove: the same guarantee at memset speed.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::{Deref, DerefMut};

use zeroize::Zeroize as _;

/// Bytes wiped on drop, spare capacity included.
#[derive(Default)]
pub(crate) struct WipedBytes(pub(crate) Vec<u8>);

impl WipedBytes {
    pub(crate) fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }
}

impl Deref for WipedBytes {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for WipedBytes {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for WipedBytes {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
        self.0.spare_capacity_mut().zeroize();
    }
}

/// Text wiped on drop.
///
/// A `String` offers no safe access to its spare capacity, so the invariant is the builder's:
/// a `WipedText` is made only from a string whose spare capacity holds nothing secret (exact
/// capacity, or a buffer whose tail was wiped before truncation), and it is never grown.
#[derive(Default)]
pub(crate) struct WipedText(String);

impl WipedText {
    /// `text`, whose spare capacity holds nothing secret.
    pub(crate) fn new(text: String) -> Self {
        Self(text)
    }
}

impl Deref for WipedText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl Drop for WipedText {
    fn drop(&mut self) {
        self.0.as_mut_str().zeroize();
    }
}
