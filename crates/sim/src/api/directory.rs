//! The management API routes over [`crate::directory::Directory`]: users, groups, members,
//! apps, admin role assignments, policies and rules, authenticators, factors, API tokens, IdPs,
//! zones and org settings, with Okta's pagination.
//!
//! [`route`] maps a path to the directory [`Collection`] or [`Resource`] it shows, the OAuth
//! scope it needs and how it pages:
//! - `Link` paging (users, groups, members, apps, policies, API tokens, IdPs): `limit`
//!   (per-endpoint default and maximum) and `after` = the id of the last item of the previous
//!   page; `self` and `next` as separate `Link` headers, no `next` on the last page.
//! - body paging (`/api/v1/iam/*`): `{"value"|"roles"|"resource-sets": [...], "_links":
//!   {"next": {"href": ...}}}`.
//! - no paging (roles of a user or group, authenticators, factors, zones): a plain array.
//!
//! `filter` and `search` are evaluated with the `okta` crate's SCIM filter over each item's
//! JSON (`status eq "ACTIVE"`, `profile.login sw "a"`, `type eq "OKTA_GROUP"`); `q` is a
//! case-insensitive prefix match on the item's name fields.

use super::error::ApiError;
use super::{add_links, header_value, Shared};
use crate::directory::{Collection, DirectoryError, Resource};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use okta::filter::Filter;
use serde_json::{json, Value};
use std::sync::Arc;

/// How a collection pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Paging {
    /// `Link` headers; (default limit, maximum limit).
    Link(usize, usize),
    /// `_links.next` in a body object holding the items under this key; default limit.
    Body(&'static str, usize),
    /// A plain array.
    None,
}

/// What a path shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A collection and how it pages.
    List(Collection, Paging),
    /// One object.
    Get(Resource),
}

/// A directory route: what it shows and the scope an OAuth token needs for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// What the path shows.
    pub target: Target,
    /// The OAuth 2.0 scope.
    pub scope: &'static str,
}

/// The OAuth scope a path needs (`None`: not an API path this simulator knows).
pub fn scope_of(path: &str) -> Option<&'static str> {
    if path.trim_end_matches('/') == "/api/v1/logs" {
        return Some("okta.logs.read");
    }
    route(path, None).ok().flatten().map(|r| r.scope)
}

/// Maps a path (and the `type` parameter of `/api/v1/policies`) to its route.
pub fn route(path: &str, policy_type: Option<&str>) -> Result<Option<Route>, ApiError> {
    let parts: Vec<&str> = path
        .trim_end_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    let list = |c: Collection, paging: Paging, scope: &'static str| {
        Some(Route {
            target: Target::List(c, paging),
            scope,
        })
    };
    let get = |r: Resource, scope: &'static str| {
        Some(Route {
            target: Target::Get(r),
            scope,
        })
    };
    let id = |s: &str| s.to_string();
    Ok(match parts.as_slice() {
        ["api", "v1", "users"] => {
            list(Collection::Users, Paging::Link(200, 200), "okta.users.read")
        }
        ["api", "v1", "users", u] => get(Resource::User(id(u)), "okta.users.read"),
        ["api", "v1", "users", u, "groups"] => list(
            Collection::UserGroups(id(u)),
            Paging::Link(200, 200),
            "okta.users.read",
        ),
        ["api", "v1", "users", u, "roles"] => list(
            Collection::UserRoles(id(u)),
            Paging::None,
            "okta.roles.read",
        ),
        ["api", "v1", "users", u, "factors"] => list(
            Collection::UserFactors(id(u)),
            Paging::None,
            "okta.users.read",
        ),
        ["api", "v1", "groups"] => list(
            Collection::Groups,
            Paging::Link(200, 10_000),
            "okta.groups.read",
        ),
        ["api", "v1", "groups", g] => get(Resource::Group(id(g)), "okta.groups.read"),
        ["api", "v1", "groups", g, "users"] => list(
            Collection::GroupMembers(id(g)),
            Paging::Link(1000, 1000),
            "okta.groups.read",
        ),
        ["api", "v1", "groups", g, "roles"] => list(
            Collection::GroupRoles(id(g)),
            Paging::None,
            "okta.roles.read",
        ),
        ["api", "v1", "apps"] => list(Collection::Apps, Paging::Link(20, 200), "okta.apps.read"),
        ["api", "v1", "iam", "assignees", "users"] => list(
            Collection::AssigneesUsers,
            Paging::Body("value", 100),
            "okta.roles.read",
        ),
        ["api", "v1", "iam", "roles"] => list(
            Collection::IamRoles,
            Paging::Body("roles", 100),
            "okta.roles.read",
        ),
        ["api", "v1", "iam", "resource-sets"] => list(
            Collection::ResourceSets,
            Paging::Body("resource-sets", 100),
            "okta.roles.read",
        ),
        ["oauth2", "v1", "clients", c, "roles"] => list(
            Collection::ClientRoles(id(c)),
            Paging::None,
            "okta.roles.read",
        ),
        ["api", "v1", "policies"] => match policy_type {
            // Only the router's scope lookup calls without a type.
            None => list(
                Collection::Policies(String::new()),
                Paging::Link(20, 200),
                "okta.policies.read",
            ),
            Some(t) => list(
                Collection::Policies(t.to_string()),
                Paging::Link(20, 200),
                "okta.policies.read",
            ),
        },
        ["api", "v1", "policies", p, "rules"] => list(
            Collection::PolicyRules(id(p)),
            Paging::Link(20, 200),
            "okta.policies.read",
        ),
        ["api", "v1", "authenticators"] => list(
            Collection::Authenticators,
            Paging::None,
            "okta.authenticators.read",
        ),
        ["api", "v1", "api-tokens"] => list(
            Collection::ApiTokens,
            Paging::Link(20, 200),
            "okta.apiTokens.read",
        ),
        ["api", "v1", "idps"] => list(Collection::Idps, Paging::Link(20, 200), "okta.idps.read"),
        ["api", "v1", "zones"] => list(Collection::Zones, Paging::None, "okta.networkZones.read"),
        ["api", "v1", "org"] => get(Resource::Org, "okta.orgs.read"),
        ["api", "v1", "org", "privacy", "oktaSupport"] => {
            get(Resource::OktaSupport, "okta.orgs.read")
        }
        ["api", "v1", "threats", "configuration"] => {
            get(Resource::ThreatInsight, "okta.threatInsights.read")
        }
        ["api", "v1", "org", "settings", "clientPrivilegesSetting"] => {
            get(Resource::ClientPrivilegesSetting, "okta.orgs.read")
        }
        _ => None,
    })
}

