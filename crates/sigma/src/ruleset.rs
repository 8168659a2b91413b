//! `RuleSet`: rule sources compiled once into an immutable set. `compile` reads every source,
//! checks every rule, resolves placeholders, merges meta filters, compiles detection rules with
//! RSigma and correlation rules into our own definitions (see `correlate`), and returns every
//! problem at once. Evaluation takes `&self`: one `Arc<RuleSet>` serves every thread.
//!
//! ## Routing
//! Most rules name the `eventType`s they can match (`eventType: user.session.start`, or a list).
//! Those rules are partitioned by event type, one RSigma engine per type, so an event visits
//! only the rules for its own type plus the few that do not constrain it (`displayMessage`,
//! `legacyEventType`, …); an event of a type no rule names costs one hash lookup. Inside a
//! partition RSigma's own witness index prunes further.

use crate::correlate::def::{compile_correlation, CorrelationDef};
use crate::error::{CompileError, RuleError};
use crate::event::OktaEvent;
use crate::matches::{Level, Match, MatchKind};
use crate::placeholders::{expand_detection, expand_rule, Placeholders};
use crate::rewrite::{expand_rule_selectors, expand_selectors, prefix_identifiers};
use crate::source::{line_of, load, LoadedFile, Located, RuleSource};
use rsigma_eval::Engine;
use rsigma_parser::{
    ConditionExpr, Detection, FilterRule, FilterRuleTarget, LogSource, SigmaRule, SigmaValue,
    StringPart,
};
use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;

/// What compiling needs besides the rules.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// `|expand` placeholders: name (without `%`) → values.
    pub placeholders: Placeholders,
    /// Put every rule in one RSigma engine instead of routing by `eventType` (benchmarks
    /// compare the two; results are the same).
    pub disable_routing: bool,
}

/// One rule of a set, as `rules list` shows it and matches report it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleInfo {
    /// `id`.
    pub id: Option<String>,
    /// `name` (what correlations may reference).
    pub name: Option<String>,
    /// `title`.
    pub title: String,
    /// `level` (`medium` when absent).
    pub level: Level,
    /// `status`, as written.
    pub status: Option<String>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `description`.
    pub description: Option<String>,
    /// Detection, or the correlation type.
    pub kind: MatchKind,
    /// The file it came from.
    pub path: PathBuf,
    /// The line its document starts on.
    pub line: usize,
    /// Whether its matches are reported (false for a rule only used by correlations with
    /// `generate: false`).
    pub emitted: bool,
    /// The event types it is routed on (lowercase), or `None` when it sees every event.
    pub event_types: Option<Vec<String>>,
}

impl RuleInfo {
    /// The identity matches carry: `id`, else `name`, else `title`.
    pub fn key(&self) -> &str {
        self.id
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.title)
    }

    /// True when this reference (`id`, `name`, or `title`) names this rule.
    pub fn is_named(&self, reference: &str) -> bool {
        self.id.as_deref() == Some(reference)
            || self.name.as_deref() == Some(reference)
            || self.title == reference
    }
}

/// Rules compiled once. See the module doc.
pub struct RuleSet {
    pub(crate) rules: Vec<RuleInfo>,
    detection_count: usize,
    by_event_type: HashMap<Box<str>, Engine>,
    unrouted: Engine,
    unrouted_count: usize,
    pub(crate) correlations: Vec<CorrelationDef>,
    /// Per rule index: the correlations it feeds, with its position in their `rules:` list.
    pub(crate) feeds: Vec<Vec<(usize, usize)>>,
    /// Correlation indices, children before parents.
    pub(crate) correlation_order: Vec<usize>,
    /// Extension rules (`x-idwatch` blocks, see [`crate::ext`]).
    pub(crate) ext: Vec<crate::ext::ExtDef>,
    /// Per rule index: the extensions it feeds, with its role (1 candidate, 0 other rule).
    pub(crate) ext_feeds: Vec<Vec<(usize, u8)>>,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuleSet")
            .field("rules", &self.rules.len())
            .field("detections", &self.detection_count)
            .field("correlations", &self.correlations.len())
            .field("event_type_partitions", &self.by_event_type.len())
            .field("unrouted", &self.unrouted_count)
            .field("extensions", &self.ext.len())
            .finish()
    }
}

