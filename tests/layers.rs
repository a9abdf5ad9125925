//! The modules of `src/` import only downward: a module uses its own layer and the layers
//! below it, never one above, so that the reactor, the runtime and the task handles never
//! import each other in a circle again.
//!
//! | layer | top-level modules |
//! |---|---|
//! | 0, leaves | `util`, `stats` |
//! | 1, drivers | `driver` |
//! | 2, runtime | `runtime` |
//! | 3, top | `time`, `task`, `net`, `io`, `signal`, `hyper` |
//!
//! `lib.rs` (which only declares and re-exports) and the guide (`guide.rs` and `guide/`,
//! documentation) are exempt.
//! The check reads the sources: every `crate::<module>` path outside comment lines, grouped
//! ones (`crate::{a, b}`) included, every `super::` path that climbs to the crate root, and
//! every `crate::<Name>` re-exported at the root (mapped to the module `lib.rs` takes it
//! from).

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The layer of each top-level module of `src/`.
const LAYERS: &[(&str, u8)] = &[
    ("util", 0),
    ("stats", 0),
    ("driver", 1),
    ("runtime", 2),
    ("time", 3),
    ("task", 3),
    ("net", 3),
    ("io", 3),
    ("signal", 3),
    ("hyper", 3),
];

/// Files that belong to no layer; a name ending in `/` exempts the directory.
const EXEMPT: &[&str] = &["lib.rs", "guide.rs", "guide/"];

fn layer_of(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(name, _)| *name == module).map(|(_, layer)| *layer)
}

fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `dir`, sorted.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).expect("read a directory of src/") {
            let path = entry.expect("read a directory entry").path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module path of a file, relative to `src/`: `driver/reactor/mod.rs` is
/// `["driver", "reactor"]`, `stats.rs` is `["stats"]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> =
        relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    let file = path.pop().expect("a file name");
    let stem = file.trim_end_matches(".rs");
    if stem != "mod" {
        path.push(stem.to_owned());
    }
    path
}

/// The file's text without its comment lines, on one line per source line.
fn code_lines(text: &str) -> String {
    text.lines()
        .map(|line| if line.trim_start().starts_with("//") { "" } else { line })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// The identifier at the start of `text`.
fn identifier(text: &str) -> &str {
    let end = text.find(|c: char| !is_identifier_char(c)).unwrap_or(text.len());
    &text[..end]
}

/// The first segment of every path a use list (`{a::b, c, d::{e, f}}`, without its braces)
/// names.
fn list_heads(list: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (index, c) in list.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(identifier(list[start..index].trim_start()).to_owned());
                start = index + 1;
            }
            _ => {}
        }
    }
    heads.push(identifier(list[start..].trim_start()).to_owned());
    heads.retain(|head| !head.is_empty());
    heads
}

/// What comes right after a path prefix: one name, or the heads of a `{...}` list.
fn names_after(rest: &str) -> Vec<String> {
    match rest.strip_prefix('{') {
        Some(list) => {
            let mut depth = 1;
            let end = list
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '{' => depth += 1,
                        '}' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map_or(list.len(), |(index, _)| index);
            list_heads(&list[..end])
        }
        None => vec![identifier(rest).to_owned()],
    }
}

/// The crate-root names each path of `code` reaches: after `crate::`, and after a chain of
/// `super::` long enough to climb from `module` to the root.
fn root_names(code: &str, module: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for (index, _) in code.match_indices("crate::") {
        let before = code[..index].chars().next_back();
        // `$crate::` counts; `mycrate::` or `crate::` inside a longer name does not.
        if before.is_some_and(is_identifier_char) {
            continue;
        }
        names.extend(names_after(&code[index + "crate::".len()..]));
    }
    let mut search = 0;
    while let Some(found) = code[search..].find("super::") {
        let index = search + found;
        let before = code[..index].chars().next_back();
        let mut rest = &code[index..];
        let mut climbs = 0;
        while let Some(after) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = after;
        }
        search = code.len() - rest.len();
        if before.is_some_and(|c| is_identifier_char(c) || c == ':') {
            continue;
        }
        // A file's own module is the last segment of its path; `super` from it goes one
        // up. (An inline `mod tests` is one level deeper than this counts, so a chain that
        // reaches the root here may stop one short: such a name is rarely a module's.)
        if climbs >= module.len() {
            names.extend(names_after(rest));
        }
    }
    names
}

