//! Prometheus's XOR chunk encoding (Gorilla; `tsdb/chunkenc/xor.go`), what a
//! `STREAMED_XOR_CHUNKS` remote-read answer carries: a 2-byte big-endian sample count, then
//! a bit stream (most significant bit first): the first timestamp as a signed varint and
//! value as 64 bits; the second timestamp's delta as an unsigned varint; later ones as
//! delta-of-delta in 1, 16, 20, 24 or 68 bits; each value after the first XORed with the
//! previous one, its meaningful bits in or outside the previous window.

/// Bits, most significant first.
#[derive(Default)]
struct Bits {
    bytes: Vec<u8>,
    /// Bits free in the last byte.
    free: u8,
}

impl Bits {
    fn bit(&mut self, on: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        if on && let Some(last) = self.bytes.last_mut() {
            *last |= 1 << (self.free - 1);
        }
        self.free -= 1;
    }

    /// The low `n` bits of `v`, most significant first.
    fn bits(&mut self, v: u64, n: u8) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 == 1);
        }
    }

    fn byte(&mut self, b: u8) {
        self.bits(u64::from(b), 8);
    }

    fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.byte((v as u8) | 0x80);
            v >>= 7;
        }
        self.byte(v as u8);
    }

    fn varint(&mut self, v: i64) {
        self.uvarint(((v << 1) ^ (v >> 63)) as u64);
    }
}

/// One XOR chunk of `samples` (time order; at most 65,535).
pub(crate) fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    let mut b = Bits::default();
    let (mut t_prev, mut delta_prev, mut v_prev) = (0i64, 0i64, 0u64);
    let (mut leading, mut trailing) = (0xffu8, 0u8);
    for (i, &(t, v)) in samples.iter().enumerate() {
        let bits = v.to_bits();
        match i {
            0 => {
                b.varint(t);
                b.bits(bits, 64);
            }
            1 => {
                delta_prev = t - t_prev;
                b.uvarint(delta_prev as u64);
                xor(&mut b, bits ^ v_prev, &mut leading, &mut trailing);
            }
            _ => {
                let delta = t - t_prev;
                let dod = delta - delta_prev;
                if dod == 0 {
                    b.bit(false);
                } else if fits(dod, 14) {
                    b.bits(0b10, 2);
                    b.bits(dod as u64, 14);
                } else if fits(dod, 17) {
                    b.bits(0b110, 3);
                    b.bits(dod as u64, 17);
                } else if fits(dod, 20) {
                    b.bits(0b1110, 4);
                    b.bits(dod as u64, 20);
                } else {
                    b.bits(0b1111, 4);
                    b.bits(dod as u64, 64);
                }
                delta_prev = delta;
                xor(&mut b, bits ^ v_prev, &mut leading, &mut trailing);
            }
        }
        t_prev = t;
        v_prev = bits;
    }
    let n = samples.len().min(usize::from(u16::MAX)) as u16;
    let mut out = n.to_be_bytes().to_vec();
    out.extend_from_slice(&b.bytes);
    out
}

/// Whether `x` fits Prometheus's `bitRange(x, nbits)`.
fn fits(x: i64, nbits: u32) -> bool {
    let half = 1i64 << (nbits - 1);
    -(half - 1) <= x && x <= half
}

fn xor(b: &mut Bits, delta: u64, leading: &mut u8, trailing: &mut u8) {
    if delta == 0 {
        b.bit(false);
        return;
    }
    b.bit(true);
    let mut lead = delta.leading_zeros() as u8;
    let trail = delta.trailing_zeros() as u8;
    // Five bits hold the count of leading zeros.
    if lead >= 32 {
        lead = 31;
    }
    if *leading != 0xff && lead >= *leading && trail >= *trailing {
        b.bit(false);
        b.bits(delta >> *trailing, 64 - *leading - *trailing);
        return;
    }
    *leading = lead;
    *trailing = trail;
    b.bit(true);
    b.bits(u64::from(lead), 5);
    // 64 significant bits are written as 0 (six bits), as Prometheus does.
    let sig = 64 - lead - trail;
    b.bits(u64::from(sig), 6);
    b.bits(delta >> trail, sig);
}