impl RuleSet {
    /// Compiles rule sources. Every problem is returned, not just the first.
    pub fn compile(
        sources: &[RuleSource],
        options: &CompileOptions,
    ) -> Result<RuleSet, CompileError> {
        let mut errors = Vec::new();
        let files = load(sources, &mut errors);
        let set = build(&files, options, &mut errors);
        if errors.is_empty() {
            Ok(set)
        } else {
            Err(CompileError { errors })
        }
    }

    /// Compiles one YAML text (tests, examples).
    pub fn from_yaml(yaml: &str, options: &CompileOptions) -> Result<RuleSet, CompileError> {
        Self::compile(
            &[RuleSource::Text {
                name: "<rules>".to_string(),
                text: yaml.to_string(),
            }],
            options,
        )
    }

    /// Every rule: detection rules first, then correlations, in file order.
    pub fn rules(&self) -> &[RuleInfo] {
        &self.rules
    }

    /// Number of detection (single-event) rules.
    pub fn detection_count(&self) -> usize {
        self.detection_count
    }

    /// Number of correlation rules.
    pub fn correlation_count(&self) -> usize {
        self.correlations.len()
    }

    /// Number of rules with an `x-idwatch` extension block.
    pub fn extension_count(&self) -> usize {
        self.ext.len()
    }

    /// Detection rules that see every event (not routed by `eventType`).
    pub fn unrouted_count(&self) -> usize {
        self.unrouted_count
    }

    /// The single-event rules that match `event`, as matches (rules with `emitted == false`
    /// are left out). Stateless; correlations need a [`crate::Correlator`].
    pub fn evaluate(&self, event: &okta::LogEvent) -> Vec<Match> {
        let mut hits = Vec::new();
        self.matching_rules(event, &mut hits);
        hits.into_iter()
            .filter(|&i| self.rules[i].emitted)
            .map(|i| self.detection_match(i, event))
            .collect()
    }

    /// Appends the index of every detection rule that matches `event` (emitted or not).
    pub fn matching_rules(&self, event: &okta::LogEvent, out: &mut Vec<usize>) {
        let view = OktaEvent::new(event);
        let event_type = event.event_type();
        let routed = if event_type.bytes().any(|b| b.is_ascii_uppercase()) {
            self.by_event_type
                .get(event_type.to_ascii_lowercase().as_str())
        } else {
            self.by_event_type.get(event_type)
        };
        if let Some(engine) = routed {
            collect(engine, &view, out);
        }
        if self.unrouted_count > 0 {
            collect(&self.unrouted, &view, out);
        }
    }

    /// Like [`RuleSet::matching_rules`] for any Okta-shaped JSON (Panther test rows).
    pub fn matching_rules_in(&self, doc: &serde_json::Value, out: &mut Vec<usize>) {
        let view = OktaEvent::from_value(doc);
        let event_type = ["eventType", "eventtype"]
            .iter()
            .find_map(|k| doc.get(k).and_then(|v| v.as_str()))
            .unwrap_or_default()
            .to_ascii_lowercase();
        if let Some(engine) = self.by_event_type.get(event_type.as_str()) {
            collect(engine, &view, out);
        }
        if self.unrouted_count > 0 {
            collect(&self.unrouted, &view, out);
        }
    }

    pub(crate) fn detection_match(&self, rule: usize, event: &okta::LogEvent) -> Match {
        let info = &self.rules[rule];
        Match {
            rule_id: info.key().to_string(),
            title: info.title.clone(),
            level: info.level,
            tags: info.tags.clone(),
            kind: MatchKind::Detection,
            at: event.published(),
            event_uuids: vec![event.uuid().0.clone()],
            event_count: None,
            group_key: None,
            window_start: None,
            window_end: None,
            value: None,
        }
    }

    /// The index of the rule a reference (`id`, `name` or `title`) names.
    pub fn find(&self, reference: &str) -> Option<usize> {
        self.rules.iter().position(|r| r.is_named(reference))
    }
}

fn collect(engine: &Engine, view: &OktaEvent<'_>, out: &mut Vec<usize>) {
    for result in engine.evaluate(view) {
        // Rules are handed to RSigma with their index as id (see `build`).
        if let Some(index) = result
            .header
            .rule_id
            .as_deref()
            .and_then(|s| s.parse().ok())
        {
            out.push(index);
        }
    }
}

