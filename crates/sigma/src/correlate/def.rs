//! A correlation rule compiled for our correlator: referenced rules resolved to indices,
//! `group-by` fields resolved per referenced rule through `aliases`, the timespan in
//! milliseconds, and the condition as predicates. What RSigma parses but Sigma v2.1 does not
//! define (`window: tumbling|session`, `gap`, `value_median`, boolean temporal conditions) is
//! rejected here with a message saying so.

use crate::matches::MatchKind;
use crate::ruleset::RuleInfo;
use crate::source::line_of;
use rsigma_parser::{
    ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, WindowMode,
};

/// When a correlation's condition is tested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// At every event, over the sliding window ending at it: for conditions more events can
    /// only make true (lower bounds on counts, distinct counts, sums, rules seen).
    AtEvent,
    /// When the window closes (`timespan` after its first event): for conditions with an
    /// upper bound and for averages and percentiles, which more events can turn false again.
    AtClose,
}

/// One `group-by` entry: its output name and the field to read for each referenced rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupField {
    pub name: String,
    pub per_ref: Vec<String>,
}

/// A compiled correlation.
#[derive(Debug, Clone)]
pub(crate) struct CorrelationDef {
    /// Index of this correlation in the rule set's `rules`.
    pub rule: usize,
    pub kind: MatchKind,
    /// Referenced rules (detection or correlation indices into `rules`), in `rules:` order.
    pub refs: Vec<usize>,
    pub group_by: Vec<GroupField>,
    pub timespan_ms: i64,
    pub predicates: Vec<(ConditionOperator, f64)>,
    /// The field counted (value_count) or aggregated (value_sum/avg/percentile).
    pub field: Option<String>,
    pub percentile: f64,
    pub mode: Mode,
    pub generate: bool,
    /// Stable hash of the definition: state saved for another definition is not reused.
    pub fingerprint: u64,
}

pub(crate) fn kind_of(t: CorrelationType) -> MatchKind {
    match t {
        CorrelationType::EventCount => MatchKind::EventCount,
        CorrelationType::ValueCount => MatchKind::ValueCount,
        CorrelationType::Temporal => MatchKind::Temporal,
        CorrelationType::TemporalOrdered => MatchKind::TemporalOrdered,
        CorrelationType::ValueSum => MatchKind::ValueSum,
        CorrelationType::ValueAvg => MatchKind::ValueAvg,
        CorrelationType::ValuePercentile | CorrelationType::ValueMedian => {
            MatchKind::ValuePercentile
        }
    }
}

