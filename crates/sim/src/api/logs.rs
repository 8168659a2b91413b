//! `GET /api/v1/logs`: parameter validation with Okta's 400s, polling and bounded requests, and
//! their `Link` headers.
//!
//! - A **polling** request (no `until`, `sortOrder=ASCENDING`) walks the log in persistence order
//!   ([`crate::world::StoredEvent::seq`]); `since` bounds the persistence time; its `next` link
//!   is always present, also on `[]`, and its cursor is a position in the append-only log, so
//!   events committed later (late events included) come on later pages.
//! - A **bounded** request (`until` given, or `DESCENDING`) walks committed events by
//!   `published` in `[since, until)`; the last page has no `next` link.
//!
//! The `after` cursor is `{ms}_{n}` (Okta's shape, e.g. `1627500044869_1`): for polling `n` is the
//! next log position, for bounded requests the sequence number of the last event returned.
//! `next` links repeat every original parameter plus `after`, except that polling `next` links
//! drop `since` (the cursor supersedes it; `since` with `after` on a polling request is a 400).

use super::error::ApiError;
use crate::world::World;
use axum::http::StatusCode;
use chrono::{DateTime, Duration, Utc};
use okta::filter::{Filter, Keywords};
use std::ops::Bound;

/// Okta's default page size.
pub const DEFAULT_LIMIT: usize = 100;
/// Okta's largest page size.
pub const MAX_LIMIT: usize = 1000;
/// `since` further back than this is refused.
pub const MAX_SINCE_DAYS: i64 = 180;

/// A validated `/api/v1/logs` request.
#[derive(Debug)]
pub struct LogsQuery {
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    after: Option<(i64, u64)>,
    filter: Option<(String, Filter)>,
    q: Option<(String, Keywords)>,
    limit: usize,
    limit_text: Option<String>,
    descending: bool,
    sort_text: Option<String>,
    until_text: Option<String>,
    since_text: Option<String>,
}

/// One page of results.
#[derive(Debug)]
pub struct LogsPage {
    /// The JSON array.
    pub body: String,
    /// Number of events in it.
    pub count: usize,
    /// The query string of the `next` link, if there is one.
    pub next_query: Option<String>,
}

fn parse_time(field: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::validation(
                field,
                format!(
                    "The date `{text}` is not valid. Dates must be ISO 8601, e.g. \
                     2017-05-03T16:22:18Z or 2017-05-03T16:22:18.000-07:00"
                ),
            )
        })
}

