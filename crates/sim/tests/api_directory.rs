//! The directory APIs of the running simulator with a real HTTP client: Okta's Link-header and
//! body pagination, admin role endpoints, policies, posture objects, 400/404s, and scenario
//! changes showing up in them.

use reqwest::header::HeaderMap;
use serde_json::Value;
use sim::api::{SimConfig, SimServer};
use std::collections::HashSet;

const TOKEN: &str = "directory-token";

async fn server(scenarios: &[&str]) -> SimServer {
    SimServer::start(SimConfig {
        users: 40,
        days: 2,
        seed: 3,
        token: Some(TOKEN.into()),
        scenarios: scenarios.iter().map(|s| s.to_string()).collect(),
        ..SimConfig::default()
    })
    .await
    .expect("start")
}

fn next_link(headers: &HeaderMap) -> Option<String> {
    headers.get_all("link").iter().find_map(|v| {
        let text = v.to_str().ok()?;
        let (url, rel) = text.split_once(">; rel=\"")?;
        (rel == "next\"").then(|| url.trim_start_matches('<').to_string())
    })
}

async fn get(url: &str) -> (u16, HeaderMap, Value) {
    let response = reqwest::Client::new()
        .get(url)
        .header("Authorization", format!("SSWS {TOKEN}"))
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.json().await.expect("json"))
}

