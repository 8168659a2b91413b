//! `group-admin`: an org admin adds an ordinary user to the super-admin group
//! (`group.user_membership.add`, the same event as any department change — no
//! `user.account.privilege.grant`), and a few hours later the new admin opens the Admin Console.
//! Only the admin roster (group-derived `SUPER_ADMIN`) shows the new privilege.

use super::flow::{ordinary_users, pick_time, Attack};
use super::{DirectoryChange, ScenarioError, ScenarioPlan};
use crate::generate::event::Target;
use crate::generate::{AdminRole, GroupKind, Org};
use chrono::{DateTime, Duration, Utc};
use rand::Rng;

pub(crate) const NAME: &str = "group-admin";

pub(crate) fn plan(
    org: &Org,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    seed: u64,
    out: &mut ScenarioPlan,
) -> Result<(), ScenarioError> {
    let mut a = Attack::new(org, NAME, seed);
    let admin = org
        .first_admin(AdminRole::OrgAdmin)
        .or_else(|| org.first_admin(AdminRole::SuperAdmin))
        .map(|admin| &org.users[admin.user])
        .ok_or_else(|| super::impossible(NAME, "the org has no admin"))?;
    let group = org
        .groups
        .iter()
        .find(|g| g.kind == GroupKind::Admin(AdminRole::SuperAdmin))
        .ok_or_else(|| super::impossible(NAME, "the org has no super-admin group"))?;
    let at = pick_time(
        &mut a.rng,
        start,
        end,
        admin.home.utc_offset(),
        10 * 60..13 * 60,
        Duration::hours(6),
    )
    .ok_or_else(|| super::impossible(NAME, "the window is shorter than 6 hours"))?;
    let candidates = ordinary_users(org, at, at + Duration::hours(6), None);
    if candidates.is_empty() {
        return Err(super::impossible(NAME, "no active user in the window"));
    }
    let member = &org.users[candidates[a.rng.random_range(0..candidates.len())]];

    let mut s = a.home_session(admin, at);
    a.sign_in(&mut s, false);
    s.at += a.pause(20_000, 120_000);
    a.open_admin_console(&mut s, false);
    s.at += a.pause(40_000, 4 * 60_000);
    let uri = format!("/api/v1/groups/{}/users/{}", group.id, member.id);
    let targets = [Target::user(member), Target::group(group)];
    a.admin_action(
        &s,
        "group.user_membership.add",
        "Add user to group membership",
        Some("core.user_group_member.user_add"),
        &uri,
        &targets,
        &[],
        true,
    );
    a.change(
        s.at,
        DirectoryChange::AddGroupMember {
            group_id: group.id.clone(),
            user_id: member.id.clone(),
        },
    );

    let later = s.at + a.pause(60 * 60_000, 4 * 3_600_000);
    let mut m = a.home_session(member, later);
    a.sign_in(&mut m, false);
    m.at += a.pause(30_000, 5 * 60_000);
    a.open_admin_console(&mut m, true);
    a.finish(NAME, admin.login.clone(), out);
    Ok(())
}