fn rule_label(id: Option<&str>, name: Option<&str>, title: &str) -> String {
    id.or(name).unwrap_or(title).to_string()
}

fn build(files: &[LoadedFile], options: &CompileOptions, errors: &mut Vec<RuleError>) -> RuleSet {
    let err = |file: usize, line: usize, rule: String, message: String| RuleError {
        path: files[file].path.clone(),
        line,
        rule,
        message,
    };

    // Detection rules: metadata first, so filters and correlations can resolve references.
    let mut detections: Vec<(Located<SigmaRule>, RuleInfo)> = Vec::new();
    let mut ext_specs: Vec<(usize, crate::ext::ExtSpec)> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        for located in &f.rules {
            let rule = &located.doc;
            let mut ext_kind = None;
            if let Some(block) = rule.custom_attributes.get(crate::ext::ATTRIBUTE) {
                match crate::ext::parse_block(block) {
                    Ok(spec) => {
                        ext_kind = Some(spec.kind());
                        ext_specs.push((detections.len(), spec));
                    }
                    Err(message) => errors.push(err(
                        fi,
                        line_of(&f.text, located.line, crate::ext::ATTRIBUTE),
                        rule_label(rule.id.as_deref(), rule.name.as_deref(), &rule.title),
                        message,
                    )),
                }
            }
            detections.push((
                located.clone(),
                RuleInfo {
                    id: rule.id.clone(),
                    name: rule.name.clone(),
                    title: rule.title.clone(),
                    level: Level::from_rsigma(rule.level),
                    status: rule.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
                    tags: rule.tags.clone(),
                    description: rule.description.clone(),
                    kind: ext_kind.unwrap_or(MatchKind::Detection),
                    path: f.path.clone(),
                    line: located.line,
                    // An extension rule reports only what its extension decides.
                    emitted: ext_kind.is_none(),
                    event_types: None,
                },
            ));
        }
    }
    let mut correlation_infos: Vec<(usize, &Located<rsigma_parser::CorrelationRule>)> = Vec::new();
    for (fi, f) in files.iter().enumerate() {
        for located in &f.correlations {
            correlation_infos.push((fi, located));
        }
    }

    // Duplicate ids and names would make references ambiguous.
    {
        let mut seen: HashMap<String, (usize, usize)> = HashMap::new();
        let all = detections
            .iter()
            .map(|(l, i)| {
                (
                    l.file,
                    l.line,
                    i.id.clone(),
                    i.name.clone(),
                    i.title.clone(),
                )
            })
            .chain(correlation_infos.iter().map(|(fi, l)| {
                (
                    *fi,
                    l.line,
                    l.doc.id.clone(),
                    l.doc.name.clone(),
                    l.doc.title.clone(),
                )
            }))
            .collect::<Vec<_>>();
        for (file, line, id, name, title) in all {
            let mut keys: Vec<String> = [id.clone(), name.clone()].into_iter().flatten().collect();
            keys.dedup();
            for key in keys {
                if let Some((pf, pl)) = seen.insert(key.clone(), (file, line)) {
                    errors.push(err(
                        file,
                        line,
                        rule_label(id.as_deref(), name.as_deref(), &title),
                        format!(
                            "`{key}` is already used by the rule at {}:{pl}; ids and names must be unique",
                            files[pf].path.display()
                        ),
                    ));
                }
            }
        }
    }

    // Rewrites: placeholders, selectors.
    let mut compiled_rules: Vec<Option<SigmaRule>> = Vec::new();
    for (located, info) in &detections {
        let mut rule = located.doc.clone();
        let label = info.key().to_string();
        let text = &files[located.file].text;
        let missing = expand_rule(&mut rule, &options.placeholders);
        for name in &missing {
            errors.push(err(
                located.file,
                line_of(text, located.line, &format!("%{name}%")),
                label.clone(),
                format!(
                    "placeholder %{name}% has no values: define it in idwatch.toml under [sigma.placeholders], e.g. {name} = [\"value\"]"
                ),
            ));
        }
        if let Err(pattern) = expand_rule_selectors(&mut rule) {
            errors.push(err(
                located.file,
                line_of(text, located.line, "condition"),
                label.clone(),
                format!("condition selector `{pattern}` matches no detection identifier"),
            ));
            compiled_rules.push(None);
            continue;
        }
        if let Some(reason) = unsupported_in_rule(&rule) {
            errors.push(err(
                located.file,
                line_of(text, located.line, "detection"),
                label.clone(),
                reason,
            ));
            compiled_rules.push(None);
            continue;
        }
        compiled_rules.push(if missing.is_empty() { Some(rule) } else { None });
    }

    // Meta filters (pySigma semantics: the filter condition is ANDed to the rule's).
    for (fi, f) in files.iter().enumerate() {
        for (n, located) in f.filters.iter().enumerate() {
            let filter = &located.doc;
            let label = rule_label(filter.id.as_deref(), filter.name.as_deref(), &filter.title);
            let targets: Vec<usize> = match &filter.rules {
                FilterRuleTarget::Any => (0..detections.len()).collect(),
                FilterRuleTarget::Specific(refs) if refs.is_empty() => {
                    (0..detections.len()).collect()
                }
                FilterRuleTarget::Specific(refs) => {
                    let mut out = Vec::new();
                    for r in refs {
                        match detections.iter().position(|(_, i)| i.is_named(r)) {
                            Some(i) => out.push(i),
                            None => errors.push(err(
                                fi,
                                line_of(&f.text, located.line, r),
                                label.clone(),
                                format!("filter targets rule `{r}`, which is not among the loaded detection rules"),
                            )),
                        }
                    }
                    out
                }
            };
            let prepared = match prepare_filter(filter, &options.placeholders) {
                Ok(p) => p,
                Err(message) => {
                    errors.push(err(fi, located.line, label.clone(), message));
                    continue;
                }
            };
            let prefix = format!("__filter{fi}_{n}_");
            for t in targets {
                let Some(rule) = compiled_rules[t].as_mut() else {
                    continue;
                };
                if let Some(ls) = &filter.logsource {
                    if !logsource_contains(ls, &rule.logsource) {
                        continue;
                    }
                }
                for (name, det) in &prepared.0 {
                    rule.detection
                        .named
                        .insert(format!("{prefix}{name}"), det.clone());
                }
                let cond = prefix_identifiers(&prepared.1, &prefix);
                rule.detection.conditions = rule
                    .detection
                    .conditions
                    .iter()
                    .map(|c| ConditionExpr::And(vec![c.clone(), cond.clone()]))
                    .collect();
            }
        }
    }

    // Routing and compilation of detection rules.
    let mut rules: Vec<RuleInfo> = Vec::new();
    let mut by_event_type: HashMap<Box<str>, Engine> = HashMap::new();
    let mut unrouted = Engine::new();
    let mut unrouted_count = 0;
    for (index, ((located, mut info), rule)) in
        detections.into_iter().zip(compiled_rules).enumerate()
    {
        if let Some(mut rule) = rule {
            let event_types = required_event_types(&rule);
            rule.id = Some(index.to_string());
            // Check it compiles once, alone, so the error names this rule.
            let mut probe = Engine::new();
            match probe.add_rule(&rule) {
                Err(e) => errors.push(err(
                    located.file,
                    located.line,
                    info.key().to_string(),
                    e.to_string(),
                )),
                Ok(()) => match &event_types {
                    Some(types) => {
                        for t in types {
                            let engine = by_event_type.entry(t.as_str().into()).or_default();
                            if let Err(e) = engine.add_rule(&rule) {
                                errors.push(err(
                                    located.file,
                                    located.line,
                                    info.key().to_string(),
                                    e.to_string(),
                                ));
                            }
                        }
                    }
                    None => {
                        if let Err(e) = unrouted.add_rule(&rule) {
                            errors.push(err(
                                located.file,
                                located.line,
                                info.key().to_string(),
                                e.to_string(),
                            ));
                        }
                        unrouted_count += 1;
                    }
                },
            }
            info.event_types = event_types.map(|s| s.into_iter().collect());
        }
        rules.push(info);
    }
    let detection_count = rules.len();

    // Extensions: resolve references among the detection rules.
    let mut ext = Vec::new();
    for (index, spec) in ext_specs {
        let info = &rules[index];
        let find = |reference: &str| {
            rules[..detection_count]
                .iter()
                .position(|r| r.is_named(reference))
        };
        match crate::ext::ExtDef::new(index, spec, info.key(), find) {
            Ok(def) => ext.push(def),
            Err(message) => {
                let text = files
                    .iter()
                    .find(|f| f.path == info.path)
                    .map_or("", |f| f.text.as_str());
                errors.push(RuleError {
                    path: info.path.clone(),
                    line: line_of(text, info.line, crate::ext::ATTRIBUTE),
                    rule: info.key().to_string(),
                    message,
                });
            }
        }
    }

    // Correlations.
    for (fi, located) in &correlation_infos {
        let c = &located.doc;
        rules.push(RuleInfo {
            id: c.id.clone(),
            name: c.name.clone(),
            title: c.title.clone(),
            level: Level::from_rsigma(c.level),
            status: c.status.map(|s| format!("{s:?}").to_ascii_lowercase()),
            tags: c.tags.clone(),
            description: c.description.clone(),
            kind: crate::correlate::def::kind_of(c.correlation_type),
            path: files[*fi].path.clone(),
            line: located.line,
            emitted: true,
            event_types: None,
        });
    }
    let mut correlations = Vec::new();
    for (n, (fi, located)) in correlation_infos.iter().enumerate() {
        let index = detection_count + n;
        match compile_correlation(&located.doc, index, &rules, &files[*fi].text, located.line) {
            Ok(def) => correlations.push(def),
            Err((line, message)) => {
                errors.push(err(*fi, line, rules[index].key().to_string(), message));
            }
        }
    }
    if correlations.len() != correlation_infos.len() {
        // A broken correlation would leave holes in the graph; the errors above say why.
        correlations.clear();
    }

    // Correlation graph: who feeds whom, cycles, order, and `generate`.
    let mut feeds = vec![Vec::new(); rules.len()];
    for (ci, def) in correlations.iter().enumerate() {
        for (pos, &r) in def.refs.iter().enumerate() {
            feeds[r].push((ci, pos));
        }
    }
    let mut order = Vec::new();
    let mut state = vec![0u8; correlations.len()]; // 0 new, 1 visiting, 2 done
    for ci in 0..correlations.len() {
        if let Err(cycle_at) = topo(ci, &correlations, detection_count, &mut state, &mut order) {
            let info = &rules[detection_count + cycle_at];
            errors.push(RuleError {
                path: info.path.clone(),
                line: info.line,
                rule: info.key().to_string(),
                message: "correlation rules reference each other in a cycle".to_string(),
            });
            break;
        }
    }
    for (r, feeding) in feeds.iter().enumerate() {
        if !feeding.is_empty() && feeding.iter().all(|&(ci, _)| !correlations[ci].generate) {
            rules[r].emitted = false;
        }
    }

    let mut ext_feeds = vec![Vec::new(); rules.len()];
    for (xi, def) in ext.iter().enumerate() {
        if !matches!(def.spec, crate::ext::ExtSpec::Signal) {
            ext_feeds[def.rule].push((xi, 1));
        }
        if let Some((other, _)) = &def.other {
            ext_feeds[*other].push((xi, 0));
        }
    }

    RuleSet {
        rules,
        detection_count,
        by_event_type,
        unrouted,
        unrouted_count,
        correlations,
        feeds,
        correlation_order: order,
        ext,
        ext_feeds,
    }
}