fn directory_error(err: DirectoryError) -> ApiError {
    match err {
        DirectoryError::NotFound(what) => ApiError::not_found(what),
        DirectoryError::Invalid(what) => ApiError::validation("type", what),
    }
}

/// Paging and selection parameters of a list request.
#[derive(Debug, Default)]
struct ListParams {
    limit: Option<String>,
    after: Option<String>,
    filter: Option<String>,
    search: Option<String>,
    q: Option<String>,
    policy_type: Option<String>,
    rest: Vec<(String, String)>,
}

impl ListParams {
    fn parse(query: Option<&str>) -> ListParams {
        let mut params = ListParams::default();
        for (key, value) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let value = value.into_owned();
            match key.as_ref() {
                "limit" => params.limit = Some(value),
                "after" => params.after = Some(value),
                "filter" => params.filter = Some(value),
                "search" => params.search = Some(value),
                "q" => params.q = Some(value),
                "type" => {
                    params.policy_type = Some(value.clone());
                    params.rest.push((key.into_owned(), value));
                }
                _ => params.rest.push((key.into_owned(), value)),
            }
        }
        params
    }

    fn limit(&self, default: usize, max: usize) -> Result<usize, ApiError> {
        match self.limit.as_deref() {
            None | Some("") => Ok(default),
            Some(text) => match text.parse::<i64>() {
                // Okta treats a limit past the maximum as the maximum, and -1 as "all".
                Ok(-1) => Ok(max),
                Ok(n) if n >= 1 => Ok((n as usize).min(max)),
                _ => Err(ApiError::validation(
                    "limit",
                    format!("`{text}` is not a positive integer"),
                )),
            },
        }
    }

    fn next_query(&self, limit: usize, after: &str) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &self.rest {
            out.append_pair(key, value);
        }
        for (key, value) in [
            ("filter", &self.filter),
            ("search", &self.search),
            ("q", &self.q),
        ] {
            if let Some(value) = value {
                out.append_pair(key, value);
            }
        }
        out.append_pair("limit", &limit.to_string());
        out.append_pair("after", after);
        out.finish()
    }
}

/// Name fields `q` matches by prefix.
const Q_FIELDS: &[&[&str]] = &[
    &["profile", "login"],
    &["profile", "email"],
    &["profile", "firstName"],
    &["profile", "lastName"],
    &["profile", "name"],
    &["label"],
    &["name"],
];

