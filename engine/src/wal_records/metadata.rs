//! Metadata records (kind 6): metric metadata a write added, or a tenant's whole metadata
//! logged again at a flush cut (see `docs/formats/engine-wal.md`).

use crate::TenantId;
use crate::model::metadata::{Metadata, MetricType};
use crate::wal_records::frame::{Cursor, KIND_METADATA, METADATA_VERSION};

/// What a metadata record holds: by family, in the order stored.
pub(crate) type Families = Vec<(String, Vec<Metadata>)>;

/// How replay applies a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Entries one write added: appended to their families.
    Added = 0,
    /// Families as they were at a flush cut: each listed family's entries replaced.
    Snapshot = 1,
}

/// Encodes one record (`tenant` is at most 64 bytes).
pub(crate) fn encode(tenant: &TenantId, mode: Mode, families: &[(&str, &[Metadata])]) -> Vec<u8> {
    let mut out = vec![METADATA_VERSION, KIND_METADATA];
    // Lossless casts: tenant ids are at most 64 bytes, names, units and help texts are
    // limited far below 4 GiB (`model/metadata.rs`), a family keeps at most 10 entries.
    out.push(tenant.as_str().len() as u8);
    out.extend_from_slice(tenant.as_str().as_bytes());
    out.push(mode as u8);
    out.extend_from_slice(&(families.len() as u32).to_le_bytes());
    for (name, entries) in families {
        string(&mut out, name);
        out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for m in *entries {
            out.push(m.kind.number());
            string(&mut out, &m.help);
            string(&mut out, &m.unit);
        }
    }
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Decodes a metadata record; damage is an error, never a panic.
pub(crate) fn decode(buf: &[u8]) -> Result<(TenantId, Mode, Families), String> {
    let mut c = Cursor { buf, pos: 0 };
    let version = c.u8("version")?;
    if version != METADATA_VERSION {
        return Err(format!("unknown metadata record version {version}"));
    }
    if c.u8("kind")? != KIND_METADATA {
        return Err("not a metadata record".into());
    }
    let tlen = c.u8("tenant length")? as usize;
    let tenant = TenantId::new(c.str(tlen, "tenant")?).map_err(|e| e.to_string())?;
    let mode = match c.u8("mode")? {
        0 => Mode::Added,
        1 => Mode::Snapshot,
        m => return Err(format!("unknown metadata record mode {m}")),
    };
    let n = c.u32("family count")? as usize;
    let mut out = Vec::with_capacity(n.min(c.remaining() / 6));
    for _ in 0..n {
        let len = c.u32("family name length")? as usize;
        let name = c.str(len, "family name")?.to_owned();
        let k = c.u16("entry count")? as usize;
        let mut entries = Vec::with_capacity(k.min(c.remaining() / 9));
        for _ in 0..k {
            let t = c.u8("type")?;
            let kind = MetricType::from_number(i64::from(t))
                .ok_or_else(|| format!("family {name:?}: unknown metric type {t}"))?;
            let len = c.u32("help length")? as usize;
            let help = c.str(len, "help")?.to_owned();
            let len = c.u32("unit length")? as usize;
            let unit = c.str(len, "unit")?.to_owned();
            entries.push(Metadata { kind, help, unit });
        }
        out.push((name, entries));
    }
    if c.remaining() != 0 {
        return Err(format!("{} bytes after the last family", c.remaining()));
    }
    Ok((tenant, mode, out))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry() -> impl Strategy<Value = Metadata> {
        (0i64..8, "[ -~é]{0,20}", "[a-z]{0,5}").prop_map(|(t, help, unit)| Metadata {
            kind: MetricType::from_number(t).unwrap(),
            help,
            unit,
        })
    }

    proptest! {
        #[test]
        fn round_trip(
            t in "[A-Za-z0-9_-]{1,64}",
            snapshot in any::<bool>(),
            fams in prop::collection::vec(("[a-z_:]{1,12}", prop::collection::vec(entry(), 0..4)), 0..5),
        ) {
            let tenant = TenantId::new(&t).unwrap();
            let mode = if snapshot { Mode::Snapshot } else { Mode::Added };
            let refs: Vec<(&str, &[Metadata])> =
                fams.iter().map(|(n, e)| (n.as_str(), &e[..])).collect();
            let bytes = encode(&tenant, mode, &refs);
            prop_assert_eq!(bytes[1], 6);
            let (t2, m2, f2) = decode(&bytes).unwrap();
            prop_assert_eq!(t2, tenant);
            prop_assert_eq!(m2, mode);
            prop_assert_eq!(f2, fams);
        }

        #[test]
        fn damage_is_an_error_not_a_panic(bytes in prop::collection::vec(any::<u8>(), 0..120)) {
            let _ = decode(&bytes);
        }
    }

    #[test]
    fn trailing_bytes_and_unknown_types_are_refused() {
        let tenant = TenantId::new("a").unwrap();
        let m = Metadata {
            kind: MetricType::Counter,
            help: "h".into(),
            unit: String::new(),
        };
        let mut bytes = encode(
            &tenant,
            Mode::Added,
            &[("x_total", std::slice::from_ref(&m))],
        );
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(
            decode(&trailing)
                .unwrap_err()
                .contains("after the last family")
        );
        // tenant "a": version, kind, len, 'a', mode, u32 count, u32 len, "x_total", u16 count, type
        let at = 1 + 1 + 1 + 1 + 1 + 4 + 4 + "x_total".len() + 2;
        assert_eq!(bytes[at], 1);
        bytes[at] = 8;
        assert!(
            decode(&bytes)
                .unwrap_err()
                .contains("unknown metric type 8")
        );
    }
}