fn topo(
    ci: usize,
    defs: &[CorrelationDef],
    detection_count: usize,
    state: &mut [u8],
    order: &mut Vec<usize>,
) -> Result<(), usize> {
    match state[ci] {
        2 => return Ok(()),
        1 => return Err(ci),
        _ => {}
    }
    state[ci] = 1;
    for &r in &defs[ci].refs {
        if r >= detection_count {
            topo(r - detection_count, defs, detection_count, state, order)?;
        }
    }
    state[ci] = 2;
    order.push(ci);
    Ok(())
}

/// A filter's detections with placeholders resolved and its condition (its list OR-ed) with
/// selectors expanded.
fn prepare_filter(
    filter: &FilterRule,
    placeholders: &Placeholders,
) -> Result<(Vec<(String, Detection)>, ConditionExpr), String> {
    let mut named: Vec<(String, Detection)> = Vec::new();
    let mut missing = Vec::new();
    for (name, det) in &filter.detection.named {
        let mut det = det.clone();
        expand_detection(&mut det, placeholders, &mut missing);
        named.push((name.clone(), det));
    }
    if let Some(name) = missing.first() {
        return Err(format!(
            "placeholder %{name}% has no values: define it in idwatch.toml under [sigma.placeholders]"
        ));
    }
    named.sort_by(|a, b| a.0.cmp(&b.0));
    let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
    let conditions = filter
        .detection
        .conditions
        .iter()
        .map(|c| expand_selectors(c, &names))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|p| format!("filter condition selector `{p}` matches no detection identifier"))?;
    let condition = match conditions.len() {
        0 => return Err("filter has no condition".to_string()),
        1 => conditions
            .into_iter()
            .next()
            .unwrap_or(ConditionExpr::Or(Vec::new())),
        _ => ConditionExpr::Or(conditions),
    };
    Ok((named, condition))
}

