//! Cursor pagination for the API's lists: `?limit=1..=100` (25 unless asked) and an opaque
//! `cursor`, the base64url of the last row's sort key and id, answered as
//! `{"items": [...], "next_cursor": "…" or null}`.
//!
//! A cursor is bound to the list and the filters it was made for by a check value (a hash
//! of both with the key), so a cursor altered by hand, or one from another list, another
//! engagement or other filters, is a 400 problem, never a 500 nor a wrong page. It is no
//! secret: a client who forges one only moves its own place in a list the SQL scopes anyway.

use axum::http::StatusCode;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::problem::{ApiResult, Problem};

pub const DEFAULT_LIMIT: i64 = 25;
pub const MAX_LIMIT: i64 = 100;
/// Bytes of the check value at the head of a cursor.
const CHECK: usize = 8;
/// No cursor this API writes comes near this.
const MAX_CURSOR: usize = 1024;

/// One page's request: how many rows, and after which key.
#[derive(Debug)]
pub struct PageRequest {
    pub limit: i64,
    scope: String,
    after: Option<serde_json::Value>,
}

/// A page of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    pub items: Vec<T>,
    /// The cursor of the next page; null on the last.
    pub next_cursor: Option<String>,
}

fn bad_cursor() -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        "`cursor` is not one this list gave out; start again without it.",
    )
}

fn check(scope: &str, payload: &[u8]) -> [u8; CHECK] {
    let mut hash = Sha256::new();
    hash.update(scope.as_bytes());
    hash.update([0]);
    hash.update(payload);
    let digest = hash.finalize();
    let mut out = [0; CHECK];
    out.copy_from_slice(&digest[..CHECK]);
    out
}

impl PageRequest {
    /// The page asked for by the raw `cursor` and `limit` parameters of a list whose rows
    /// and filters `scope` names (e.g. `checkins:42`). A parameter given empty is refused
    /// like any other value outside its schema; only a missing one takes the default.
    pub fn new(
        scope: impl Into<String>,
        cursor: Option<&str>,
        limit: Option<&str>,
    ) -> ApiResult<PageRequest> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => raw
                .trim()
                .parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| {
                    Problem::new(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        format!("`limit` is a whole number from 1 to {MAX_LIMIT}."),
                    )
                })?,
        };
        let scope = scope.into();
        let after = match cursor {
            None => None,
            Some(raw) => Some(decode(&scope, raw)?),
        };
        Ok(PageRequest {
            limit,
            scope,
            after,
        })
    }

    /// The key to continue after, as the list's own type; none on the first page.
    pub fn after<K: DeserializeOwned>(&self) -> ApiResult<Option<K>> {
        self.after
            .clone()
            .map(|value| serde_json::from_value(value).map_err(|_| bad_cursor()))
            .transpose()
    }

    /// How many rows to fetch: one more than the page, to know whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }

    /// The page of `rows` (fetched with [`fetch`](Self::fetch)), its cursor made from the
    /// key of its last row.
    pub fn page<R, T, K: Serialize>(
        &self,
        mut rows: Vec<R>,
        key: impl Fn(&R) -> K,
        view: impl FnMut(R) -> T,
    ) -> Paged<T> {
        let limit = usize::try_from(self.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if more {
            rows.last().map(|last| encode(&self.scope, &key(last)))
        } else {
            None
        };
        Paged {
            items: rows.into_iter().map(view).collect(),
            next_cursor,
        }
    }
}

fn encode(scope: &str, key: &impl Serialize) -> String {
    let payload = serde_json::to_vec(key).unwrap_or_default();
    let mut bytes = check(scope, &payload).to_vec();
    bytes.extend_from_slice(&payload);
    base64url::encode(&bytes)
}

fn decode(scope: &str, raw: &str) -> ApiResult<serde_json::Value> {
    if raw.len() > MAX_CURSOR {
        return Err(bad_cursor());
    }
    let bytes = base64url::decode(raw).ok_or_else(bad_cursor)?;
    if bytes.len() <= CHECK {
        return Err(bad_cursor());
    }
    let (given, payload) = bytes.split_at(CHECK);
    if given != check(scope, payload) {
        return Err(bad_cursor());
    }
    serde_json::from_slice(payload).map_err(|_| bad_cursor())
}