impl LogsQuery {
    /// Validates the query string against Okta's rules (`now` for the 180-day limit on `since`).
    pub fn parse(query: Option<&str>, now: DateTime<Utc>) -> Result<LogsQuery, ApiError> {
        let mut since_text = None;
        let mut until_text = None;
        let mut after_text = None;
        let mut filter_text = None;
        let mut q_text = None;
        let mut limit_text = None;
        let mut sort_text = None;
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match key.as_ref() {
                "since" => &mut since_text,
                "until" => &mut until_text,
                "after" => &mut after_text,
                "filter" => &mut filter_text,
                "q" => &mut q_text,
                "limit" => &mut limit_text,
                "sortOrder" => &mut sort_text,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        let since = since_text
            .as_deref()
            .filter(|s| !s.is_empty())
            .map(|s| parse_time("since", s))
            .transpose()?;
        let until_text = until_text.filter(|s| !s.is_empty());
        let until = until_text
            .as_deref()
            .map(|s| parse_time("until", s))
            .transpose()?;
        if let Some(since) = since {
            if since < now - Duration::days(MAX_SINCE_DAYS) {
                return Err(ApiError::invalid_filter(
                    "since parameter is over 180 days prior to the current day.",
                ));
            }
        }
        if let (Some(since), Some(until)) = (since, until) {
            if since > until {
                return Err(ApiError::validation(
                    "since",
                    "The since date must be before the until date",
                ));
            }
        }
        let after_text = after_text.filter(|s| !s.is_empty());
        let descending_requested = sort_text.as_deref() == Some("DESCENDING");
        if after_text.is_some() && since.is_some() && until.is_none() && !descending_requested {
            return Err(ApiError::validation(
                "after",
                "The after and since parameters cannot be used together in a polling request",
            ));
        }
        let after = after_text
            .as_deref()
            .map(|text| {
                let parsed = text
                    .split_once('_')
                    .and_then(|(ms, n)| Some((ms.parse::<i64>().ok()?, n.parse::<u64>().ok()?)));
                parsed.ok_or_else(|| {
                    ApiError::validation("after", format!("`{text}` is not a valid cursor"))
                })
            })
            .transpose()?;
        let limit = match limit_text.as_deref() {
            None | Some("") => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n <= MAX_LIMIT => n,
                _ => {
                    return Err(ApiError::validation(
                        "limit",
                        format!("`{text}` is not an integer between 0 and {MAX_LIMIT}"),
                    ))
                }
            },
        };
        let descending = match sort_text.as_deref() {
            None | Some("") | Some("ASCENDING") => false,
            Some("DESCENDING") => true,
            Some(other) => {
                return Err(ApiError::validation(
                    "sortOrder",
                    format!("`{other}` is not one of ASCENDING, DESCENDING"),
                ))
            }
        };
        let filter = match filter_text.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(text) => {
                let parsed = Filter::parse(&text).and_then(|f| f.okta_restrictions().map(|()| f));
                match parsed {
                    Ok(filter) => Some((text, filter)),
                    Err(err) if err.okta_code() == "E0000031" => {
                        return Err(ApiError::new(
                            StatusCode::BAD_REQUEST,
                            "E0000031",
                            "Invalid search criteria.",
                        )
                        .cause(err.to_string()))
                    }
                    Err(err) => {
                        return Err(ApiError::invalid_filter(format!(
                            "Invalid filter '{text}': {err}"
                        )))
                    }
                }
            }
        };
        let q = match q_text.filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(text) => match Keywords::parse(&text) {
                Ok(k) => Some((text, k)),
                Err(err) => return Err(ApiError::validation("q", err.to_string())),
            },
        };
        Ok(LogsQuery {
            since,
            until,
            after,
            filter,
            q,
            limit,
            limit_text: limit_text.filter(|s| !s.is_empty()),
            descending,
            sort_text: sort_text.filter(|s| !s.is_empty()),
            until_text,
            since_text: since_text.filter(|s| !s.is_empty()),
        })
    }

    /// Whether this is a polling request (no `until`, ascending).
    pub fn is_polling(&self) -> bool {
        self.until.is_none() && !self.descending
    }

    fn matches(&self, json: &str) -> bool {
        if self.filter.is_none() && self.q.is_none() {
            return true;
        }
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(json) else {
            return false;
        };
        self.filter
            .as_ref()
            .is_none_or(|(_, f)| f.matches_value(&doc))
            && self.q.as_ref().is_none_or(|(_, k)| k.matches_value(&doc))
    }

    fn next_query(&self, cursor: String) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        if let Some(limit) = &self.limit_text {
            out.append_pair("limit", limit);
        }
        if let Some(sort) = &self.sort_text {
            out.append_pair("sortOrder", sort);
        }
        if let Some(until) = &self.until_text {
            out.append_pair("until", until);
        }
        if !self.is_polling() {
            if let Some(since) = &self.since_text {
                out.append_pair("since", since);
            }
        }
        if let Some((text, _)) = &self.filter {
            out.append_pair("filter", text);
        }
        if let Some((text, _)) = &self.q {
            out.append_pair("q", text);
        }
        out.append_pair("after", &cursor);
        out.finish()
    }

    /// Runs the query against the world's committed events.
    pub fn run(&self, world: &World) -> Result<LogsPage, ApiError> {
        let events = world.committed();
        let floor = world.retention_floor();
        let mut body = String::from("[");
        let mut count = 0usize;
        let mut push = |json: &str, count: &mut usize| {
            if *count > 0 {
                body.push(',');
            }
            body.push_str(json);
            *count += 1;
        };
        if self.is_polling() {
            let start = match self.after {
                Some((_, position)) => {
                    if position > events.len() as u64 {
                        return Err(ApiError::validation("after", "the cursor is not valid"));
                    }
                    position as usize
                }
                None => {
                    let since = self.since.unwrap_or(world.now() - Duration::days(7));
                    events.partition_point(|e| e.persisted < since)
                }
            };
            let mut position = start;
            while position < events.len() && count < self.limit {
                let event = &events[position];
                position += 1;
                if event.published >= floor && self.matches(&event.json) {
                    push(&event.json, &mut count);
                }
            }
            body.push(']');
            let stamp = position
                .checked_sub(1)
                .and_then(|p| events.get(p))
                .map_or(0, |e| e.persisted.timestamp_millis());
            return Ok(LogsPage {
                body,
                count,
                next_query: Some(self.next_query(format!("{stamp}_{position}"))),
            });
        }
        let until = self.until.unwrap_or(world.now());
        let since = self.since.unwrap_or(until - Duration::days(7)).max(floor);
        let low = (since.timestamp_micros(), 0u64);
        let high = (until.timestamp_micros(), 0u64);
        let index = world.by_published();
        let cursor_key = match self.after {
            None => None,
            Some((_, seq)) => {
                let event = events
                    .get(seq as usize)
                    .ok_or_else(|| ApiError::validation("after", "the cursor is not valid"))?;
                Some((event.published.timestamp_micros(), event.order))
            }
        };
        let range: Box<dyn Iterator<Item = (&(i64, u64), &u64)>> = if self.descending {
            let upper = match cursor_key {
                Some(key) => Bound::Excluded(key.min(high)),
                None => Bound::Excluded(high),
            };
            // A cursor outside the window leaves nothing (and must not make an empty range).
            if low >= high || cursor_key.is_some_and(|key| key <= low) {
                Box::new(std::iter::empty())
            } else {
                Box::new(index.range((Bound::Included(low), upper)).rev())
            }
        } else {
            let lower = match cursor_key {
                Some(key) => Bound::Excluded(key.max(low)),
                None => Bound::Included(low),
            };
            if low >= high || cursor_key.is_some_and(|key| key >= high) {
                Box::new(std::iter::empty())
            } else {
                Box::new(index.range((lower, Bound::Excluded(high))))
            }
        };
        let mut last = None;
        let mut more = false;
        for (_, &seq) in range {
            let event = &events[seq as usize];
            if !self.matches(&event.json) {
                continue;
            }
            if count == self.limit {
                more = true;
                break;
            }
            push(&event.json, &mut count);
            last = Some(event);
        }
        body.push(']');
        let next_query = match (more, last) {
            (true, Some(event)) => Some(self.next_query(format!(
                "{}_{}",
                event.published.timestamp_millis(),
                event.seq
            ))),
            _ => None,
        };
        Ok(LogsPage {
            body,
            count,
            next_query,
        })
    }
}
