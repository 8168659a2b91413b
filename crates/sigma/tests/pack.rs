//! The built-in rule pack (`rules/` at the repository root): every rule compiles together as one
//! set (as `detect` embeds it) with no placeholder configured, ids and names are unique and
//! stable in form, every rule file has a rule test file beside it, and every rule test
//! (positives and near misses, as stream and as hunt) passes. Also checks the pack covers every
//! event type issue 7 names.

#![allow(clippy::unwrap_used)]

use sigma::testfile::{discover, run_test_file};
use sigma::{CompileOptions, MatchKind, RuleSet, RuleSource};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn pack_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules")
}

fn pack() -> RuleSet {
    RuleSet::compile(&[RuleSource::Path(pack_dir())], &CompileOptions::default())
        .unwrap_or_else(|e| panic!("the built-in pack does not compile:\n{e}"))
}

fn rule_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rule_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml")
            && !path.to_string_lossy().ends_with(".tests.yml")
        {
            out.push(path);
        }
    }
}

#[test]
fn every_rule_compiles_as_one_set_without_configuration() {
    let set = pack();
    assert!(set.rules().len() >= 40, "{} rules", set.rules().len());
    let mut ids = BTreeSet::new();
    for r in set.rules() {
        let id =
            r.id.as_deref()
                .unwrap_or_else(|| panic!("{} has no id", r.title));
        assert!(
            id.len() == 36 && id.chars().filter(|&c| c == '-').count() == 4,
            "{}: id `{id}` is not a UUID",
            r.path.display()
        );
        assert!(ids.insert(id.to_string()), "duplicate id {id}");
        let name = r
            .name
            .as_deref()
            .unwrap_or_else(|| panic!("{} has no name", r.title));
        assert!(name.starts_with("okta-"), "{name}");
        assert!(r.description.is_some(), "{name} has no description");
        assert!(r.status.is_some(), "{name} has no status");
    }
    assert!(set.correlation_count() >= 5);
    assert!(set.extension_count() >= 5);
}

#[test]
fn every_rule_file_has_tests_and_every_test_passes() {
    let mut files = Vec::new();
    rule_files(&pack_dir(), &mut files);
    for f in &files {
        let tests = f.with_extension("tests.yml");
        assert!(tests.exists(), "{} has no {}", f.display(), tests.display());
    }
    let test_files = discover(&[pack_dir()]).unwrap();
    assert_eq!(test_files.len(), files.len());
    let mut failed = Vec::new();
    let mut passed = 0;
    let mut positives = BTreeSet::new();
    for tf in &test_files {
        for outcome in
            run_test_file(tf, &CompileOptions::default()).unwrap_or_else(|e| panic!("{e}"))
        {
            if outcome.passed() {
                passed += 1;
            } else {
                failed.push(format!(
                    "{}: {}: {}",
                    outcome.path.display(),
                    outcome.name,
                    outcome.failures.join("; ")
                ));
            }
        }
        for case in &tf.tests {
            for e in &case.expect {
                positives.insert(e.rule.clone());
            }
        }
    }
    assert!(
        failed.is_empty(),
        "{} failed:\n{}",
        failed.len(),
        failed.join("\n")
    );
    assert!(passed >= 100, "only {passed} rule tests");
    // Every reported rule is shown firing by at least one test (signals feed others).
    let set = pack();
    for r in set.rules() {
        if !r.emitted && r.kind == MatchKind::Detection {
            continue;
        }
        let named = [r.id.clone(), r.name.clone(), Some(r.title.clone())];
        assert!(
            named.iter().flatten().any(|n| positives.contains(n)),
            "no test shows {} firing",
            r.key()
        );
    }
}

/// Issue 7: a rule for each event type a defender must watch after the 2022 support breach.
#[test]
fn the_pack_watches_every_lapsus_event_type() {
    let set = pack();
    let mut watched = BTreeSet::new();
    for r in set.rules() {
        if let Some(types) = &r.event_types {
            watched.extend(types.iter().cloned());
        }
    }
    for t in [
        "user.session.impersonation.initiate",
        "user.mfa.factor.deactivate",
        "user.mfa.factor.activate",
        "user.mfa.factor.reset_all",
        "user.account.privilege.grant",
        "user.account.reset_password",
        "user.account.update_password",
        "group.privilege.grant",
        "security.authenticator.lifecycle.deactivate",
        "system.mfa.factor.deactivate",
        "system.mfa.factor.activate",
        "user.session.access_admin_app",
        "security.threat.detected",
    ] {
        assert!(watched.contains(t), "no rule watches {t}");
    }
}