/// Base64url without padding (RFC 4648 §5), strict: no padding, no other characters, no
/// stray bits.
mod base64url {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
            for i in 0..=chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            }
        }
        out
    }

    fn value(c: u8) -> Option<u32> {
        ALPHABET.iter().position(|a| *a == c).map(|p| p as u32)
    }

    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let text = text.as_bytes();
        if text.len() % 4 == 1 {
            return None;
        }
        let mut out = Vec::with_capacity(text.len() / 4 * 3 + 2);
        for chunk in text.chunks(4) {
            let mut n = 0u32;
            for (i, c) in chunk.iter().enumerate() {
                n |= value(*c)? << (18 - 6 * i);
            }
            let bytes = chunk.len() - 1;
            // Bits past the last whole byte must be zero, so each cursor has one spelling.
            if n & ((1 << (24 - 8 * bytes)) - 1) != 0 {
                return None;
            }
            out.extend((0..bytes).map(|i| (n >> (16 - 8 * i)) as u8));
        }
        Some(out)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips_every_length_and_refuses_what_it_never_writes() {
            for len in 0..40u8 {
                let bytes: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37) ^ 0xa5).collect();
                assert_eq!(decode(&encode(&bytes)), Some(bytes));
            }
            assert_eq!(encode(b"foobar"), "Zm9vYmFy");
            assert_eq!(encode(b"fo"), "Zm8");
            for bad in ["Zm8=", "Z", "Zm9", "Zm+v", "Zm/v", "Zm9v YmFy"] {
                assert_eq!(decode(bad), None, "{bad}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_reads_back_only_in_the_list_it_was_made_for() {
        let cursor = encode("checkins:1", &("2026-03-01", 7));
        let page = PageRequest::new("checkins:1", Some(&cursor), None).unwrap();
        assert_eq!(
            page.after::<(String, i64)>().unwrap(),
            Some(("2026-03-01".to_string(), 7))
        );
        assert!(PageRequest::new("checkins:2", Some(&cursor), None).is_err());
        let mut tampered = cursor.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert!(PageRequest::new("checkins:1", Some(&tampered), None).is_err());
    }

    #[test]
    fn the_limit_is_1_to_100_and_25_unless_asked() {
        assert_eq!(PageRequest::new("x", None, None).unwrap().limit, 25);
        assert_eq!(PageRequest::new("x", None, Some("100")).unwrap().limit, 100);
        for bad in ["0", "101", "-1", "abc", "1.5"] {
            assert_eq!(
                PageRequest::new("x", None, Some(bad)).unwrap_err().status,
                422
            );
        }
    }
}

/// The OpenAPI part of the paginated lists and the governance resources (check-ins, action
/// items, findings, the portfolio), merged into the API's document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        super::engagements::list,
        super::checkins::list,
        super::checkins::show,
        super::checkins::create,
        super::checkins::close_item,
        super::findings::list,
        super::findings::answer,
        super::portfolio::list,
    ),
    components(schemas(
        super::engagements::EngagementItem,
        super::checkins::CheckinView,
        super::checkins::ActionItemView,
        super::checkins::NewCheckinBody,
        super::checkins::NewActionItem,
        super::checkins::ItemClosingBody,
        super::findings::FindingView,
        super::findings::AnswerBody,
        super::portfolio::PortfolioItem,
        super::portfolio::PeriodDates,
        super::portfolio::WeakestKpi,
    ))
)]
pub struct ResourcesApi;

#[cfg(test)]
mod openapi_tests {
    use utoipa::OpenApi;

    #[test]
    fn the_resources_document_names_every_route_and_the_page_shape() {
        let doc = super::ResourcesApi::openapi().to_json().unwrap();
        for path in [
            "/api/v1/engagements",
            "/api/v1/engagements/{id}/checkins",
            "/api/v1/checkins/{id}",
            "/api/v1/action-items/{id}",
            "/api/v1/engagements/{id}/findings",
            "/api/v1/findings/{id}/answer",
            "/api/v1/portfolio",
        ] {
            assert!(doc.contains(&format!("\"{path}\"")), "{path}");
        }
        assert!(doc.contains("next_cursor"));
    }
}