/// pySigma: a filter applies to a rule when every logsource attribute the filter sets equals
/// the rule's.
fn logsource_contains(filter: &LogSource, rule: &LogSource) -> bool {
    let same = |f: &Option<String>, r: &Option<String>| f.is_none() || f == r;
    same(&filter.category, &rule.category)
        && same(&filter.product, &rule.product)
        && same(&filter.service, &rule.service)
}

/// Parts of RSigma's rule language beyond Sigma v2.1 that idwatch does not accept, so rules
/// stay portable and mean what the specification says.
fn unsupported_in_rule(rule: &SigmaRule) -> Option<String> {
    fn det(d: &Detection) -> Option<String> {
        match d {
            Detection::ArrayMatch { field, .. } => Some(format!(
                "`{field}[any]`/`[all]` array blocks are an RSigma extension, not Sigma v2.1; a plain `{field}.x` already matches any element"
            )),
            Detection::Conditional { .. } => {
                Some("element-scoped conditions are an RSigma extension, not Sigma v2.1".to_string())
            }
            Detection::AnyOf(subs) | Detection::And(subs) => subs.iter().find_map(det),
            _ => None,
        }
    }
    if rule.detection.timeframe.is_some() {
        return Some(
            "`timeframe` (Sigma 1 aggregation) is obsolete: write a correlation rule instead"
                .to_string(),
        );
    }
    rule.detection.named.values().find_map(det)
}

