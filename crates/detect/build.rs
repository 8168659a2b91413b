//! Embeds the built-in rule pack: every `*.yml`/`*.yaml` under the workspace's `rules/` (except
//! `*.tests.yml` rule test files) becomes an `include_str!` entry of `BUILTIN_RULES`, so the
//! binary carries the pack and a rule added to `rules/` is picked up by the next build.

use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let rules = manifest.join("../../rules");
    println!("cargo:rerun-if-changed={}", rules.display());
    let mut files = Vec::new();
    if rules.is_dir() {
        walk(&rules, &mut files);
    }
    files.sort();
    let mut out = String::from(
        "/// The built-in pack: (path relative to the repository, YAML text).\n\
         pub static BUILTIN_RULES: &[(&str, &str)] = &[\n",
    );
    for file in &files {
        let relative = file
            .strip_prefix(&rules)
            .map(|p| Path::new("rules").join(p))
            .unwrap_or_else(|_| file.clone());
        let absolute = file.canonicalize().unwrap_or_else(|_| file.clone());
        out.push_str(&format!(
            "    ({:?}, include_str!({:?})),\n",
            relative.to_string_lossy().replace('\\', "/"),
            absolute.to_string_lossy()
        ));
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default()).join("builtin_rules.rs");
    if let Err(e) = std::fs::write(&dest, out) {
        panic!("writing {}: {e}", dest.display());
    }
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            walk(&path, out);
            continue;
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let is_yaml = name.ends_with(".yml") || name.ends_with(".yaml");
        let is_test = name.ends_with(".tests.yml") || name.ends_with(".tests.yaml");
        if is_yaml && !is_test {
            out.push(path);
        }
    }
}
