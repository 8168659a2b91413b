//! RFC 8288 `Link` headers as Okta sends them: usually one header line per link
//! (`<url>; rel="self"` and `<url>; rel="next"` separately), but a comma-joined single header
//! must work too, and `rel` may be quoted or not and may hold several relation types.

/// The `rel="next"` target among `values` (each one `Link` header line), if any.
pub fn next_link<'a, I>(values: I) -> Option<String>
where
    I: IntoIterator<Item = &'a str>,
{
    values
        .into_iter()
        .flat_map(parse_links)
        .find(|(_, rels)| rels.iter().any(|r| r.eq_ignore_ascii_case("next")))
        .map(|(url, _)| url)
}

/// Every `(target, rel types)` in one header value.
pub fn parse_links(value: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close_rel) = rest[open..].find('>') else {
            break;
        };
        let close = open + close_rel;
        let target = rest[open + 1..close].trim().to_string();
        let after = &rest[close + 1..];
        // Parameters run to the next link (a `<` after a comma) or the end.
        let end = after.find('<').unwrap_or(after.len());
        let params = &after[..end];
        let mut rels = Vec::new();
        for param in params.split(';') {
            let param = param.trim().trim_end_matches(',').trim();
            let Some((name, value)) = param.split_once('=') else {
                continue;
            };
            if name.trim().eq_ignore_ascii_case("rel") {
                let value = value.trim().trim_matches('"');
                rels.extend(value.split_whitespace().map(str::to_string));
            }
        }
        out.push((target, rels));
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separate_header_lines() {
        let lines = [
            r#"<https://x.okta.com/api/v1/logs?limit=20>; rel="self""#,
            r#"<https://x.okta.com/api/v1/logs?limit=20&after=1627500044869_1>; rel="next""#,
        ];
        assert_eq!(
            next_link(lines).as_deref(),
            Some("https://x.okta.com/api/v1/logs?limit=20&after=1627500044869_1")
        );
    }

    #[test]
    fn one_comma_joined_header_unquoted_and_multiple_rels() {
        let line = r#"<https://x/a?b=1,2>; rel=self, <https://x/a?after=9>; rel="prefetch next""#;
        assert_eq!(next_link([line]).as_deref(), Some("https://x/a?after=9"));
        assert_eq!(parse_links(line)[0].0, "https://x/a?b=1,2");
    }

    #[test]
    fn no_next() {
        assert_eq!(next_link([r#"<https://x/a>; rel="self""#]), None);
        assert_eq!(next_link([""]), None);
        assert_eq!(next_link(["garbage <unterminated"]), None);
    }
}
