//! Unit tests of the Flight SQL service's parts.
