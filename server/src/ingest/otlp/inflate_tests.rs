use std::io::Write;

use super::*;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in-memory write");
    enc.finish().expect("in-memory finish")
}

/// Bytes that do not compress to nothing: a counter's little-endian bytes.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// `body` with its gzip trailer declaring `len` bytes.
fn declaring(mut body: Vec<u8>, len: u32) -> Vec<u8> {
    let n = body.len();
    body[n - 4..].copy_from_slice(&len.to_le_bytes());
    body
}

fn inflater(body: &[u8], max_len: usize) -> Inflater<'_> {
    Inflater::new(body, Some("gzip"), max_len)
        .expect("gzip")
        .expect("compressed")
}

#[test]
fn a_single_member_body_is_inflated_in_one_pass_into_a_buffer_of_its_length() {
    let plain = data(300_000);
    let gz = gzip(&plain);
    let inf = inflater(&gz, 1 << 20);
    assert_eq!(inf.first_len().expect("declared"), plain.len());
    let Pass::Done(out) = inf.pass(plain.len()).expect("inflates") else {
        panic!("one pass");
    };
    assert_eq!(out, plain);
    assert_eq!(out.capacity(), plain.len(), "no slack, no growth");
    // Exactly at the limit is allowed.
    assert_eq!(
        inflater(&gz, plain.len()).inflate().expect("at the limit"),
        plain
    );
}

#[test]
fn several_members_are_counted_then_inflated_into_a_buffer_of_the_exact_length() {
    let (a, b) = (data(200_000), data(50_000));
    let mut gz = gzip(&a);
    gz.extend_from_slice(&gzip(&b));
    let inf = inflater(&gz, 1 << 20);
    // The trailer is the last member's.
    assert_eq!(inf.first_len().expect("declared"), b.len());
    assert!(matches!(inf.pass(b.len()), Ok(Pass::Longer(250_000))));
    let out = inf.inflate().expect("inflates");
    assert_eq!(out.len(), 250_000);
    assert_eq!(out.capacity(), 250_000);
    assert_eq!(&out[..a.len()], a.as_slice());
    assert_eq!(&out[a.len()..], b.as_slice());
    // One byte under the true length: refused, from the first pass's count.
    let e = inflater(&gz, 249_999).inflate().expect_err("over");
    assert!(
        matches!(e, OtlpError::BodyTooLarge { limit: 249_999 }),
        "{e:?}"
    );
}

#[test]
fn a_gzip_bomb_is_refused_without_a_buffer_past_the_limit() {
    // 1 GiB of zeros as 1024 gzip members of 1 MiB each (a gzip body may hold several
    // members, and the decoder reads them all): about 1 MiB on the wire.
    let member = gzip(&vec![0u8; 1 << 20]);
    let bomb = member.repeat(1024);
    assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());
    let limit = 2 << 20;
    let too_large = |r: Result<Vec<u8>, OtlpError>| matches!(r, Err(OtlpError::BodyTooLarge { limit: l }) if l == limit);
    // The last trailer says 1 MiB: the first buffer; the rest is counted to the limit.
    assert_eq!(inflater(&bomb, limit).first_len().expect("1 MiB"), 1 << 20);
    assert!(too_large(inflater(&bomb, limit).inflate()));
    // A trailer lying that it is the limit: the largest first buffer, then refused.
    let lying = declaring(bomb.clone(), limit as u32);
    assert!(too_large(inflater(&lying, limit).inflate()));
    // A trailer declaring more than the limit: refused before inflating anything.
    let honest = declaring(bomb, 1 << 30);
    let e = decompress(&honest, Some("gzip"), limit).expect_err("over");
    assert!(
        matches!(e, OtlpError::DeclaredTooLarge { declared: 1_073_741_824, limit: l } if l == limit),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        "the gzip trailer declares 1073741824 bytes once inflated, over the limit of 2097152 \
         bytes (server.max_body_bytes)"
    );
}

#[test]
fn a_trailer_that_lies_short_is_caught_by_the_length_check() {
    let plain = data(10_000);
    let gz = declaring(gzip(&plain), 100);
    let inf = inflater(&gz, 1 << 20);
    assert_eq!(inf.first_len().expect("declared"), 100);
    let e = inf.inflate().expect_err("corrupt");
    assert!(matches!(e, OtlpError::Gzip { .. }), "{e:?}");
}

#[test]
fn identity_is_borrowed_and_other_encodings_are_refused() {
    assert!(matches!(
        Inflater::new(b"abc", Some(" Identity "), 3),
        Ok(None)
    ));
    assert!(matches!(
        Inflater::new(b"abcd", None, 3),
        Err(OtlpError::BodyTooLarge { limit: 3 })
    ));
    for enc in ["zstd", "br", "deflate", "snappy"] {
        let e = Inflater::new(b"abc", Some(enc), 3).expect_err(enc);
        assert!(
            matches!(e, OtlpError::UnsupportedContentEncoding { .. }),
            "{e:?}"
        );
    }
    for body in [&b""[..], b"short", &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]] {
        let e = inflater(body, 1 << 20).inflate().expect_err("not gzip");
        assert!(matches!(e, OtlpError::Gzip { .. }), "{e:?}");
    }
}
