//! strata-wal: the write-ahead log under every Strata write (being built).
