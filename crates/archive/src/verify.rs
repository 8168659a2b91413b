//! Verifying both tiers: the hot chain (`Store::verify_with_archive`, which leaves sealed
//! events to us), the archive chain (`Store::archive_log`: every seal, compaction and retention
//! checkpoint, and every catalog row against it), and every live segment file: present, its
//! SHA-256 as recorded, and row by row against the hot chain's manifests (each row's uuid key
//! and raw hash must be the ones committed under its seq; each seq the catalog lists must be in
//! the file; its term filters must be the ones its rows give). Files in the archive directory that no live segment owns are reported as added.
//! Events dropped by retention are accounted for by the checkpoint that dropped their segment.

use crate::error::ArchiveError;
use crate::reader::read_rows;
use crate::seal::walk_files;
use crate::terms::TermFilters;
use crate::writer::{entries_hash, entry_of, file_hash};
use okta::LogEvent;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use store::chain::uuid_of_key;
use store::segments::{BatchSpan, SegmentState, SeqRuns};
use store::{OrgId, Store, VerifyReport};

/// The archive side of one org's verification.
#[derive(Debug, Clone, Default)]
pub struct ArchiveVerification {
    /// Org name.
    pub org: String,
    /// Live segments checked.
    pub segments: u64,
    /// Events in live segments.
    pub archived_events: u64,
    /// Events dropped by retention checkpoints.
    pub retained_events: u64,
    /// Archive chain entries.
    pub log_entries: u64,
    /// The archive chain's newest link (hex; empty when nothing was ever sealed).
    pub head: String,
    /// Everything found wrong.
    pub problems: Vec<String>,
}

/// Both tiers' verification.
#[derive(Debug, Clone, Default)]
pub struct FullVerification {
    /// The hot tier and its chain.
    pub hot: VerifyReport,
    /// The archive, per org.
    pub archive: Vec<ArchiveVerification>,
    /// Files under the archive root that no live segment owns.
    pub unknown_files: Vec<String>,
}

impl FullVerification {
    /// True when nothing is wrong.
    pub fn is_intact(&self) -> bool {
        self.hot.is_intact()
            && self.archive.iter().all(|a| a.problems.is_empty())
            && self.unknown_files.is_empty()
    }
}

/// A committed manifest entry: uuid key and raw hash prefix.
type ManifestEntry = ([u8; 16], [u8; 16]);

/// Looks up the committed manifest entry of a seq.
struct Manifests<'a> {
    store: &'a Store,
    spans: Vec<BatchSpan>,
    cache: HashMap<i64, Vec<u8>>,
}

impl Manifests<'_> {
    fn entry(&mut self, seq: i64) -> Result<Option<ManifestEntry>, ArchiveError> {
        let i = self.spans.partition_point(|s| s.first_seq <= seq);
        if i == 0 {
            return Ok(None);
        }
        let span = self.spans[i - 1];
        if seq >= span.first_seq + span.count {
            return Ok(None);
        }
        if !self.cache.contains_key(&span.id) {
            if self.cache.len() > 512 {
                self.cache.clear();
            }
            let manifest = self.store.batch_manifest(span.id)?;
            self.cache.insert(span.id, manifest);
        }
        let manifest = &self.cache[&span.id];
        let at = (seq - span.first_seq) as usize * 32;
        let Some(bytes) = manifest.get(at..at + 32) else {
            return Ok(None);
        };
        let mut key = [0u8; 16];
        let mut hash = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        hash.copy_from_slice(&bytes[16..]);
        Ok(Some((key, hash)))
    }
}

/// Verifies the hot tier and the archive at `root` for `org` (or every org).
pub fn verify(
    store: &mut Store,
    root: &Path,
    org: Option<OrgId>,
    expect_head: Option<&str>,
) -> Result<FullVerification, ArchiveError> {
    let orgs: Vec<(OrgId, String)> = store
        .orgs()?
        .into_iter()
        .filter(|(id, _)| org.is_none_or(|o| o == *id))
        .collect();
    let mut sealed: HashMap<OrgId, SeqRuns> = HashMap::new();
    let mut owned_paths: HashSet<String> = HashSet::new();
    let mut all_live: HashSet<String> = HashSet::new();
    for segment in store.segments(None)? {
        if segment.state == SegmentState::Live {
            all_live.insert(segment.record.path.clone());
        }
        // Files of segments being written, or replaced/retained but not yet deleted (a crash
        // between the commit and the unlink), are the next writer's to remove, not intruders.
        if segment.state != SegmentState::Live {
            owned_paths.insert(segment.record.path.clone());
        }
    }
    for (id, _) in &orgs {
        let runs: Vec<SeqRuns> = store
            .segments(Some(*id))?
            .iter()
            .filter(|s| matches!(s.state, SegmentState::Live | SegmentState::Retained))
            .filter_map(|s| SeqRuns::decode(&s.record.seqs))
            .collect();
        sealed.insert(*id, SeqRuns::union(runs.iter()));
    }
    let hot = store.verify_with_archive(org, expect_head, &|o, seq| {
        sealed.get(&o).is_some_and(|r| r.contains(seq))
    })?;
    let mut result = FullVerification {
        hot,
        ..FullVerification::default()
    };
    for (id, name) in &orgs {
        result
            .archive
            .push(verify_org_archive(store, root, *id, name)?);
    }
    // Files nobody owns. With one org, only that org's directory is ours to judge.
    let prefixes: Vec<String> = orgs
        .iter()
        .map(|(_, n)| format!("org={}/", crate::layout::encode_org(n)))
        .collect();
    for file in walk_files(root)? {
        let rel = file
            .strip_prefix(root)
            .unwrap_or(&file)
            .to_string_lossy()
            .replace('\\', "/");
        // `.tmp` files are a writer at work or crash debris the next writer removes; they are
        // never read.
        if all_live.contains(&rel) || owned_paths.contains(&rel) || rel.ends_with(".tmp") {
            continue;
        }
        if org.is_some() && !prefixes.iter().any(|p| rel.starts_with(p)) {
            continue;
        }
        result.unknown_files.push(rel);
    }
    Ok(result)
}