fn q_matches(item: &Value, q: &str) -> bool {
    let q = q.to_lowercase();
    Q_FIELDS.iter().any(|path| {
        path.iter()
            .try_fold(item, |v, key| v.get(key))
            .and_then(Value::as_str)
            .is_some_and(|text| text.to_lowercase().starts_with(&q))
    })
}

fn select(items: Vec<Value>, params: &ListParams) -> Result<Vec<Value>, ApiError> {
    let mut filters = Vec::new();
    for (name, text) in [("filter", &params.filter), ("search", &params.search)] {
        if let Some(text) = text.as_deref().filter(|t| !t.trim().is_empty()) {
            let filter = Filter::parse(text).map_err(|err| {
                ApiError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "E0000031",
                    "Invalid search criteria.",
                )
                .cause(format!("{name}: {err}"))
            })?;
            filters.push(filter);
        }
    }
    let q = params.q.as_deref().filter(|q| !q.is_empty());
    Ok(items
        .into_iter()
        .filter(|item| filters.iter().all(|f| f.matches_value(item)))
        .filter(|item| q.is_none_or(|q| q_matches(item, q)))
        .collect())
}

fn json_response(body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The item page after `after` (an item id) of at most `limit` items, and whether more follow.
fn page<'a>(
    items: &'a [Value],
    after: Option<&str>,
    limit: usize,
) -> Result<(&'a [Value], bool), ApiError> {
    let start = match after.filter(|a| !a.is_empty()) {
        None => 0,
        Some(after) => {
            items
                .iter()
                .position(|item| item["id"].as_str() == Some(after))
                .ok_or_else(|| {
                    ApiError::validation("after", format!("`{after}` is not a valid cursor"))
                })?
                + 1
        }
    };
    let end = (start + limit).min(items.len());
    Ok((&items[start..end], end < items.len()))
}

/// `GET` on any directory path.
pub(crate) async fn get_directory(State(shared): State<Arc<Shared>>, uri: Uri) -> Response {
    match answer(&shared, &uri) {
        Ok(response) => response,
        Err(err) => err.into_response(),
    }
}

fn answer(shared: &Shared, uri: &Uri) -> Result<Response, ApiError> {
    let params = ListParams::parse(uri.query());
    let path = uri.path();
    if path.trim_end_matches('/') == "/api/v1/policies"
        && params.policy_type.as_deref().is_none_or(str::is_empty)
    {
        return Err(ApiError::validation(
            "type",
            "the type parameter is required, e.g. type=OKTA_SIGN_ON",
        ));
    }
    let route =
        route(path, params.policy_type.as_deref())?.ok_or_else(|| ApiError::not_found(path))?;
    let world = shared.world();
    let directory = world.directory();
    match route.target {
        Target::Get(resource) => {
            let value = directory.get(&resource).map_err(directory_error)?;
            Ok(json_response(value.to_string()))
        }
        Target::List(collection, paging) => {
            let items = directory.list(&collection).map_err(directory_error)?;
            drop(world);
            let items = select(items, &params)?;
            match paging {
                Paging::None => Ok(json_response(Value::Array(items).to_string())),
                Paging::Link(default, max) => {
                    let limit = params.limit(default, max)?;
                    let (items, more) = page(&items, params.after.as_deref(), limit)?;
                    let next = match (more, items.last()) {
                        (true, Some(last)) => {
                            Some(params.next_query(limit, last["id"].as_str().unwrap_or("")))
                        }
                        _ => None,
                    };
                    let mut response = json_response(Value::Array(items.to_vec()).to_string());
                    add_links(
                        response.headers_mut(),
                        &shared.base_url,
                        uri,
                        next.as_deref().map(|q| (path, q)),
                    );
                    Ok(response)
                }
                Paging::Body(key, default) => {
                    let limit = params.limit(default, 1000)?;
                    let (items, more) = page(&items, params.after.as_deref(), limit)?;
                    let self_href = format!(
                        "{}{}",
                        shared.base_url,
                        uri.path_and_query().map_or(path, |p| p.as_str())
                    );
                    let mut links = json!({"self": {"href": self_href}});
                    if let (true, Some(last)) = (more, items.last()) {
                        let next = params.next_query(limit, last["id"].as_str().unwrap_or(""));
                        links["next"] =
                            json!({"href": format!("{}{path}?{next}", shared.base_url)});
                    }
                    let body = json!({ key: items, "_links": links });
                    let mut response = json_response(body.to_string());
                    response.headers_mut().append(
                        header::LINK,
                        header_value(&format!("<{self_href}>; rel=\"self\"")),
                    );
                    Ok(response)
                }
            }
        }
    }
}