/// Compiles one correlation. `rules` already holds every rule's info (detections and
/// correlations). Errors are (line, message).
pub(crate) fn compile_correlation(
    c: &CorrelationRule,
    index: usize,
    rules: &[RuleInfo],
    text: &str,
    line: usize,
) -> Result<CorrelationDef, (usize, String)> {
    let at = |needle: &str| line_of(text, line, needle);
    if c.correlation_type == CorrelationType::ValueMedian {
        return Err((
            at("value_median"),
            "`value_median` is an RSigma extension, not Sigma v2.1: use `value_percentile` with `percentile: 50`".into(),
        ));
    }
    if c.window != WindowMode::Sliding || c.gap.is_some() {
        return Err((
            at("window"),
            format!(
                "`window: {}` / `gap` are RSigma extensions, not Sigma v2.1; idwatch windows slide (remove them)",
                c.window.as_str()
            ),
        ));
    }
    if c.rules.is_empty() {
        return Err((at("rules"), "correlation lists no rules".into()));
    }
    let mut refs = Vec::new();
    for r in &c.rules {
        match rules.iter().position(|info| {
            info.id.as_deref() == Some(r.as_str()) || info.name.as_deref() == Some(r.as_str())
        }) {
            Some(i) if i == index => {
                return Err((at(r), format!("correlation references itself (`{r}`)")))
            }
            Some(i) => refs.push(i),
            None => {
                return Err((
                    at(r),
                    format!(
                        "references rule `{r}`, which no loaded rule has as its `id` or `name`"
                    ),
                ))
            }
        }
    }
    // group-by through aliases.
    let mut group_by = Vec::new();
    for g in &c.group_by {
        let per_ref = match c.aliases.iter().find(|a| &a.alias == g) {
            None => vec![g.clone(); refs.len()],
            Some(alias) => {
                let mut per = Vec::new();
                for (pos, r) in c.rules.iter().enumerate() {
                    let info = &rules[refs[pos]];
                    let field = alias
                        .mapping
                        .get(r)
                        .or_else(|| info.id.as_ref().and_then(|id| alias.mapping.get(id)))
                        .or_else(|| info.name.as_ref().and_then(|n| alias.mapping.get(n)));
                    match field {
                        Some(f) => per.push(f.clone()),
                        None => {
                            return Err((
                                at(&alias.alias),
                                format!("alias `{}` gives no field for rule `{r}`", alias.alias),
                            ))
                        }
                    }
                }
                per
            }
        };
        group_by.push(GroupField {
            name: g.clone(),
            per_ref,
        });
    }
    let kind = kind_of(c.correlation_type);
    let (predicates, field, percentile) = match &c.condition {
        CorrelationCondition::Extended(expr) => {
            return Err((
                at("condition"),
                format!("boolean correlation conditions (`{expr}`) are an RSigma extension; Sigma v2.1 conditions are gt/gte/lt/lte/eq/neq"),
            ))
        }
        CorrelationCondition::Threshold {
            predicates,
            field,
            percentile,
        } => (predicates.clone(), field.clone(), *percentile),
    };
    let field = match field.as_deref() {
        None => None,
        Some([one]) => Some(one.clone()),
        Some([]) => None,
        Some(_) => {
            return Err((
                at("field"),
                "`field` lists several fields; Sigma v2.1 aggregates one".into(),
            ))
        }
    };
    let needs_field = matches!(
        kind,
        MatchKind::ValueCount
            | MatchKind::ValueSum
            | MatchKind::ValueAvg
            | MatchKind::ValuePercentile
    );
    if needs_field && field.is_none() {
        return Err((
            at("condition"),
            format!(
                "`{}` needs `condition.field` (the field to aggregate)",
                kind.as_str()
            ),
        ));
    }
    if c.timespan.seconds == 0 {
        return Err((at("timespan"), "timespan must be longer than 0s".into()));
    }
    let temporal = matches!(kind, MatchKind::Temporal | MatchKind::TemporalOrdered);
    // A temporal correlation without a condition needs every rule (RSigma's parser writes that
    // as `gte: 1`, so the text decides).
    let explicit_condition = correlation_block_has(text, line, "condition");
    let mut predicates: Vec<(ConditionOperator, f64)> = predicates
        .into_iter()
        .map(|(op, v)| (op, v as f64))
        .collect();
    if temporal && !explicit_condition {
        predicates = vec![(ConditionOperator::Gte, refs.len() as f64)];
    }
    if predicates.is_empty() {
        return Err((
            at("condition"),
            "correlation condition has no comparison".into(),
        ));
    }
    let monotone_kind = matches!(
        kind,
        MatchKind::EventCount
            | MatchKind::ValueCount
            | MatchKind::ValueSum
            | MatchKind::Temporal
            | MatchKind::TemporalOrdered
    );
    let lower_bounds_only = predicates
        .iter()
        .all(|(op, _)| matches!(op, ConditionOperator::Gt | ConditionOperator::Gte));
    let mode = if monotone_kind && lower_bounds_only {
        Mode::AtEvent
    } else {
        Mode::AtClose
    };
    let timespan_ms = (c.timespan.seconds as i64).saturating_mul(1000);
    let percentile = percentile.unwrap_or(50) as f64;
    let fingerprint = fnv(&format!(
        "{kind:?}|{refs:?}|{group_by:?}|{timespan_ms}|{predicates:?}|{field:?}|{percentile}|{}",
        rules[index].key()
    ));
    Ok(CorrelationDef {
        rule: index,
        kind,
        refs,
        group_by,
        timespan_ms,
        predicates,
        field,
        percentile,
        mode,
        generate: c.generate,
        fingerprint,
    })
}

/// Whether the `correlation:` block of the document starting at `line` has `key`.
fn correlation_block_has(text: &str, line: usize, key: &str) -> bool {
    let mut inside = false;
    let mut indent = 0;
    for l in text.lines().skip(line.saturating_sub(1)) {
        if l.trim_end() == "---" && inside {
            break;
        }
        if !inside {
            if l.trim_start().starts_with("correlation:") {
                inside = true;
                indent = l.len() - l.trim_start().len();
            }
            continue;
        }
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let this_indent = l.len() - l.trim_start().len();
        if this_indent <= indent {
            break;
        }
        if l.trim_start().starts_with(&format!("{key}:")) {
            return true;
        }
    }
    false
}

/// FNV-1a: stable across runs and builds (unlike `DefaultHasher`), which saved state needs.
pub(crate) fn fnv(text: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in text.bytes() {
        h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}
