//! Rule rewrites done before RSigma compiles a rule: selector expansion (`1 of filter_*`,
//! `all of them`) into plain identifiers with a full glob (`*` anywhere, any number of times,
//! as the spec says), and meta filters merged into the rules they target with pySigma's
//! semantics: the rule's condition becomes `(<rule condition>) and (<filter condition>)`, so a
//! filter that suppresses must say `not …`.

use rsigma_parser::{ConditionExpr, Quantifier, SelectorPattern, SigmaRule};

/// Does `name` match a selector glob (`*` = any run of characters, anywhere)?
pub(crate) fn glob_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n.first() == Some(c) && go(rest, &n[1..]),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// Replaces `N of PATTERN` / `all of them` by explicit identifier lists. `names` are the
/// rule's detection identifiers. A selector that matches nothing is an error (the spec's
/// reference tools refuse it too), returned as the offending pattern.
pub(crate) fn expand_selectors(
    expr: &ConditionExpr,
    names: &[String],
) -> Result<ConditionExpr, String> {
    Ok(match expr {
        ConditionExpr::And(items) => ConditionExpr::And(
            items
                .iter()
                .map(|i| expand_selectors(i, names))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Or(items) => ConditionExpr::Or(
            items
                .iter()
                .map(|i| expand_selectors(i, names))
                .collect::<Result<_, _>>()?,
        ),
        ConditionExpr::Not(inner) => ConditionExpr::Not(Box::new(expand_selectors(inner, names)?)),
        ConditionExpr::Identifier(id) => ConditionExpr::Identifier(id.clone()),
        ConditionExpr::Selector {
            quantifier,
            pattern,
        } => {
            let mut matched: Vec<String> = names
                .iter()
                .filter(|n| match pattern {
                    SelectorPattern::Them => !n.starts_with('_'),
                    SelectorPattern::Pattern(p) => glob_matches(p, n),
                })
                .cloned()
                .collect();
            matched.sort();
            if matched.is_empty() {
                return Err(pattern.to_string());
            }
            let ids: Vec<ConditionExpr> =
                matched.into_iter().map(ConditionExpr::Identifier).collect();
            match quantifier {
                Quantifier::Any => ConditionExpr::Or(ids),
                Quantifier::All => ConditionExpr::And(ids),
                Quantifier::Count(n) => at_least(*n as usize, &ids),
            }
        }
    })
}

/// `N of` as a formula: at least `n` of `ids` (OR over the AND of each n-subset; selectors are
/// small, and the count is capped so a hostile rule cannot explode it).
fn at_least(n: usize, ids: &[ConditionExpr]) -> ConditionExpr {
    if n == 0 {
        return ConditionExpr::And(Vec::new());
    }
    if n > ids.len() {
        return ConditionExpr::Or(Vec::new());
    }
    if n == 1 {
        return ConditionExpr::Or(ids.to_vec());
    }
    let mut alternatives = Vec::new();
    let mut pick = Vec::new();
    fn choose(
        start: usize,
        n: usize,
        ids: &[ConditionExpr],
        pick: &mut Vec<ConditionExpr>,
        out: &mut Vec<ConditionExpr>,
    ) {
        if out.len() > 4096 {
            return;
        }
        if pick.len() == n {
            out.push(ConditionExpr::And(pick.clone()));
            return;
        }
        for i in start..ids.len() {
            pick.push(ids[i].clone());
            choose(i + 1, n, ids, pick, out);
            pick.pop();
        }
    }
    choose(0, n, ids, &mut pick, &mut alternatives);
    ConditionExpr::Or(alternatives)
}

/// Renames identifiers (`selection` → `{prefix}selection`).
pub(crate) fn prefix_identifiers(expr: &ConditionExpr, prefix: &str) -> ConditionExpr {
    match expr {
        ConditionExpr::And(items) => ConditionExpr::And(
            items
                .iter()
                .map(|i| prefix_identifiers(i, prefix))
                .collect(),
        ),
        ConditionExpr::Or(items) => ConditionExpr::Or(
            items
                .iter()
                .map(|i| prefix_identifiers(i, prefix))
                .collect(),
        ),
        ConditionExpr::Not(inner) => {
            ConditionExpr::Not(Box::new(prefix_identifiers(inner, prefix)))
        }
        ConditionExpr::Identifier(id) => ConditionExpr::Identifier(format!("{prefix}{id}")),
        other => other.clone(),
    }
}

/// Expands every selector of a rule's conditions in place.
pub(crate) fn expand_rule_selectors(rule: &mut SigmaRule) -> Result<(), String> {
    let names: Vec<String> = rule.detection.named.keys().cloned().collect();
    let expanded = rule
        .detection
        .conditions
        .iter()
        .map(|c| expand_selectors(c, &names))
        .collect::<Result<Vec<_>, _>>()?;
    rule.detection.conditions = expanded;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_anywhere() {
        assert!(glob_matches("sel*", "selection"));
        assert!(glob_matches("*sel*", "my_selection_2"));
        assert!(glob_matches("a*b*c", "aXbYc"));
        assert!(!glob_matches("a*b*c", "aXbY"));
        assert!(glob_matches("exact", "exact"));
    }

    #[test]
    fn them_skips_underscore_names() {
        let names = vec!["a".to_string(), "_hidden".to_string(), "b".to_string()];
        let e = expand_selectors(
            &ConditionExpr::Selector {
                quantifier: Quantifier::All,
                pattern: SelectorPattern::Them,
            },
            &names,
        )
        .unwrap();
        assert_eq!(e.to_string(), "(a and b)");
    }
}
