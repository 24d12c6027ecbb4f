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

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader written from the format's description, independent of the writer's
    /// structure: each sample decoded bit by bit.
    fn decode(chunk: &[u8]) -> Vec<(i64, f64)> {
        let n = u16::from_be_bytes([chunk[0], chunk[1]]) as usize;
        let data = &chunk[2..];
        let mut pos = 0usize;
        let bit = |pos: &mut usize| {
            let v = (data[*pos / 8] >> (7 - *pos % 8)) & 1;
            *pos += 1;
            v == 1
        };
        let read =
            |pos: &mut usize, n: u8| (0..n).fold(0u64, |acc, _| (acc << 1) | u64::from(bit(pos)));
        let uvarint = |pos: &mut usize| {
            let (mut v, mut shift) = (0u64, 0);
            loop {
                let byte = read(pos, 8);
                v |= (byte & 0x7f) << shift;
                if byte < 0x80 {
                    return v;
                }
                shift += 7;
            }
        };
        let mut out = Vec::new();
        let (mut t, mut delta, mut v) = (0i64, 0i64, 0u64);
        let (mut lead, mut sig) = (0u8, 0u8);
        for i in 0..n {
            if i == 0 {
                let z = uvarint(&mut pos);
                t = ((z >> 1) as i64) ^ -((z & 1) as i64);
                v = read(&mut pos, 64);
                out.push((t, f64::from_bits(v)));
                continue;
            }
            if i == 1 {
                delta = uvarint(&mut pos) as i64;
            } else {
                let mut ones = 0;
                while ones < 4 && read(&mut pos, 1) == 1 {
                    ones += 1;
                }
                let width = [0, 14, 17, 20, 64][ones];
                if width > 0 {
                    let raw = read(&mut pos, width);
                    let dod = if width == 64 {
                        raw as i64
                    } else {
                        ((raw << (64 - width)) as i64) >> (64 - width)
                    };
                    delta += dod;
                }
            }
            t += delta;
            if read(&mut pos, 1) == 1 {
                if read(&mut pos, 1) == 1 {
                    lead = read(&mut pos, 5) as u8;
                    sig = read(&mut pos, 6) as u8;
                    if sig == 0 {
                        sig = 64;
                    }
                }
                let bits = read(&mut pos, sig);
                v ^= bits << (64 - lead - sig);
            }
            out.push((t, f64::from_bits(v)));
        }
        out
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
}