fn verify_org_archive(
    store: &Store,
    root: &Path,
    org: OrgId,
    name: &str,
) -> Result<ArchiveVerification, ArchiveError> {
    let log = store.archive_log(org)?;
    let mut out = ArchiveVerification {
        org: name.to_string(),
        log_entries: log.entries.len() as u64,
        head: log.head.clone(),
        problems: log.problems.clone(),
        ..ArchiveVerification::default()
    };
    let mut manifests = Manifests {
        store,
        spans: store.batch_spans(org)?,
        cache: HashMap::new(),
    };
    for segment in store.segments(Some(org))? {
        let r = &segment.record;
        match segment.state {
            SegmentState::Retained => {
                out.retained_events += r.rows as u64;
                continue;
            }
            SegmentState::Live => {}
            _ => continue,
        }
        out.segments += 1;
        out.archived_events += r.rows as u64;
        let path = root.join(&r.path);
        let Some(seqs) = SeqRuns::decode(&r.seqs) else {
            out.problems.push(format!(
                "segment {} ({}): its seq list is corrupt",
                r.id, r.path
            ));
            continue;
        };
        if !path.exists() {
            let mut named = Vec::new();
            for seq in seqs.iter().take(3) {
                if let Some((key, _)) = manifests.entry(seq)? {
                    named.push(uuid_of_key(&key));
                }
            }
            out.problems.push(format!(
                "segment {} ({}) deleted: its file is gone with {} events (e.g. {})",
                r.id,
                r.path,
                r.rows,
                named.join(", ")
            ));
            continue;
        }
        let (hash, bytes) = file_hash(&path)?;
        if hash != r.content_hash || bytes as i64 != r.bytes {
            out.problems.push(format!(
                "segment {} ({}) modified: its SHA-256 is not the one recorded when it was sealed",
                r.id, r.path
            ));
        }
        let rows = match read_rows(&path) {
            Ok(rows) => rows,
            Err(e) => {
                out.problems
                    .push(format!("segment {} ({}) unreadable: {e}", r.id, r.path));
                continue;
            }
        };
        let mut entries = Vec::with_capacity(rows.len());
        let mut events = Vec::with_capacity(rows.len());
        let mut present: HashSet<i64> = HashSet::with_capacity(rows.len());
        for (seq, _, raw) in &rows {
            let event = match LogEvent::parse(raw) {
                Ok(e) => e,
                Err(e) => {
                    out.problems.push(format!(
                        "segment {} ({}): row seq {seq} does not parse ({e})",
                        r.id, r.path
                    ));
                    continue;
                }
            };
            let (key, hash) = entry_of(&event);
            entries.push((*seq, key, hash));
            let uuid = event.uuid().0.clone();
            events.push(event);
            if !present.insert(*seq) || !seqs.contains(*seq) {
                out.problems.push(format!(
                    "event {uuid} (seq {seq}) in segment {} ({}) inserted: the catalog does not list it there",
                    r.id, r.path
                ));
                continue;
            }
            match manifests.entry(*seq)? {
                None => out.problems.push(format!(
                    "event {uuid} (seq {seq}) in segment {} inserted outside the chain",
                    r.id
                )),
                Some((k, _)) if k != key => out.problems.push(format!(
                    "event {} (seq {seq}) in segment {} modified: the row now holds {uuid}",
                    uuid_of_key(&k),
                    r.id
                )),
                Some((_, h)) if h != hash => out.problems.push(format!(
                    "event {uuid} (seq {seq}) in segment {} modified: its raw JSON differs from what was committed",
                    r.id
                )),
                Some(_) => {}
            }
        }
        for seq in seqs.iter() {
            if !present.contains(&seq) {
                let uuid = manifests
                    .entry(seq)?
                    .map(|(k, _)| uuid_of_key(&k))
                    .unwrap_or_else(|| "(unknown)".into());
                out.problems.push(format!(
                    "event {uuid} (seq {seq}) deleted from segment {} ({})",
                    r.id, r.path
                ));
            }
        }
        if let Some(stored) = store.segment_terms(r.id)? {
            if stored != TermFilters::build(&events).encode() {
                out.problems.push(format!(
                    "segment {} ({}): its term filters in the catalog do not match its rows (lookups could skip it)",
                    r.id, r.path
                ));
            }
        }
        if entries_hash(&mut entries) != r.entries_hash && out.problems.is_empty() {
            out.problems.push(format!(
                "segment {} ({}): its entries digest differs from the catalog",
                r.id, r.path
            ));
        }
    }
    Ok(out)
}
