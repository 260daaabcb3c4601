//! Links oidc-core into a `#![no_std]` staticlib. See Cargo.toml for why this proves no_std.
#![no_std]

extern crate alloc;

use core::alloc::{GlobalAlloc, Layout};

#[cfg(feature = "prove-detection")]
pub use std_only_dep::uses_std;

/// A never-succeeding allocator: the canary is linked, never run, so it only has to exist.
struct NoAlloc;

// SAFETY: returning null is always allowed for `alloc`; `dealloc` is never reached.
unsafe impl GlobalAlloc for NoAlloc {
    unsafe fn alloc(&self, _layout: Layout) -> *mut u8 {
        core::ptr::null_mut()
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: NoAlloc = NoAlloc;

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    loop {}
}

/// Exercises the core's public API so that its code is really compiled and linked.
#[unsafe(no_mangle)]
pub extern "C" fn oidc_core_canary(token: *const u8, len: usize) -> i32 {
    let bytes: &[u8] = if token.is_null() {
        &[]
    } else {
        // SAFETY: the caller promises `len` readable bytes at `token`.
        unsafe { core::slice::from_raw_parts(token, len) }
    };
    use oidc_core::jose::{AlgorithmPolicy, ClaimPolicy, JwkOptions, JwtValidator, KeySet};
    let provider = &oidc_core::crypto::RUST_CRYPTO;
    let Ok(keys) = KeySet::from_jwks_json(br#"{"keys":[]}"#, &JwkOptions::PUBLISHED, provider) else {
        return -1;
    };
    let Ok(token) = core::str::from_utf8(bytes) else {
        return -2;
    };
    let validator = JwtValidator::new(AlgorithmPolicy::default(), ClaimPolicy::default());
    match validator.verify(token, &keys, oidc_core::UnixTime::from_secs(0)) {
        Ok(_) => 0,
        Err(_) => 1,
    }
}
