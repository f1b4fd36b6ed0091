//! `Send`/`Sync` bounds that apply on native targets and vanish on wasm32.
//!
//! Futures in the browser are not `Send` (they hold JS values); on native targets we want them to
//! be, so that a multi-threaded runtime can drive them. One trait definition serves both by
//! bounding on these aliases instead of on `Send`/`Sync` directly.

/// `Send` on native targets; implemented by every type on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait CondSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> CondSend for T {}

/// `Send` on native targets; implemented by every type on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait CondSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> CondSend for T {}

/// `Sync` on native targets; implemented by every type on wasm32.
#[cfg(not(target_arch = "wasm32"))]
pub trait CondSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> CondSync for T {}

/// `Sync` on native targets; implemented by every type on wasm32.
#[cfg(target_arch = "wasm32")]
pub trait CondSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> CondSync for T {}
