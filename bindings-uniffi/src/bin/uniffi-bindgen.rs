//! `uniffi-bindgen`, pinned to the uniffi version of coffer-uniffi: generates the Kotlin and Swift
//! bindings from the built library (`generate --library`).

fn main() {
    uniffi::uniffi_bindgen_main()
}
