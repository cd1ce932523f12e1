//! Pagination of list pages: which rows to fetch, and the links to the neighbours that keep
//! the current filters.

use super::error::encode_query;

#[derive(Debug, Clone)]
pub struct Pager {
    pub page: i64,
    pub pages: i64,
    pub total: i64,
    pub prev: Option<String>,
    pub next: Option<String>,
}

/// The 1-based page asked for, however it was typed.
pub fn page_number(raw: Option<&str>) -> i64 {
    raw.and_then(|p| p.trim().parse::<i64>().ok())
        .filter(|&p| p >= 1)
        .unwrap_or(1)
        .min(100_000)
}

pub fn offset(page: i64, per_page: i64) -> i64 {
    (page - 1) * per_page
}

impl Pager {
    /// `filters` are the query parameters to keep in the links (empty values are left out).
    pub fn new(
        base: &str,
        filters: &[(&str, &str)],
        page: i64,
        per_page: i64,
        total: i64,
    ) -> Pager {
        let pages = ((total + per_page - 1) / per_page).max(1);
        let link = |target: i64| {
            let mut query: Vec<String> = filters
                .iter()
                .filter(|(_, value)| !value.is_empty())
                .map(|(name, value)| format!("{name}={}", encode_query(value)))
                .collect();
            if target > 1 {
                query.push(format!("page={target}"));
            }
            if query.is_empty() {
                base.to_string()
            } else {
                format!("{base}?{}", query.join("&"))
            }
        };
        Pager {
            page,
            pages,
            total,
            prev: (page > 1).then(|| link((page - 1).min(pages))),
            next: (page < pages).then(|| link(page + 1)),
        }
    }
}

/// A search term as an ILIKE pattern that matches it literally anywhere.
pub fn contains_pattern(term: &str) -> Option<String> {
    let term = term.trim();
    if term.is_empty() {
        return None;
    }
    let escaped = term
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    Some(format!("%{escaped}%"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_filters_and_skip_empty_ones() {
        let pager = Pager::new("/admin/users", &[("q", "a b"), ("role", "")], 2, 25, 60);
        assert_eq!(pager.pages, 3);
        assert_eq!(pager.prev.as_deref(), Some("/admin/users?q=a+b"));
        assert_eq!(pager.next.as_deref(), Some("/admin/users?q=a+b&page=3"));
        let last = Pager::new("/x", &[], 3, 25, 60);
        assert!(last.next.is_none());
    }

    #[test]
    fn search_terms_match_literally() {
        assert_eq!(contains_pattern(" 50%_off "), Some("%50\\%\\_off%".into()));
        assert_eq!(contains_pattern("  "), None);
        assert_eq!(page_number(Some("-3")), 1);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(Some("4")), 4);
    }
}
