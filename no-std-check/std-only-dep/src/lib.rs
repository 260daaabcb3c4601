//! A crate that needs `std`: used only to prove the no_std check detects `std` in the tree.
pub fn uses_std() -> std::string::String {
    std::format!("{:?}", std::time::Duration::from_secs(1))
}
