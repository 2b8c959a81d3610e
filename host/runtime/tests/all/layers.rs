//! The layers run one way: within each host crate and the policy SDK, no
//! module names (`crate::<module>`) a module that names it back, directly or
//! through others; and between the runtime's rooms (its folders by concern),
//! a room names only the rooms below it. Doc comments and test modules are
//! not counted: a link to a neighbour in prose is not a dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Each module of the crate whose sources are under `src` (`commands/apply`
/// for `commands/apply.rs`; `commands` for `commands/mod.rs`), with the
/// modules of the same crate its code names (`crate::a::b`, `super::b`, and
/// each name of a `{…}` list).
fn modules(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut sources = BTreeMap::new();
    let mut files = vec![src.to_path_buf()];
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let relative = path.strip_prefix(src).unwrap().with_extension("");
            let key = relative.to_string_lossy().replace('\\', "/");
            let key = key.trim_end_matches("/mod").to_owned();
            if !["lib", "main"].contains(&key.as_str()) {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.split("#[cfg(test)]").next().unwrap().to_owned();
                let code: Vec<&str> = code
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect();
                sources.insert(key, code.join("\n"));
            }
        }
    }
    let keys: BTreeSet<String> = sources.keys().cloned().collect();
    sources
        .iter()
        .map(|(module, code)| {
            let parent = module.rsplit_once('/').map_or("", |(p, _)| p);
            let mut named = BTreeSet::new();
            for (prefix, base) in [("crate::", ""), ("super::", parent)] {
                for (at, _) in code.match_indices(prefix) {
                    for path in paths(&code[at + prefix.len()..]) {
                        let full = if base.is_empty() {
                            aliased(&keys, path)
                        } else {
                            format!("{base}/{path}")
                        };
                        // The longest module the path starts with.
                        let mut candidate = full.as_str();
                        loop {
                            if keys.contains(candidate) {
                                if candidate != module {
                                    named.insert(candidate.to_owned());
                                }
                                break;
                            }
                            match candidate.rsplit_once('/') {
                                Some((shorter, _)) => candidate = shorter,
                                None => break,
                            }
                        }
                    }
                }
            }
            (module.clone(), named)
        })
        .collect()
}

/// `path` as the module it names: a room's module re-exported at the root by
/// its own name (`crate::journal` for `record/journal`) is that module, so
/// that a re-export hides no dependency.
fn aliased(keys: &BTreeSet<String>, path: String) -> String {
    let head = path.split('/').next().unwrap_or_default();
    if keys.contains(head) {
        return path;
    }
    keys.iter()
        .filter_map(|key| key.split_once('/'))
        .find(|(_, module)| *module == head)
        .map_or(path.clone(), |(room, _)| format!("{room}/{path}"))
}

/// The paths a `use` or an expression names from `text` on, as `a/b/c`:
/// one path, or one per name of a `{…}` list.
fn paths(text: &str) -> Vec<String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut segments = Vec::new();
    let mut rest = text;
    loop {
        let end = rest.find(|c: char| !is_name(c)).unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        segments.push(&rest[..end]);
        rest = &rest[end..];
        match rest.strip_prefix("::") {
            Some(after) => rest = after,
            None => break,
        }
    }
    let head = segments.join("/");
    match rest.strip_prefix('{') {
        Some(list) => {
            let list = &list[..list.find('}').unwrap_or(list.len())];
            list.split(',')
                .filter_map(|item| {
                    let name = item.trim();
                    let name = &name[..name.find(|c: char| !is_name(c)).unwrap_or(name.len())];
                    (!name.is_empty()).then(|| format!("{head}/{name}"))
                })
                .collect()
        }
        None => vec![head],
    }
}

