//! Fuzzes the LogQL parser: any UTF-8 input that parses must print (`Display`) as LogQL that
//! parses back to the same tree, and nothing may panic (`strata_query::logql::parse`; the
//! parser's own tests run random and mutated inputs through the same check on every CI run).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data)
        && let Ok(e) = strata_query::logql::parse(s)
    {
        let again = strata_query::logql::parse(&e.to_string());
        assert_eq!(again.as_ref().ok(), Some(&e));
    }
});
