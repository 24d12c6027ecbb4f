//! Request parameters as (key, value) pairs, from a GET query string or a POST form body,
//! the form the Prometheus HTTP API handlers take.

use axum::http::{HeaderMap, Method, header};

use crate::http::error::ApiError;

/// The parameters of a request: (for a POST with `Content-Type:
/// application/x-www-form-urlencoded`) the body's, then the query string's, in order,
/// repeated keys kept (`match[]` may repeat). Percent-escapes and `+` are decoded. Body
/// first because a single-valued parameter takes its first value, and in Prometheus (Go's
/// `FormValue`) the body wins over the query string.
pub fn request_params(
    method: &Method,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    if method == Method::POST && !body.is_empty() {
        let ct = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let media = ct.split(';').next().unwrap_or("").trim();
        if !media.eq_ignore_ascii_case("application/x-www-form-urlencoded") {
            return Err(ApiError::UnsupportedMediaType(format!(
                "POST parameters must be sent as application/x-www-form-urlencoded, got {ct:?}"
            )));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::BadRequest("form body is not valid UTF-8".into()))?;
        out.extend(parse_pairs(text)?);
    }
    out.extend(parse_pairs(query.unwrap_or(""))?);
    Ok(out)
}

fn parse_pairs(text: &str) -> Result<Vec<(String, String)>, ApiError> {
    serde_urlencoded::from_str::<Vec<(String, String)>>(text)
        .map_err(|e| ApiError::BadRequest(format!("invalid URL-encoded parameters: {e}")))
}

/// `pairs` as the owned parameters a handler parses (for unit tests).
#[cfg(test)]
pub(crate) fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn form_then_query_pairs_in_order_with_repeats() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let p = request_params(
            &Method::POST,
            Some("query=up%7Bjob%3D%22a%22%7D&time=1"),
            &h,
            b"match[]=up&match[]=rate(x%5B5m%5D)+%3E+1",
        )
        .unwrap();
        let want: Vec<(String, String)> = [
            ("match[]", "up"),
            ("match[]", "rate(x[5m]) > 1"),
            ("query", "up{job=\"a\"}"),
            ("time", "1"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p, want);
    }

    #[test]
    fn post_bodies_must_be_forms() {
        let err = request_params(&Method::POST, None, &HeaderMap::new(), b"query=up").unwrap_err();
        assert_eq!(err.status(), axum::http::StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A GET ignores its body.
        let p = request_params(&Method::GET, Some("a=1"), &HeaderMap::new(), b"junk").unwrap();
        assert_eq!(p, vec![("a".to_owned(), "1".to_owned())]);
    }
}
