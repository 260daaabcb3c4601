#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
#![warn(missing_docs)]
//! doc placeholder
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod crypto;
pub mod discovery;
pub mod jose;
pub mod time;
mod util;

pub use time::UnixTime;
