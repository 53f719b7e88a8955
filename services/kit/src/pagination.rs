//! Opaque page tokens for keyset pagination: a token names the last key returned and
//! a fingerprint of the query it belongs to, so it cannot be replayed on another query.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

pub const DEFAULT_PAGE_SIZE: usize = 50;
pub const MAX_PAGE_SIZE: usize = 500;

/// A validated page request: how many rows, and after which key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub size: usize,
    pub after: Option<String>,
    fingerprint: String,
}

#[derive(Serialize, Deserialize)]
struct Token {
    k: String,
    f: String,
}

fn fingerprint_of(query: &str) -> String {
    hex::encode(&Sha256::digest(query.as_bytes())[..8])
}

impl Page {
    /// `query` describes the filters (any stable string, e.g. `format!("{req:?}")` of the
    /// request without its page fields).
    pub fn parse(page_size: i32, page_token: &str, query: &str) -> Result<Self, ApiError> {
        let size = match page_size {
            0 => DEFAULT_PAGE_SIZE,
            n if n < 0 => return Err(ApiError::invalid("page_size", "must not be negative")),
            n if n as usize > MAX_PAGE_SIZE => {
                return Err(ApiError::invalid(
                    "page_size",
                    format!("must be at most {MAX_PAGE_SIZE}, got {n}"),
                ));
            }
            n => n as usize,
        };
        let fingerprint = fingerprint_of(query);
        let after = if page_token.is_empty() {
            None
        } else {
            let bad = || ApiError::invalid("page_token", "is not a token this query returned");
            let bytes = URL_SAFE_NO_PAD.decode(page_token).map_err(|_| bad())?;
            let token: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
            if token.f != fingerprint {
                return Err(ApiError::invalid("page_token", "belongs to a different query"));
            }
            Some(token.k)
        };
        Ok(Self { size, after, fingerprint })
    }

    /// Rows to fetch: one more than the page, to know whether another page follows.
    pub fn fetch_limit(&self) -> i64 {
        self.size as i64 + 1
    }

    /// Trims `rows` to the page and returns the token of the next page (empty when last).
    pub fn finish<T>(&self, rows: &mut Vec<T>, key_of: impl Fn(&T) -> String) -> String {
        if rows.len() <= self.size {
            return String::new();
        }
        rows.truncate(self.size);
        match rows.last() {
            Some(last) => {
                let token = Token { k: key_of(last), f: self.fingerprint.clone() };
                URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).unwrap_or_default())
            }
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_walk_a_list_to_its_end() {
        let all: Vec<String> = (0..7).map(|i| format!("k{i}")).collect();
        let mut token = String::new();
        let mut seen = Vec::new();
        loop {
            let page = Page::parse(3, &token, "q").unwrap();
            let mut rows: Vec<String> = all
                .iter()
                .filter(|k| page.after.as_ref().is_none_or(|a| *k > a))
                .take(page.fetch_limit() as usize)
                .cloned()
                .collect();
            token = page.finish(&mut rows, |k| k.clone());
            seen.extend(rows);
            if token.is_empty() {
                break;
            }
        }
        assert_eq!(seen, all);
    }

    #[test]
    fn oversized_and_negative_pages_are_refused_naming_page_size() {
        let err = Page::parse(501, "", "q").unwrap_err();
        assert_eq!(err.message, "page_size: must be at most 500, got 501");
        assert!(Page::parse(-1, "", "q").is_err());
    }

    #[test]
    fn a_token_from_another_query_or_garbage_is_refused() {
        let page = Page::parse(1, "", "q1").unwrap();
        let mut rows = vec!["a".to_string(), "b".to_string()];
        let token = page.finish(&mut rows, |k| k.clone());
        assert!(Page::parse(1, &token, "q1").is_ok());
        assert!(Page::parse(1, &token, "q2").unwrap_err().message.contains("different query"));
        assert!(Page::parse(1, "!!!", "q1").unwrap_err().message.starts_with("page_token"));
    }
}
