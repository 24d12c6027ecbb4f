//! Exemplar records: the exemplars one write stored, with their series' labels (see
//! `docs/formats/engine-wal.md`). Only accepted exemplars are logged; replay applies them
//! without checking them again. Older WALs hold no record of this kind and replay as before.

use crate::TenantId;
use crate::model::exemplar::{Exemplar, SeriesExemplars};
use crate::wal_records::frame::{Cursor, EXEMPLARS_VERSION, KIND_EXEMPLARS};

/// Encodes the accepted exemplars of one write (`tenant` is at most 64 bytes).
pub(crate) fn encode(tenant: &TenantId, series: &[SeriesExemplars]) -> Vec<u8> {
    let mut out = vec![EXEMPLARS_VERSION, KIND_EXEMPLARS];
    // Lossless casts: tenant ids are at most 64 bytes; label sets and one write's
    // exemplars are far below u16/u32.
    out.push(tenant.as_str().len() as u8);
    out.extend_from_slice(tenant.as_str().as_bytes());
    out.extend_from_slice(&(series.len() as u32).to_le_bytes());
    for s in series {
        labels(&mut out, &s.series);
        out.extend_from_slice(&(s.exemplars.len() as u32).to_le_bytes());
        for e in &s.exemplars {
            out.extend_from_slice(&e.ts.to_le_bytes());
            out.extend_from_slice(&e.value.to_bits().to_le_bytes());
            labels(&mut out, &e.labels);
        }
    }
    out
}

fn labels(out: &mut Vec<u8>, pairs: &[(String, String)]) {
    out.extend_from_slice(&(pairs.len() as u16).to_le_bytes());
    for (n, v) in pairs {
        out.extend_from_slice(&(n.len() as u32).to_le_bytes());
        out.extend_from_slice(n.as_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(v.as_bytes());
    }
}

/// Decodes an exemplars record; damage is an error, never a panic.
pub(crate) fn decode(buf: &[u8]) -> Result<(TenantId, Vec<SeriesExemplars>), String> {
    let mut c = Cursor { buf, pos: 0 };
    let version = c.u8("version")?;
    if version != EXEMPLARS_VERSION {
        return Err(format!("unknown exemplars record version {version}"));
    }
    if c.u8("kind")? != KIND_EXEMPLARS {
        return Err("not an exemplars record".into());
    }
    let tlen = c.u8("tenant length")? as usize;
    let tenant = TenantId::new(c.str(tlen, "tenant")?).map_err(|e| e.to_string())?;
    let n = c.u32("series count")? as usize;
    let mut out = Vec::with_capacity(n.min(c.remaining() / 6));
    for _ in 0..n {
        let series = read_labels(&mut c)?;
        let k = c.u32("exemplar count")? as usize;
        let mut exemplars = Vec::with_capacity(k.min(c.remaining() / 18));
        for _ in 0..k {
            let ts = c.u64("exemplar timestamp")? as i64;
            let value = f64::from_bits(c.u64("exemplar value")?);
            let labels = read_labels(&mut c)?;
            exemplars.push(Exemplar { labels, ts, value });
        }
        out.push(SeriesExemplars { series, exemplars });
    }
    if c.remaining() != 0 {
        return Err(format!("{} bytes after the last exemplar", c.remaining()));
    }
    Ok((tenant, out))
}

fn read_labels(c: &mut Cursor<'_>) -> Result<Vec<(String, String)>, String> {
    let n = c.u16("label count")? as usize;
    let mut pairs = Vec::with_capacity(n.min(c.remaining() / 8));
    for _ in 0..n {
        let nlen = c.u32("label name length")? as usize;
        let name = c.str(nlen, "label name")?.to_owned();
        let vlen = c.u32("label value length")? as usize;
        let value = c.str(vlen, "label value")?.to_owned();
        pairs.push((name, value));
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Vec<SeriesExemplars> {
        vec![SeriesExemplars {
            series: vec![
                ("__name__".into(), "m_bucket".into()),
                ("le".into(), "+Inf".into()),
            ],
            exemplars: vec![Exemplar {
                labels: vec![("trace_id".into(), "0af7651916cd43dd8448eb211c80319c".into())],
                ts: 1_600_000_000_123,
                value: f64::from_bits(0x7ff0_0000_0000_0002),
            }],
        }]
    }

    #[test]
    fn round_trip_keeps_every_field_and_value_bits() {
        let t = TenantId::new("acme").unwrap();
        let rec = record();
        let (t2, back) = decode(&encode(&t, &rec)).unwrap();
        assert_eq!(t2, t);
        assert_eq!(back[0].series, rec[0].series);
        assert_eq!(back[0].exemplars[0].labels, rec[0].exemplars[0].labels);
        assert_eq!(back[0].exemplars[0].ts, rec[0].exemplars[0].ts);
        assert_eq!(
            back[0].exemplars[0].value.to_bits(),
            rec[0].exemplars[0].value.to_bits()
        );
    }

    #[test]
    fn damaged_records_are_errors_not_panics() {
        let bytes = encode(&TenantId::new("acme").unwrap(), &record());
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xFF;
            let _ = decode(&b);
        }
    }
}
