//! Placeholder for the bindings-wasm glue over the `coffer` core; the bindings land with their own issue.

/// The version of the core this glue wraps.
pub fn core_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
