//! Decodes untrusted bytes as a vault export (`coffer import --car`; docs/FORMAT.md §10) up to
//! where the vault's keys are needed: header, root block, sections, hashes, limits. Must return
//! an error or the scanned file, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| coffer::car::fuzz_vault_car(data));
