//! Configured secrets.

use alloc::string::String;
use core::fmt;
use core::ops::Deref;

/// A secret from the configuration (client secret, private key, session secret, proxy or
/// Redis credentials). It reads like a `str` (`Deref`), but its `Debug` never shows the
/// value, so printing a configuration with `{:?}` cannot leak it.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Secret(String);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl Deref for Secret {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::from("hunter2-hunter2-hunter2");
        assert_eq!(alloc::format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.expose(), "hunter2-hunter2-hunter2");
        assert_eq!(&*s, "hunter2-hunter2-hunter2");
    }
}