/// The samples of an XOR chunk (Prometheus's `chunkenc` XOR encoding, as [`encode`]
/// writes it and Prometheus's remote read sends it): a big-endian sample count, then the
/// first timestamp (zigzag varint) and value (64 bits), the second timestamp's delta
/// (varint), then per sample a delta-of-delta in 1, 14, 17, 20 or 64 bits after its
/// prefix, and the value XOR-ed with the previous one (control bits, leading zeros and
/// significant bits). A chunk cut short or malformed is an error, never a panic: it comes
/// from another process.
pub(crate) fn decode(chunk: &[u8]) -> Result<Vec<(i64, f64)>, String> {
    let (head, data) = chunk
        .split_at_checked(2)
        .ok_or("an XOR chunk shorter than its header")?;
    let n = u16::from_be_bytes([head[0], head[1]]) as usize;
    let mut r = Reader { data, pos: 0 };
    let mut out = Vec::with_capacity(n);
    let (mut t, mut delta, mut v) = (0i64, 0i64, 0u64);
    let (mut lead, mut sig) = (0u8, 0u8);
    for i in 0..n {
        match i {
            0 => {
                let z = r.uvarint()?;
                t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                v = r.read(64)?;
                out.push((t, f64::from_bits(v)));
                continue;
            }
            1 => delta = r.uvarint()? as i64,
            _ => {
                let mut ones = 0;
                while ones < 4 && r.read(1)? == 1 {
                    ones += 1;
                }
                let width = [0u8, 14, 17, 20, 64][ones];
                if width > 0 {
                    let raw = r.read(width)?;
                    let dod = if width == 64 {
                        raw as i64
                    } else {
                        ((raw << (64 - width)) as i64) >> (64 - width)
                    };
                    delta = delta.wrapping_add(dod);
                }
            }
        }
        t = t.wrapping_add(delta);
        if r.read(1)? == 1 {
            if r.read(1)? == 1 {
                lead = r.read(5)? as u8;
                sig = r.read(6)? as u8;
                if sig == 0 {
                    sig = 64;
                }
                if u32::from(lead) + u32::from(sig) > 64 {
                    return Err(format!(
                        "an XOR chunk's value has {lead} leading and {sig} significant bits"
                    ));
                }
            }
            let bits = r.read(sig)?;
            v ^= bits.checked_shl(u32::from(64 - lead - sig)).unwrap_or(0);
        }
        out.push((t, f64::from_bits(v)));
    }
    Ok(out)
}

/// Reads bits off the front of a chunk's data, most significant first.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    /// The next `n` (at most 64) bits.
    fn read(&mut self, n: u8) -> Result<u64, String> {
        let mut acc = 0u64;
        for _ in 0..n {
            let byte = self
                .data
                .get(self.pos / 8)
                .ok_or("an XOR chunk cut short")?;
            acc = (acc << 1) | u64::from((byte >> (7 - self.pos % 8)) & 1);
            self.pos += 1;
        }
        Ok(acc)
    }

    /// A varint of whole bytes (not aligned to bytes of the data).
    fn uvarint(&mut self) -> Result<u64, String> {
        let (mut v, mut shift) = (0u64, 0u32);
        loop {
            let byte = self.read(8)?;
            if shift > 63 {
                return Err("an XOR chunk's varint overflows".into());
            }
            v |= (byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(v);
            }
            shift += 7;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(chunk: &[u8]) -> Vec<(i64, f64)> {
        super::decode(chunk).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn chunks_decode_to_their_samples() {
        let mut samples = vec![(1_700_000_000_000i64, 1.0), (1_700_000_015_000, 1.0)];
        // Regular steps, jitter of every width, resets, specials, 64 significant bits.
        let mut t = 1_700_000_015_000i64;
        for (k, jitter) in [
            0i64,
            3,
            -5,
            8_000,
            -8_191,
            65_000,
            -131_071,
            500_000,
            10_000_000_000,
            0,
            0,
        ]
        .iter()
        .enumerate()
        {
            t += 15_000 + jitter;
            let v = match k {
                3 => f64::NAN,
                4 => f64::INFINITY,
                5 => -0.0,
                6 => f64::from_bits(0x7ff0_0000_0000_0002),
                7 => 0.1 + 0.2,
                8 => f64::from_bits(0x8000_0000_0000_0001),
                _ => 1e9 + k as f64,
            };
            samples.push((t, v));
        }
        let got = decode(&encode(&samples));
        assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(&samples) {
            assert_eq!((g.0, g.1.to_bits()), (w.0, w.1.to_bits()));
        }
        // One sample; a negative first timestamp.
        assert_eq!(decode(&encode(&[(-5, 2.5)])), [(-5, 2.5)]);
    }

    #[test]
    fn chunks_cut_short_or_malformed_are_errors() {
        let samples: Vec<(i64, f64)> = (0..50).map(|i| (i * 15_000, i as f64 * 1.5)).collect();
        let chunk = encode(&samples);
        for cut in 0..chunk.len() - 1 {
            assert!(super::decode(&chunk[..cut]).is_err(), "cut at {cut}");
        }
        // A count larger than the data holds.
        let mut more = chunk.clone();
        more[1] = more[1].wrapping_add(5);
        assert!(super::decode(&more).is_err());
        // Garbage never panics.
        for seed in 0..200u64 {
            let junk: Vec<u8> = (0..40)
                .map(|i| (seed.wrapping_mul(31).wrapping_add(i * 17) % 251) as u8)
                .collect();
            let _ = super::decode(&junk);
        }
    }
}