/// The names `lib.rs` re-exports at the crate root, each with the top-level module it
/// takes them from: `pub use runtime::{Builder, Runtime};` maps `Builder` to `runtime`.
fn root_exports(lib: &str) -> BTreeMap<String, String> {
    let code = code_lines(lib);
    let mut exports = BTreeMap::new();
    for (index, _) in code.match_indices("pub use ") {
        let statement = &code[index + "pub use ".len()..];
        let statement = &statement[..statement.find(';').unwrap_or(statement.len())];
        let module = identifier(statement);
        let Some(rest) = statement[module.len()..].strip_prefix("::") else { continue };
        if layer_of(module).is_none() {
            continue;
        }
        let names = match rest.strip_prefix('{') {
            Some(_) => names_after(rest),
            // `pub use module::path::Name;`: the last segment.
            None => vec![rest.rsplit("::").next().map(str::trim).unwrap_or_default().to_owned()],
        };
        for name in names {
            exports.insert(name, module.to_owned());
        }
    }
    exports
}

#[test]
fn src_imports_only_downward() {
    let source = source_dir();
    let lib = fs::read_to_string(source.join("lib.rs")).expect("read src/lib.rs");
    let exports = root_exports(&lib);
    let mut upward = Vec::new();
    let mut unassigned = Vec::new();
    let files = rust_files(&source);
    assert!(files.len() > 10, "found only {} files under {}", files.len(), source.display());
    for file in files {
        let relative = file.strip_prefix(&source).expect("a file under src/").to_path_buf();
        let shown = relative.display().to_string().replace('\\', "/");
        let exempt = |entry: &&str| match entry.strip_suffix('/') {
            Some(directory) => {
                shown.starts_with(directory) && shown[directory.len()..].starts_with('/')
            }
            None => shown == *entry,
        };
        if EXEMPT.iter().any(exempt) {
            continue;
        }
        let module = module_path(&relative);
        let Some(layer) = layer_of(&module[0]) else {
            unassigned.push(shown);
            continue;
        };
        let text = fs::read_to_string(&file).expect("read a source file");
        let mut seen = Vec::new();
        for name in root_names(&code_lines(&text), &module) {
            let target = match exports.get(&name) {
                Some(module) => module.clone(),
                None => name.clone(),
            };
            let Some(target_layer) = layer_of(&target) else { continue };
            if target_layer > layer && !seen.contains(&name) {
                upward.push(format!(
                    "src/{shown} (`{}`, layer {layer}) imports `crate::{name}` (`{target}`, \
                     layer {target_layer})",
                    module[0]
                ));
                seen.push(name);
            }
        }
    }
    assert!(
        unassigned.is_empty(),
        "files of top-level modules with no layer (add them to LAYERS in tests/layers.rs):\n{}",
        unassigned.join("\n")
    );
    assert!(
        upward.is_empty(),
        "imports that go up a layer (util, stats < driver < runtime < time, task, net, io, \
         signal):\n{}",
        upward.join("\n")
    );
}

/// The parser itself, on the forms the sources use.
#[test]
fn paths_are_read() {
    let module = ["driver".to_owned(), "reactor".to_owned(), "registration".to_owned()];
    let code = "use crate::util::coop;\nuse crate::{runtime::Shared, task::{self, x}};\n\
                let x = crate::time::sleep(d);\n$crate::net::byte_stream::poll_read()\n\
                use super::super::super::io::Thing;\nuse super::Reactor;";
    assert_eq!(root_names(code, &module), ["util", "runtime", "task", "time", "net", "io"]);
    let comments = code_lines("/// [`x`](crate::net)\n//! crate::time");
    assert!(root_names(&comments, &module).is_empty());
    let lib = "pub use runtime::{\n    Builder, Runtime,\n};\npub use stats::{RuntimeStats};\n\
               pub use plexio_backends::Error;\npub use task::{JoinError, spawn};";
    let exports = root_exports(lib);
    assert_eq!(exports.get("Runtime").map(String::as_str), Some("runtime"));
    assert_eq!(exports.get("spawn").map(String::as_str), Some("task"));
    assert_eq!(exports.get("RuntimeStats").map(String::as_str), Some("stats"));
    assert_eq!(exports.get("Error"), None);
}
