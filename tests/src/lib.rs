//! Helpers shared by Strata's end-to-end tests (`tests/*.rs` in this package).