/// The lowercase `eventType` values an event must have for `rule` to match, when the condition
/// requires one (see the module doc). `None` means the rule must see every event.
fn required_event_types(rule: &SigmaRule) -> Option<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for c in &rule.detection.conditions {
        all.extend(condition_requires(c, &rule.detection.named)?);
    }
    Some(all)
}

fn condition_requires(
    c: &ConditionExpr,
    named: &HashMap<String, Detection>,
) -> Option<BTreeSet<String>> {
    match c {
        ConditionExpr::Identifier(n) => detection_requires(named.get(n)?),
        ConditionExpr::And(items) => items
            .iter()
            .filter_map(|i| condition_requires(i, named))
            .min_by_key(|s| s.len()),
        ConditionExpr::Or(items) => {
            let mut all = BTreeSet::new();
            for i in items {
                all.extend(condition_requires(i, named)?);
            }
            Some(all)
        }
        ConditionExpr::Not(_) | ConditionExpr::Selector { .. } => None,
    }
}

fn detection_requires(d: &Detection) -> Option<BTreeSet<String>> {
    match d {
        Detection::AllOf(items) => items.iter().find_map(|item| {
            let name = item.field.name.as_deref()?;
            if !name.eq_ignore_ascii_case("eventType")
                || !item.field.modifiers.is_empty()
                || item.values.is_empty()
            {
                return None;
            }
            item.values
                .iter()
                .map(|v| match v {
                    SigmaValue::String(s)
                        if s.parts.iter().all(|p| matches!(p, StringPart::Plain(_))) =>
                    {
                        Some(s.as_plain().unwrap_or_default().to_ascii_lowercase())
                    }
                    _ => None,
                })
                .collect()
        }),
        Detection::AnyOf(subs) => {
            let mut all = BTreeSet::new();
            for s in subs {
                all.extend(detection_requires(s)?);
            }
            Some(all)
        }
        Detection::And(subs) => subs
            .iter()
            .filter_map(detection_requires)
            .min_by_key(|s| s.len()),
        _ => None,
    }
}