/// The modules on a cycle, if any: a path that comes back to its start.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut cycle = path[at..].to_vec();
            cycle.push(module.to_owned());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if graph.contains_key(next)
                && let Some(cycle) = visit(next, graph, path, done)
            {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(module.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

/// The first module of `graph` (`room/module`) that names a module of a room
/// above its own in `rooms` (lowest first), with the module it names; every
/// module must sit in one of the rooms.
fn upward(graph: &BTreeMap<String, BTreeSet<String>>, rooms: &[&str]) -> Option<String> {
    let rank = |module: &str| {
        let room = module.split('/').next().unwrap_or_default();
        rooms.iter().position(|r| *r == room)
    };
    graph.iter().find_map(|(module, named)| {
        let Some(own) = rank(module) else {
            return Some(format!("`{module}` is in no room"));
        };
        named
            .iter()
            .find(|other| rank(other).is_some_and(|theirs| theirs > own))
            .map(|other| format!("`{module}` names `{other}`, a room above its own"))
    })
}

/// The runtime's rooms, lowest first (the lib's top documentation says what
/// each holds).
const ROOMS: [&str; 7] = [
    "record",
    "sandbox",
    "bindings",
    "loading",
    "judgment",
    "run",
    "conformance",
];

#[test]
fn no_module_of_a_host_crate_or_the_policy_sdk_names_one_that_names_it_back() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, src) in [
        ("failback-runtime", crates.join("src")),
        ("failback (the CLI)", crates.join("../cli/src")),
        ("failback-formats", crates.join("../formats/src")),
        ("failback-core", crates.join("../core/src")),
        ("failback-policy-sdk", crates.join("../../policies/sdk/src")),
    ] {
        let graph = modules(&src);
        assert!(graph.len() > 1, "{name} has its modules");
        if let Some(cycle) = cycle(&graph) {
            panic!("{name}: a module cycle: {}", cycle.join(" → "));
        }
    }
}

#[test]
fn the_runtime_s_rooms_name_only_the_rooms_below_them() {
    let graph = modules(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(
        graph.keys().any(|m| m.starts_with("record/")),
        "the rooms are folders"
    );
    if let Some(problem) = upward(&graph, &ROOMS) {
        panic!("failback-runtime: {problem}");
    }
}

#[test]
fn a_room_naming_one_above_it_is_found() {
    let graph = BTreeMap::from([
        (
            "record/audit".to_owned(),
            BTreeSet::from(["record/journal".to_owned()]),
        ),
        ("record/journal".to_owned(), BTreeSet::new()),
        (
            "sandbox/call".to_owned(),
            BTreeSet::from(["record/audit".to_owned()]),
        ),
    ]);
    assert_eq!(upward(&graph, &["record", "sandbox"]), None);
    let mut upside_down = graph.clone();
    upside_down
        .get_mut("record/journal")
        .unwrap()
        .insert("sandbox/call".to_owned());
    assert_eq!(
        upward(&upside_down, &["record", "sandbox"]).unwrap(),
        "`record/journal` names `sandbox/call`, a room above its own"
    );
    let mut loose = graph;
    loose.insert("stray".to_owned(), BTreeSet::new());
    assert_eq!(
        upward(&loose, &["record", "sandbox"]).unwrap(),
        "`stray` is in no room"
    );
}

#[test]
fn a_cycle_is_found() {
    let graph = BTreeMap::from([
        ("apply".to_owned(), BTreeSet::from(["operation".to_owned()])),
        (
            "operation".to_owned(),
            BTreeSet::from(["progress".to_owned()]),
        ),
        ("progress".to_owned(), BTreeSet::from(["apply".to_owned()])),
        ("digest".to_owned(), BTreeSet::new()),
    ]);
    assert_eq!(
        cycle(&graph).unwrap(),
        ["apply", "operation", "progress", "apply"]
    );
    let mut acyclic = graph;
    acyclic.get_mut("progress").unwrap().clear();
    assert_eq!(cycle(&acyclic), None);
}

#[test]
fn every_path_docs_architecture_names_exists() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let text = std::fs::read_to_string(root.join("docs/architecture.md")).unwrap();
    let named: Vec<&str> = text
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|quoted| quoted.contains('/') && !quoted.contains(' '))
        .collect();
    assert!(named.len() > 20, "the map names its paths");
    let missing: Vec<&&str> = named
        .iter()
        .filter(|path| !root.join(path.trim_end_matches('/')).exists())
        .collect();
    assert!(missing.is_empty(), "docs/architecture.md names {missing:?}");
}