/// Follows `Link` pages from `url`, returning every item and the number of pages.
async fn all_pages(url: String) -> (Vec<Value>, usize) {
    let mut url = Some(url);
    let mut items = Vec::new();
    let mut pages = 0;
    while let Some(current) = url {
        let (status, headers, body) = get(&current).await;
        assert_eq!(status, 200, "{current}: {body}");
        items.extend(body.as_array().expect("array").iter().cloned());
        pages += 1;
        url = next_link(&headers);
        assert!(pages < 1000);
    }
    (items, pages)
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test]
async fn users_groups_members_and_apps_page_with_link_headers() {
    let sim = server(&[]).await;
    let base = sim.base_url();
    for (path, small) in [
        ("/api/v1/users", 7),
        ("/api/v1/groups", 3),
        ("/api/v1/apps", 4),
    ] {
        let (whole, pages) = all_pages(format!("{base}{path}?limit=1000")).await;
        assert_eq!(pages, 1, "{path}");
        assert!(whole.len() > small, "{path}: {} items", whole.len());
        let (paged, pages) = all_pages(format!("{base}{path}?limit={small}")).await;
        assert_eq!(pages, whole.len().div_ceil(small), "{path}");
        assert_eq!(ids(&paged), ids(&whole), "{path}");
        let unique: HashSet<_> = ids(&paged).into_iter().collect();
        assert_eq!(unique.len(), paged.len());
    }
    let (users, _) = all_pages(format!("{base}/api/v1/users")).await;
    assert!(users.iter().all(|u| u["status"] != "DEPROVISIONED"));
    assert!(users
        .iter()
        .all(|u| u.get("lastLogin").is_some() && u.get("passwordChanged").is_some()));
    let (groups, _) = all_pages(format!("{base}/api/v1/groups")).await;
    let everyone = groups
        .iter()
        .find(|g| g["profile"]["name"] == "Everyone")
        .expect("Everyone group");
    let group_id = everyone["id"].as_str().expect("id");
    let (members, pages) =
        all_pages(format!("{base}/api/v1/groups/{group_id}/users?limit=9")).await;
    assert!(pages >= 2);
    assert!(members.len() >= users.len(), "everyone is in Everyone");
    // filter with the SCIM syntax.
    let (active, _) = all_pages(format!(
        "{base}/api/v1/users?filter={}",
        urlencode(r#"status eq "ACTIVE""#)
    ))
    .await;
    assert!(!active.is_empty() && active.iter().all(|u| u["status"] == "ACTIVE"));
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn admin_roles_through_assignees_users_and_groups() {
    let sim = server(&[]).await;
    let base = sim.base_url();
    let mut url = Some(format!("{base}/api/v1/iam/assignees/users?limit=1"));
    let mut assignees = Vec::new();
    while let Some(current) = url {
        let (status, _, body) = get(&current).await;
        assert_eq!(status, 200, "{body}");
        assignees.extend(body["value"].as_array().expect("value").iter().cloned());
        url = body["_links"]["next"]["href"].as_str().map(str::to_string);
    }
    assert!(assignees.len() >= 2, "{assignees:?}");
    let mut super_admins = 0;
    for assignee in &assignees {
        let id = assignee["id"].as_str().expect("id");
        let (status, _, roles) = get(&format!("{base}/api/v1/users/{id}/roles")).await;
        assert_eq!(status, 200);
        let roles = roles.as_array().expect("array");
        assert!(!roles.is_empty(), "an assignee has a role");
        super_admins += roles.iter().filter(|r| r["type"] == "SUPER_ADMIN").count();
    }
    assert!(super_admins >= 1);
    // Admin groups carry their role.
    let (groups, _) = all_pages(format!("{base}/api/v1/groups")).await;
    let mut group_roles = 0;
    for group in &groups {
        let id = group["id"].as_str().expect("id");
        let (status, _, roles) = get(&format!("{base}/api/v1/groups/{id}/roles")).await;
        assert_eq!(status, 200);
        for role in roles.as_array().expect("array") {
            assert_eq!(role["assignmentType"], "GROUP");
            group_roles += 1;
        }
    }
    assert!(group_roles >= 1);
}

#[tokio::test]
async fn policies_posture_objects_and_errors() {
    let sim = server(&[]).await;
    let base = sim.base_url();
    let (status, _, body) = get(&format!("{base}/api/v1/policies")).await;
    assert_eq!(status, 400);
    assert_eq!(body["errorCode"], "E0000001");
    let (policies, _) = all_pages(format!("{base}/api/v1/policies?type=OKTA_SIGN_ON")).await;
    assert!(!policies.is_empty());
    assert!(policies.iter().all(|p| p["type"] == "OKTA_SIGN_ON"));
    let policy = policies[0]["id"].as_str().expect("id");
    let (rules, _) = all_pages(format!("{base}/api/v1/policies/{policy}/rules")).await;
    assert!(!rules.is_empty());
    for path in [
        "/api/v1/authenticators",
        "/api/v1/zones",
        "/api/v1/api-tokens",
        "/api/v1/idps",
    ] {
        let (status, _, body) = get(&format!("{base}{path}")).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert!(body.is_array(), "{path}");
    }
    let (status, _, support) = get(&format!("{base}/api/v1/org/privacy/oktaSupport")).await;
    assert_eq!(status, 200);
    assert!(support["support"] == "ENABLED" || support["support"] == "DISABLED");
    let (status, _, org) = get(&format!("{base}/api/v1/org")).await;
    assert_eq!(status, 200);
    assert!(org["id"].as_str().is_some_and(|id| id.starts_with("00o")));
    let (status, _, body) = get(&format!("{base}/api/v1/users/00unothere")).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorCode"], "E0000007");
    let (status, _, body) = get(&format!("{base}/api/v1/nothing")).await;
    assert_eq!(status, 404);
    assert_eq!(body["errorCode"], "E0000007");
    let (status, _, body) = get(&format!("{base}/api/v1/users?after=00unothere")).await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test]
async fn scenario_changes_show_in_the_directory() {
    let plain = server(&[]).await;
    let attacked = server(&["admin-takeover", "support-impersonation"]).await;
    let idps = |sim: &SimServer| format!("{}/api/v1/idps", sim.base_url());
    let (_, _, before) = get(&idps(&plain)).await;
    let (_, _, after) = get(&idps(&attacked)).await;
    assert_eq!(
        after.as_array().expect("array").len(),
        before.as_array().expect("array").len() + 1,
        "admin-takeover created an IdP"
    );
    // The privilege grant of admin-takeover: someone new has a role.
    let assignees = |sim: &SimServer| format!("{}/api/v1/iam/assignees/users", sim.base_url());
    let (_, _, before) = get(&assignees(&plain)).await;
    let (_, _, after) = get(&assignees(&attacked)).await;
    assert!(
        after["value"].as_array().expect("value").len()
            > before["value"].as_array().expect("value").len()
    );
    assert!(!attacked.truth().is_empty());
}
