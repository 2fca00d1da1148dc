//! The architecture, checked: every `.rs` file under `src/` is read and its module dependencies
//! are held against the layer table of `ARCHITECTURE.md`.
//!
//! - Imports flow downward only: a file may name `crate::X` only for a layer X of a lower rank,
//!   or along one of the listed peer edges ([`PEER_EDGES`]).
//! - No cycles between files, also not inside one folder (a child naming `super::item` of its
//!   `mod.rs` while `mod.rs` declares the child is a cycle).
//! - Every folder and top-level file of `src/` is a known layer ([`LAYERS`]): a new one is added
//!   to the table deliberately.
//! - `unsafe` is explained: no crate-wide `allow(unsafe_op_in_unsafe_fn)`, and every `unsafe`
//!   block or impl has a `// SAFETY:` comment (on its line or just above it).
//!
//! Dependencies are read from `use` trees (`crate::`, `self::`, `super::`, declared child modules
//! and names a `use` brought in) and from inline paths in code (`crate::x::y(..)`, `super::y`,
//! `alias::y`). A path is resolved to the deepest file it names (`crate::model::track::Track` is
//! `src/model/track.rs`, `super::Item` in `src/index/scan.rs` is `src/index/mod.rs`). Comments,
//! string and char literals, and `#[cfg(test)]` items (tests are consumers) are skipped. A
//! `mod x;` declaration is an edge from the declaring file to the child's file.
//!
//! `LIBHLS_ARCH_SRC=/other/checkout/src cargo test --release --test architecture` checks another
//! tree (a branch before it is merged) with this checker.
//!
//! The checker itself is tested on small in-memory trees (a violation, a cycle and a missing
//! `SAFETY` comment must be reported; a clean tree must pass), and the run on the real tree must
//! see a plausible number of files and edges, so it cannot pass vacuously.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

/// The layers: top-level module (folder, or file for `error` and `lib.rs`) and rank.
/// A module may depend on a module of a lower rank.
const LAYERS: &[(&str, u8)] = &[
    ("lib.rs", 6),
    ("ffi", 5),
    ("fuzzing", 5),
    ("engine", 4),
    ("index", 3),
    ("output", 3),
    ("subtitle", 3),
    ("transcode", 3),
    ("thumbnail", 3),
    ("model", 2),
    ("container", 2),
    ("codec", 2),
    ("error", 1),
    ("util", 1),
];

/// Dependencies allowed between modules of the same rank (from, to).
const PEER_EDGES: &[(&str, &str)] = &[
    ("index", "output"),
    ("index", "subtitle"),
    ("index", "transcode"),
    ("model", "codec"),
    ("model", "container"),
    ("container", "codec"),
];

/// How many lines above an `unsafe` block its `// SAFETY:` comment may start.
const SAFETY_LINES_ABOVE: usize = 3;

/// The real tree must have at least this many files, and this many distinct file-to-file
/// edges, or the checker is not reading what it should.
const MIN_FILES: usize = 20;
const MIN_EDGES: usize = 60;

// ---------------------------------------------------------------------------------------------
// Lexing: comments and literals blanked out, then tokens with line numbers
// ---------------------------------------------------------------------------------------------

/// Blanks comments and the contents of string, byte-string, raw-string and char literals,
/// keeping every newline so line numbers stay right. Lifetimes (`'a`) are kept.
fn strip(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let n = c.len();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut out = String::with_capacity(src.len());
    let blank = |out: &mut String, from: usize, to: usize| {
        for &ch in &c[from..to.min(n)] {
            out.push(if ch == '\n' { '\n' } else { ' ' });
        }
    };
    let mut i = 0;
    while i < n {
        let prev_ident = i > 0 && is_ident(c[i - 1]);
        let ch = c[i];
        if ch == '/' && at(i + 1) == '/' {
            let mut j = i;
            while j < n && c[j] != '\n' {
                j += 1;
            }
            blank(&mut out, i, j);
            i = j;
        } else if ch == '/' && at(i + 1) == '*' {
            let (mut j, mut depth) = (i + 2, 1);
            while j < n && depth > 0 {
                if c[j] == '/' && at(j + 1) == '*' {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && at(j + 1) == '/' {
                    depth -= 1;
                    j += 2;
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if !prev_ident && (ch == 'r' || (ch == 'b' && at(i + 1) == 'r')) && raw_string_end(&c, i).is_some() {
            let j = raw_string_end(&c, i).unwrap_or(n);
            blank(&mut out, i, j);
            i = j;
        } else if ch == '"' || (!prev_ident && ch == 'b' && at(i + 1) == '"') {
            let mut j = if ch == 'b' { i + 2 } else { i + 1 };
            while j < n && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if ch == '\'' && at(i + 1) == '\\' {
            // Escaped char literal: '\n', '\'', '\u{..}'.
            let mut j = i + 3;
            while j < n && c[j] != '\'' {
                j += 1;
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if ch == '\'' && at(i + 2) == '\'' {
            blank(&mut out, i, i + 3);
            i += 3;
        } else {
            out.push(ch);
            i += 1;
        }
    }
    out
}

/// End (exclusive) of the raw string literal (`r"…"`, `r#"…"#`, `br#"…"#`) starting at `i`.
fn raw_string_end(c: &[char], i: usize) -> Option<usize> {
    let mut j = i + if c[i] == 'b' { 2 } else { 1 };
    let mut hashes = 0;
    while c.get(j) == Some(&'#') {
        hashes += 1;
        j += 1;
    }
    if c.get(j) != Some(&'"') {
        return None;
    }
    j += 1;
    while j < c.len() {
        if c[j] == '"' && (1..=hashes).all(|k| c.get(j + k) == Some(&'#')) {
            return Some(j + 1 + hashes);
        }
        j += 1;
    }
    Some(c.len())
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
}

/// Tokens of stripped code: identifiers (and numbers), `::`, and single punctuation chars.
fn lex(code: &str) -> Vec<Token> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push(Token { tok: Tok::Ident(c[start..i].iter().collect()), line });
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push(Token { tok: Tok::Sep, line });
            i += 2;
        } else {
            out.push(Token { tok: Tok::Punct(ch), line });
            i += 1;
        }
    }
    out
}

fn is_ident(t: Option<&Token>, s: &str) -> bool {
    matches!(t, Some(Token { tok: Tok::Ident(x), .. }) if x == s)
}

fn is_punct(t: Option<&Token>, p: char) -> bool {
    matches!(t, Some(Token { tok: Tok::Punct(x), .. }) if *x == p)
}

fn ident(t: Option<&Token>) -> Option<&str> {
    match t {
        Some(Token { tok: Tok::Ident(x), .. }) => Some(x),
        _ => None,
    }
}

/// Index just past the bracket closing the one opened at `open` (`(`/`[`/`{`).
fn matching(toks: &[Token], open: usize) -> usize {
    let mut depth = 0i32;
    for (k, t) in toks.iter().enumerate().skip(open) {
        match t.tok {
            Tok::Punct('(' | '[' | '{') => depth += 1,
            Tok::Punct(')' | ']' | '}') => {
                depth -= 1;
                if depth == 0 {
                    return k + 1;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// Removes every item carrying `#[cfg(test)]` (a `mod tests { … }`, a helper fn, a `use`),
/// brace-matched. Returns the kept tokens and the names of test-only `mod x;` declarations.
fn drop_test_items(toks: &[Token]) -> (Vec<Token>, Vec<String>) {
    let cfg_test = |k: usize| {
        is_punct(toks.get(k), '#')
            && is_punct(toks.get(k + 1), '[')
            && is_ident(toks.get(k + 2), "cfg")
            && is_punct(toks.get(k + 3), '(')
            && is_ident(toks.get(k + 4), "test")
            && is_punct(toks.get(k + 5), ')')
            && is_punct(toks.get(k + 6), ']')
    };
    let (mut kept, mut test_mods) = (Vec::new(), Vec::new());
    let mut i = 0;
    while i < toks.len() {
        if !cfg_test(i) {
            kept.push(toks[i].clone());
            i += 1;
            continue;
        }
        // Skip this and any further attributes, then the item up to its `;` or its `{ … }`.
        let mut j = i;
        while is_punct(toks.get(j), '#') && is_punct(toks.get(j + 1), '[') {
            j = matching(toks, j + 1);
        }
        let item = j;
        let mut depth = 0i32;
        while j < toks.len() {
            match toks[j].tok {
                Tok::Punct('(' | '[') => depth += 1,
                Tok::Punct(')' | ']') => depth -= 1,
                Tok::Punct(';') if depth == 0 => {
                    j += 1;
                    break;
                }
                Tok::Punct('{') if depth == 0 => {
                    j = matching(toks, j);
                    break;
                }
                _ => {}
            }
            j += 1;
        }
        let words: Vec<&str> = toks[item..j].iter().filter_map(|t| ident(Some(t))).collect();
        if let Some(pos) = words.iter().position(|w| *w == "mod") {
            if is_punct(toks.get(j - 1), ';') {
                if let Some(name) = words.get(pos + 1) {
                    test_mods.push((*name).to_string());
                }
            }
        }
        i = j;
    }
    (kept, test_mods)
}

// ---------------------------------------------------------------------------------------------
// Files, modules and references
// ---------------------------------------------------------------------------------------------

/// Module path of a file relative to `src/`: `lib.rs` → `[]`, `index/mod.rs` → `[index]`,
/// `index/mkv.rs` → `[index, mkv]`.
fn module_path(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file.split('/').map(str::to_string).collect();
    let last = parts.pop().unwrap_or_default();
    match last.as_str() {
        "lib.rs" | "main.rs" | "mod.rs" => {}
        _ => parts.push(last.trim_end_matches(".rs").to_string()),
    }
    parts
}

/// The layer a file belongs to: its top-level module, `lib.rs` for the crate root.
fn layer_of(file: &str) -> String {
    module_path(file).first().cloned().unwrap_or_else(|| "lib.rs".to_string())
}

fn rank(layer: &str) -> Option<u8> {
    LAYERS.iter().find(|(l, _)| *l == layer).map(|&(_, r)| r)
}

/// What made an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Use,
    Inline,
    ModDecl,
}

/// One dependency of a file on another, where it is written.
#[derive(Clone, Debug)]
struct Reference {
    from: String,
    line: usize,
    /// The path as written (use trees expanded), e.g. `crate::model::track::Track`.
    path: String,
    to: String,
    kind: Kind,
}

/// The dependency graph of a source tree (file paths relative to `src/`).
#[derive(Debug, Default)]
struct Graph {
    files: BTreeSet<String>,
    refs: Vec<Reference>,
}

impl Graph {
    /// Distinct file-to-file edges (self-references left out).
    fn edges(&self) -> BTreeSet<(&str, &str)> {
        self.refs.iter().filter(|r| r.from != r.to).map(|r| (r.from.as_str(), r.to.as_str())).collect()
    }
}

/// A path found in one file, not yet resolved.
struct RawPath {
    line: usize,
    segs: Vec<String>,
    /// Module path the path is written in (file module plus inline `mod x { }` nesting).
    scope: Vec<String>,
    kind: Kind,
}

/// One leaf of an expanded `use` tree.
struct UseLeaf {
    segs: Vec<String>,
    alias: Option<String>,
    line: usize,
}

/// Expands the use tree in `toks` (the tokens between `use` and `;`) into leaves.
fn expand_use(toks: &[Token], pos: &mut usize, prefix: Vec<String>, out: &mut Vec<UseLeaf>) {
    let mut segs = prefix;
    if matches!(toks.get(*pos).map(|t| &t.tok), Some(Tok::Sep)) {
        // `use ::ext::x`: an extern path, never one of ours.
        segs.push("::".to_string());
        *pos += 1;
    }
    while let Some(t) = toks.get(*pos) {
        match &t.tok {
            Tok::Punct('{') => {
                *pos += 1;
                while *pos < toks.len() && !is_punct(toks.get(*pos), '}') {
                    expand_use(toks, pos, segs.clone(), out);
                    if is_punct(toks.get(*pos), ',') {
                        *pos += 1;
                    }
                }
                *pos += 1;
                return;
            }
            Tok::Punct('*') => {
                *pos += 1;
                out.push(UseLeaf { segs, alias: None, line: t.line });
                return;
            }
            Tok::Ident(s) => {
                let line = t.line;
                if s != "self" || segs.is_empty() {
                    segs.push(s.clone());
                }
                *pos += 1;
                if matches!(toks.get(*pos).map(|t| &t.tok), Some(Tok::Sep)) {
                    *pos += 1;
                    continue;
                }
                let mut alias = segs.last().cloned();
                if is_ident(toks.get(*pos), "as") {
                    alias = ident(toks.get(*pos + 1)).filter(|a| *a != "_").map(str::to_string);
                    *pos += 2;
                }
                out.push(UseLeaf { segs, alias, line });
                return;
            }
            _ => {
                *pos += 1;
                return;
            }
        }
    }
}

/// Names a file's paths may start with besides `crate`/`self`/`super`: its declared child
/// modules and the names its `use` items brought in, each mapped to an absolute module path.
type Names = BTreeMap<String, Vec<String>>;

/// Makes `segs`, written in module `scope`, absolute; `None` when it is not a path into this
/// crate (std, an extern crate, a local variable).
fn absolute(segs: &[String], scope: &[String], names: &Names) -> Option<Vec<String>> {
    let first = segs.first()?;
    let (mut base, rest) = match first.as_str() {
        "crate" => (Vec::new(), &segs[1..]),
        "self" => (scope.to_vec(), &segs[1..]),
        "super" => {
            let mut base = scope.to_vec();
            let mut k = 0;
            while segs.get(k).is_some_and(|s| s == "super") {
                base.pop()?;
                k += 1;
            }
            (base, &segs[k..])
        }
        name => (names.get(name)?.clone(), &segs[1..]),
    };
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The deepest file an absolute path names (`[]` is the crate root).
fn resolve(abs: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (0..=abs.len()).rev().find_map(|k| modules.get(&abs[..k]).cloned())
}

/// Reads the paths, `use` leaves and `mod` declarations of one file.
fn scan_file(file: &str, text: &str) -> (Vec<RawPath>, Names, Vec<String>) {
    let (toks, test_mods) = drop_test_items(&lex(&strip(text)));
    let file_scope = module_path(file);
    let mut names = Names::new();
    let mut paths = Vec::new();
    // Inline `mod x { … }` nesting: (name, brace depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let scope_of = |inline: &[(String, usize)]| {
        let mut s = file_scope.clone();
        s.extend(inline.iter().map(|(n, _)| n.clone()));
        s
    };
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        let after_sep = i > 0 && toks[i - 1].tok == Tok::Sep;
        match &t.tok {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|(_, d)| *d > depth) {
                    inline.pop();
                }
            }
            Tok::Ident(w) if w == "mod" && !after_sep => {
                if let Some(name) = ident(toks.get(i + 1)) {
                    let scope = scope_of(&inline);
                    let mut child = scope.clone();
                    child.push(name.to_string());
                    names.insert(name.to_string(), child);
                    if is_punct(toks.get(i + 2), ';') {
                        paths.push(RawPath {
                            line: t.line,
                            segs: vec!["self".to_string(), name.to_string()],
                            scope,
                            kind: Kind::ModDecl,
                        });
                    } else if is_punct(toks.get(i + 2), '{') {
                        depth += 1;
                        inline.push((name.to_string(), depth));
                        i += 3;
                        continue;
                    }
                }
            }
            Tok::Ident(w) if w == "use" && !after_sep => {
                let end = (i..toks.len()).find(|&k| is_punct(toks.get(k), ';')).unwrap_or(toks.len());
                let body = &toks[i + 1..end];
                let mut leaves = Vec::new();
                let mut pos = 0;
                while pos < body.len() {
                    expand_use(body, &mut pos, Vec::new(), &mut leaves);
                }
                let scope = scope_of(&inline);
                for leaf in leaves {
                    if let Some(alias) = &leaf.alias {
                        if let Some(abs) = absolute(&leaf.segs, &scope, &names) {
                            names.insert(alias.clone(), abs);
                        }
                    }
                    paths.push(RawPath { line: leaf.line, segs: leaf.segs, scope: scope.clone(), kind: Kind::Use });
                }
                i = end + 1;
                continue;
            }
            Tok::Ident(first) if !after_sep && toks.get(i + 1).is_some_and(|n| n.tok == Tok::Sep) => {
                let mut segs = vec![first.clone()];
                let mut k = i + 1;
                while toks.get(k).is_some_and(|n| n.tok == Tok::Sep) {
                    match ident(toks.get(k + 1)) {
                        Some(s) => segs.push(s.to_string()),
                        None => break,
                    }
                    k += 2;
                }
                paths.push(RawPath { line: t.line, segs, scope: scope_of(&inline), kind: Kind::Inline });
                i = k;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    (paths, names, test_mods)
}

/// Builds the file dependency graph of a tree given as (path relative to `src/`, text).
fn analyze(tree: &[(String, String)]) -> Graph {
    let modules: BTreeMap<Vec<String>, String> = tree.iter().map(|(f, _)| (module_path(f), f.clone())).collect();
    let mut scanned = Vec::new();
    let mut test_only = BTreeSet::new();
    for (file, text) in tree {
        let (paths, names, test_mods) = scan_file(file, text);
        for m in test_mods {
            let mut child = module_path(file);
            child.push(m);
            if let Some(f) = modules.get(&child) {
                test_only.insert(f.clone());
            }
        }
        scanned.push((file, paths, names));
    }
    let mut graph = Graph::default();
    for (file, paths, names) in scanned {
        if test_only.contains(file) {
            continue;
        }
        graph.files.insert(file.clone());
        for p in paths {
            let Some(abs) = absolute(&p.segs, &p.scope, &names) else { continue };
            let Some(to) = resolve(&abs, &modules) else { continue };
            let path = match p.kind {
                Kind::ModDecl => format!("mod {}", p.segs[1]),
                _ => p.segs.join("::"),
            };
            graph.refs.push(Reference { from: file.clone(), line: p.line, path, to, kind: p.kind });
        }
    }
    graph
}

// ---------------------------------------------------------------------------------------------
// The rules
// ---------------------------------------------------------------------------------------------

/// Every reference against the layer order, one line each.
fn layer_violations(graph: &Graph) -> Vec<String> {
    let mut out = Vec::new();
    for r in &graph.refs {
        let (from, to) = (layer_of(&r.from), layer_of(&r.to));
        if from == to {
            continue;
        }
        let ok = match (rank(&from), rank(&to)) {
            (Some(a), Some(b)) => b < a || PEER_EDGES.contains(&(from.as_str(), to.as_str())),
            _ => false,
        };
        if !ok {
            let show = |l: &str| rank(l).map_or(format!("{l} (unknown layer)"), |r| format!("{l} (rank {r})"));
            out.push(format!("src/{}:{}: {} -> {}: `{}`", r.from, r.line, show(&from), show(&to), r.path));
        }
    }
    out
}

/// Every cycle between files: for each strongly connected component, a shortest cycle through
/// each of its files not yet on a reported cycle, with where each edge is written, and the
/// component's members when it is larger than the cycles shown.
fn cycles(graph: &Graph) -> Vec<String> {
    let edges = graph.edges();
    let mut next: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for &(a, b) in &edges {
        next.entry(a).or_default().push(b);
    }
    let mut out = Vec::new();
    for comp in strongly_connected(&graph.files, &next) {
        if comp.len() < 2 {
            continue;
        }
        let members: BTreeSet<&str> = comp.iter().copied().collect();
        let mut covered: BTreeSet<&str> = BTreeSet::new();
        for &start in &comp {
            if covered.contains(start) {
                continue;
            }
            let cycle = shortest_cycle(start, &next, &members);
            covered.extend(cycle.iter().copied());
            let shown: Vec<String> = cycle.iter().map(|f| format!("src/{f}")).collect();
            let mut msg = format!("cycle: {}", shown.join(" -> "));
            for w in cycle.windows(2) {
                for r in graph.refs.iter().filter(|r| r.from == w[0] && r.to == w[1]) {
                    let _ = write!(msg, "\n    src/{}:{}: `{}`", r.from, r.line, r.path);
                }
            }
            if comp.len() > cycle.len() - 1 {
                let _ = write!(msg, "\n    (all files in this cycle group: {})", comp.join(", "));
            }
            out.push(msg);
        }
    }
    out
}

/// Tarjan's strongly connected components, each sorted, in a stable order.
fn strongly_connected<'a>(files: &'a BTreeSet<String>, next: &BTreeMap<&'a str, Vec<&'a str>>) -> Vec<Vec<&'a str>> {
    struct State<'a> {
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        comps: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(v: &'a str, next: &BTreeMap<&'a str, Vec<&'a str>>, s: &mut State<'a>) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        s.on_stack.insert(v);
        for &w in next.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !s.index.contains_key(w) {
                visit(w, next, s);
                let lw = s.low[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(lw);
            } else if s.on_stack.contains(w) {
                let iw = s.index[w];
                let lv = s.low.get_mut(v).expect("visited");
                *lv = (*lv).min(iw);
            }
        }
        if s.low[v] == s.index[v] {
            let mut comp = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                comp.push(w);
                if w == v {
                    break;
                }
            }
            comp.sort_unstable();
            s.comps.push(comp);
        }
    }
    let mut s = State {
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        comps: Vec::new(),
    };
    for f in files {
        if !s.index.contains_key(f.as_str()) {
            visit(f, next, &mut s);
        }
    }
    s.comps.sort();
    s.comps
}

/// Shortest path `start -> … -> start` inside `members` (breadth first).
fn shortest_cycle<'a>(
    start: &'a str,
    next: &BTreeMap<&'a str, Vec<&'a str>>,
    members: &BTreeSet<&str>,
) -> Vec<&'a str> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &w in next.get(v).map(Vec::as_slice).unwrap_or(&[]) {
            if !members.contains(w) {
                continue;
            }
            if w == start {
                let mut path = vec![start, v];
                let mut cur = v;
                while cur != start {
                    cur = came_from[cur];
                    path.push(cur);
                }
                path.reverse();
                return path;
            }
            if !came_from.contains_key(w) {
                came_from.insert(w, v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}

/// Top-level entries of `src/` (folders, and `.rs` files as their module name) that are not
/// in [`LAYERS`].
fn unknown_layers<'a>(entries: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = entries
        .into_iter()
        .map(|e| if e == "lib.rs" { e.to_string() } else { e.trim_end_matches(".rs").to_string() })
        .filter(|e| rank(e).is_none())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// Every `unsafe { … }` block and `unsafe impl` without a `// SAFETY` comment (`// SAFETY: …`,
/// or `// SAFETY (all calls): …` for a block of several) on its line or in the
/// [`SAFETY_LINES_ABOVE`] lines above it. A longer comment counts too when only comment and
/// attribute lines stand between it and the `unsafe`.
fn unsafe_without_safety(file: &str, text: &str) -> Vec<String> {
    let lines: Vec<&str> = text.lines().collect();
    let has_safety = |l: &str| l.split_once("//").is_some_and(|(_, c)| c.trim_start().starts_with("SAFETY"));
    let comment_or_attribute = |l: &str| {
        let l = l.trim_start();
        l.starts_with("//") || l.starts_with("#[")
    };
    let toks = lex(&strip(text));
    let mut out = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if ident(Some(t)) != Some("unsafe") {
            continue;
        }
        let what = match toks.get(i + 1).map(|n| &n.tok) {
            Some(Tok::Punct('{')) => "block",
            Some(Tok::Ident(w)) if w == "impl" => "impl",
            _ => continue,
        };
        let at = t.line - 1;
        let near = lines[at.saturating_sub(SAFETY_LINES_ABOVE)..=at.min(lines.len() - 1)].iter().any(|l| has_safety(l));
        let comment_above = lines[..at].iter().rev().take_while(|l| comment_or_attribute(l)).any(|l| has_safety(l));
        if !near && !comment_above {
            out.push(format!("src/{file}:{}: unsafe {what} without a `// SAFETY` comment", t.line));
        }
    }
    out
}

/// True when an inner `#![deny(unsafe_code)]` or `#![forbid(unsafe_code)]` stands in `text`.
fn denies_unsafe_code(text: &str) -> bool {
    let toks = lex(&strip(text));
    (0..toks.len()).any(|i| {
        is_punct(toks.get(i), '#')
            && is_punct(toks.get(i + 1), '!')
            && is_punct(toks.get(i + 2), '[')
            && (is_ident(toks.get(i + 3), "deny") || is_ident(toks.get(i + 3), "forbid"))
            && is_punct(toks.get(i + 4), '(')
            && toks[i + 4..matching(&toks, i + 4)].iter().any(|t| ident(Some(t)) == Some("unsafe_code"))
    })
}

/// Files with no `unsafe` of their own that no `#![deny(unsafe_code)]` covers (in the file, or
/// in the `mod.rs` of a folder above it): unsafe code could be added there unnoticed. A folder's
/// `mod.rs` whose folder holds unsafe code is exempt (its attribute would cover those files too).
fn safe_files_without_unsafe_code_denied(tree: &[(String, String)]) -> Vec<String> {
    let has_unsafe = |text: &str| lex(&strip(text)).iter().any(|t| ident(Some(t)) == Some("unsafe"));
    let text_of = |f: &str| tree.iter().find(|(g, _)| g == f).map(|(_, t)| t.as_str());
    let mut out = Vec::new();
    for (file, text) in tree {
        if file == "lib.rs" || has_unsafe(text) {
            continue;
        }
        if let Some(dir) = file.strip_suffix("/mod.rs") {
            let prefix = format!("{dir}/");
            if tree.iter().any(|(f, t)| f.starts_with(&prefix) && has_unsafe(t)) {
                continue;
            }
        }
        let mut covering = vec![file.clone()];
        let mut dir = file.rsplit_once('/').map(|(d, _)| d.to_string());
        while let Some(d) = dir {
            covering.push(format!("{d}/mod.rs"));
            dir = d.rsplit_once('/').map(|(p, _)| p.to_string());
        }
        if !covering.iter().any(|f| text_of(f).is_some_and(denies_unsafe_code)) {
            out.push(format!("src/{file}: no unsafe code, but no `#![deny(unsafe_code)]` covers it"));
        }
    }
    out
}

/// True when an `allow(…)` attribute in `text` names `lint`.
fn allows(text: &str, lint: &str) -> bool {
    let toks = lex(&strip(text));
    (0..toks.len()).any(|i| {
        is_ident(toks.get(i), "allow")
            && is_punct(toks.get(i + 1), '(')
            && toks[i + 1..matching(&toks, i + 1)].iter().any(|t| ident(Some(t)) == Some(lint))
    })
}

// ---------------------------------------------------------------------------------------------
// The real tree
// ---------------------------------------------------------------------------------------------

/// The `src/` checked: this crate's, or the one `LIBHLS_ARCH_SRC` names (to check another
/// checkout, e.g. a branch before it is merged, with this checker).
fn src_dir() -> PathBuf {
    std::env::var_os("LIBHLS_ARCH_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// Every `.rs` file under `src/`, as (path relative to `src/` with `/`, text), sorted.
fn read_src() -> Vec<(String, String)> {
    fn walk(dir: &Path, rel: &str, out: &mut Vec<(String, String)>) {
        let mut entries: Vec<_> = fs::read_dir(dir).expect("read src dir").map(|e| e.expect("dir entry")).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().into_owned();
            let rel = if rel.is_empty() { name.clone() } else { format!("{rel}/{name}") };
            let path = e.path();
            if path.is_dir() {
                walk(&path, &rel, out);
            } else if name.ends_with(".rs") {
                out.push((rel, fs::read_to_string(&path).expect("read source file")));
            }
        }
    }
    let mut out = Vec::new();
    walk(&src_dir(), "", &mut out);
    out
}

/// The graph of the real tree, checked to be plausible (the checker saw the crate).
fn real_graph() -> (Vec<(String, String)>, Graph) {
    let tree = read_src();
    let graph = analyze(&tree);
    let edges = graph.edges().len();
    assert!(graph.files.len() > MIN_FILES, "only {} files under src/: is the checker reading src/?", graph.files.len());
    assert!(edges > MIN_EDGES, "only {edges} file-to-file edges found: is the checker parsing the imports?");
    (tree, graph)
}

fn report(what: &str, items: &[String]) -> String {
    format!("{} {what}:\n{}", items.len(), items.join("\n"))
}

#[test]
fn every_src_folder_is_a_known_layer() {
    let names: Vec<String> = fs::read_dir(src_dir())
        .expect("read src/")
        .map(|e| e.expect("dir entry"))
        .filter(|e| e.path().is_dir() || e.file_name().to_string_lossy().ends_with(".rs"))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.len() > 5, "src/ has only {names:?}");
    let unknown = unknown_layers(names.iter().map(String::as_str));
    assert!(unknown.is_empty(), "not in the layer table of tests/architecture.rs (add deliberately): {unknown:?}");
}

#[test]
fn imports_follow_the_layer_order() {
    let (_, graph) = real_graph();
    let bad = layer_violations(&graph);
    assert!(bad.is_empty(), "{}", report("imports against the layer order", &bad));
}

#[test]
fn no_cycles_between_files() {
    let (_, graph) = real_graph();
    let bad = cycles(&graph);
    assert!(bad.is_empty(), "{}", report("cycles between files", &bad));
}

#[test]
fn no_crate_wide_unsafe_op_allowance() {
    let lib = fs::read_to_string(src_dir().join("lib.rs")).expect("read src/lib.rs");
    assert!(
        !allows(&lib, "unsafe_op_in_unsafe_fn"),
        "src/lib.rs allows unsafe operations in unsafe fns crate-wide; \
         each module denies it and wraps them in `unsafe {{ }}` with a `// SAFETY:` comment"
    );
}

#[test]
fn files_without_unsafe_deny_it() {
    let (tree, _) = real_graph();
    let bad = safe_files_without_unsafe_code_denied(&tree);
    assert!(bad.is_empty(), "{}", report("files that could gain unsafe code unnoticed", &bad));
}

#[test]
fn checker_sees_which_files_deny_unsafe_code() {
    let t = tree(&[
        ("a/mod.rs", "#![deny(unsafe_code)]\nmod b;\n"),
        ("a/b.rs", "fn f() {}\n"),
        ("c/mod.rs", "// #![deny(unsafe_code)] in a comment does not count\nmod d;\n"),
        ("c/d.rs", "fn g() {}\n"),
        ("e.rs", "fn h() { unsafe { x() } }\n"),
        ("f/mod.rs", "mod g;\n"),
        ("f/g.rs", "fn k() { unsafe { y() } }\n"),
    ]);
    let bad = safe_files_without_unsafe_code_denied(&t);
    assert_eq!(
        bad,
        vec![
            "src/c/mod.rs: no unsafe code, but no `#![deny(unsafe_code)]` covers it",
            "src/c/d.rs: no unsafe code, but no `#![deny(unsafe_code)]` covers it"
        ]
    );
}

#[test]
fn every_unsafe_block_has_a_safety_comment() {
    let (tree, _) = real_graph();
    let bad: Vec<String> = tree.iter().flat_map(|(f, text)| unsafe_without_safety(f, text)).collect();
    assert!(bad.is_empty(), "{}", report("unsafe blocks/impls without a SAFETY comment", &bad));
}

// ---------------------------------------------------------------------------------------------
// The checker, on small in-memory trees
// ---------------------------------------------------------------------------------------------

fn tree(files: &[(&str, &str)]) -> Vec<(String, String)> {
    files.iter().map(|(f, t)| (f.to_string(), t.to_string())).collect()
}

/// A small clean tree in the real shape.
fn clean_tree() -> Vec<(String, String)> {
    tree(&[
        ("lib.rs", "pub mod engine;\npub mod error;\npub mod index;\npub mod model;\npub mod output;\npub use engine::Context;\n"),
        ("error.rs", "pub struct Error;\n"),
        ("model/mod.rs", "pub mod track;\npub mod time;\n"),
        ("model/time.rs", "use crate::error::Error;\npub fn rescale() {}\n"),
        ("model/track.rs", "use crate::model::time::{self, rescale};\npub struct Track;\nfn f() { time::rescale(); }\n"),
        ("output/mod.rs", "pub mod fmp4;\n"),
        ("output/fmp4.rs", "use crate::model::{track::Track, time};\n"),
        ("index/mod.rs", "mod scan;\nmod assemble;\npub fn build() { scan::run(); }\n"),
        ("index/scan.rs", "use super::assemble::assemble;\nuse crate::output::fmp4;\npub fn run() {}\n"),
        ("index/assemble.rs", "use crate::model::track::Track;\npub fn assemble() {}\n"),
        ("engine/mod.rs", "pub struct Context;\nfn open() { crate::index::build(); }\n"),
    ])
}

fn with(mut t: Vec<(String, String)>, file: &str, text: &str) -> Vec<(String, String)> {
    t.retain(|(f, _)| f != file);
    t.push((file.to_string(), text.to_string()));
    t
}

fn has(edges: &BTreeSet<(&str, &str)>, a: &str, b: &str) -> bool {
    edges.contains(&(a, b))
}

#[test]
fn checker_passes_a_clean_tree_and_sees_its_edges() {
    let g = analyze(&clean_tree());
    assert_eq!(layer_violations(&g), Vec::<String>::new());
    assert_eq!(cycles(&g), Vec::<String>::new());
    let e = g.edges();
    assert!(has(&e, "model/time.rs", "error.rs"));
    assert!(has(&e, "model/track.rs", "model/time.rs"));
    assert!(has(&e, "output/fmp4.rs", "model/track.rs"), "nested use tree");
    assert!(has(&e, "output/fmp4.rs", "model/time.rs"), "nested use tree");
    assert!(has(&e, "index/scan.rs", "index/assemble.rs"), "super:: resolves to the sibling file");
    assert!(has(&e, "index/scan.rs", "output/fmp4.rs"));
    assert!(has(&e, "engine/mod.rs", "index/mod.rs"), "inline crate:: path");
    assert!(has(&e, "index/mod.rs", "index/scan.rs"), "mod declaration");
    let kinds = |from: &str, to: &str| -> Vec<Kind> {
        g.refs.iter().filter(|r| r.from == from && r.to == to).map(|r| r.kind).collect()
    };
    assert_eq!(kinds("index/mod.rs", "index/scan.rs"), vec![Kind::ModDecl, Kind::Inline]);
    assert_eq!(kinds("index/scan.rs", "index/assemble.rs"), vec![Kind::Use]);
    assert!(has(&e, "lib.rs", "engine/mod.rs"), "pub use of a child module");
    assert_eq!(g.files.len(), 11);
}

#[test]
fn checker_reports_an_import_against_the_layer_order() {
    let t = with(clean_tree(), "model/time.rs", "use crate::error::Error;\n\nuse crate::engine::Context;\n");
    let bad = layer_violations(&analyze(&t));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].starts_with("src/model/time.rs:3: model (rank 2) -> engine (rank 4)"), "{bad:?}");
    assert!(bad[0].contains("`crate::engine::Context`"), "{bad:?}");
}

#[test]
fn checker_reports_inline_paths_and_unlisted_peers() {
    let t = with(clean_tree(), "output/fmp4.rs", "fn f() {\n    let x = crate::index::build();\n}\n");
    let bad = layer_violations(&analyze(&t));
    assert_eq!(bad, vec!["src/output/fmp4.rs:2: output (rank 3) -> index (rank 3): `crate::index::build`"]);
    // index -> output is a listed peer edge, output -> index is not (checked above).
    let g = analyze(&clean_tree());
    assert!(has(&g.edges(), "index/scan.rs", "output/fmp4.rs"));
}

#[test]
fn checker_reports_uses_of_the_crate_root_and_unknown_layers() {
    let t = with(clean_tree(), "model/time.rs", "use crate::Error;\n");
    let bad = layer_violations(&analyze(&t));
    assert_eq!(bad, vec!["src/model/time.rs:1: model (rank 2) -> lib.rs (rank 6): `crate::Error`"]);
    let t = with(clean_tree(), "gadget/mod.rs", "use crate::model::track::Track;\n");
    let bad = layer_violations(&analyze(&t));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("gadget (unknown layer) -> model (rank 2)"), "{bad:?}");
    assert_eq!(unknown_layers(["index", "lib.rs", "error.rs", "gadget", "util"]), vec!["gadget"]);
}

#[test]
fn checker_reports_a_cycle_between_siblings() {
    let t = with(clean_tree(), "index/assemble.rs", "pub fn assemble() {\n    super::scan::run();\n}\n");
    let bad = cycles(&analyze(&t));
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(
        bad[0].starts_with("cycle: src/index/assemble.rs -> src/index/scan.rs -> src/index/assemble.rs"),
        "{bad:?}"
    );
    assert!(bad[0].contains("src/index/assemble.rs:2: `super::scan::run`"), "{bad:?}");
    assert!(bad[0].contains("src/index/scan.rs:1: `super::assemble::assemble`"), "{bad:?}");
}

#[test]
fn checker_reports_a_child_using_its_mod_rs() {
    let t = with(clean_tree(), "index/assemble.rs", "use super::build;\n");
    let bad = cycles(&analyze(&t));
    assert!(bad[0].starts_with("cycle: src/index/assemble.rs -> src/index/mod.rs -> src/index/assemble.rs"), "{bad:?}");
    assert!(bad[0].contains("src/index/assemble.rs:1: `super::build`"), "{bad:?}");
    assert!(bad[0].contains("src/index/mod.rs:2: `mod assemble`"), "{bad:?}");
    // index/scan.rs -> assemble.rs is in the same group: a cycle through it is shown too.
    assert_eq!(bad.len(), 2, "{bad:?}");
    let through_scan = "cycle: src/index/scan.rs -> src/index/assemble.rs -> src/index/mod.rs -> src/index/scan.rs";
    assert!(bad[1].starts_with(through_scan), "{bad:?}");
    assert!(bad[0].contains("(all files in this cycle group: index/assemble.rs, index/mod.rs, index/scan.rs)"));
}

#[test]
fn checker_reports_a_cycle_through_several_layers() {
    let t = with(clean_tree(), "error.rs", "pub struct Error;\nfn f() { crate::engine::open(); }\n");
    let g = analyze(&t);
    let bad = cycles(&g);
    assert!(!bad.is_empty());
    assert!(bad.iter().all(|c| c.contains("src/error.rs:2: `crate::engine::open`")), "{bad:?}");
    assert_eq!(layer_violations(&g), vec!["src/error.rs:2: error (rank 1) -> engine (rank 4): `crate::engine::open`"]);
}

#[test]
fn checker_skips_tests_comments_and_literals() {
    let text = r##"//! Doc naming crate::engine::Context.
use crate::error::Error;
/* crate::engine::a /* nested */ crate::engine::b */
const S: &str = "crate::engine::c \" crate::engine::d";
const R: &str = r#"crate::engine::e "quoted" "#;
const B: &[u8] = b"crate::engine::f";
fn g<'a>(x: &'a str) -> char { let _ = x; '{' }
fn h() -> char { '\'' }
/// crate::engine::g
#[cfg(test)]
mod tests {
    use crate::engine::Context;
    fn t() { crate::index::build(); let _ = '}'; }
}
#[cfg(test)]
#[allow(dead_code)]
fn helper() { crate::engine::open(); }
pub fn after() {
    crate::model::track::f();
}
"##;
    let g = analyze(&with(clean_tree(), "model/time.rs", text));
    assert_eq!(layer_violations(&g), Vec::<String>::new());
    let from_time: Vec<_> =
        g.refs.iter().filter(|r| r.from == "model/time.rs").map(|r| (r.line, r.path.as_str())).collect();
    assert_eq!(from_time, vec![(2, "crate::error::Error"), (19, "crate::model::track::f")]);
}

#[test]
fn checker_resolves_aliases_inline_modules_and_test_only_files() {
    let t = with(
        clean_tree(),
        "index/scan.rs",
        "use crate::model::{self as m};\nuse crate::model::track as tr;\n\
         pub mod inner {\n    use super::run;\n    pub fn x() { self::y(); }\n    fn y() {}\n}\n\
         pub fn run() { m::time::rescale(); tr::Track; }\n#[cfg(test)]\nmod scan_tests;\n",
    );
    let t = with(t, "index/scan/scan_tests.rs", "use crate::engine::Context;\n");
    let g = analyze(&t);
    assert_eq!(layer_violations(&g), Vec::<String>::new(), "a test-only file is a consumer");
    assert!(!g.files.contains("index/scan/scan_tests.rs"));
    let refs: Vec<_> =
        g.refs.iter().filter(|r| r.from == "index/scan.rs").map(|r| (r.path.as_str(), r.to.as_str())).collect();
    assert!(refs.contains(&("m::time::rescale", "model/time.rs")), "{refs:?}");
    assert!(refs.contains(&("tr::Track", "model/track.rs")), "{refs:?}");
    assert!(refs.contains(&("super::run", "index/scan.rs")), "super in an inline module is the file: {refs:?}");
    assert!(refs.contains(&("self::y", "index/scan.rs")), "{refs:?}");
    assert_eq!(cycles(&g), Vec::<String>::new());
}

#[test]
fn checker_reports_unsafe_without_safety_comment() {
    let text = "fn a(p: *const u8) -> u8 {\n    // SAFETY: p is valid.\n    unsafe { *p }\n}\n\
                fn b(p: *const u8) -> u8 {\n    unsafe { *p }\n}\n\
                // SAFETY: the pointer is only read\n// under the lock, and\n// nothing else holds it,\n\
                // and the lock outlives it.\nunsafe impl Send for X {}\n\
                unsafe fn c() {}\nfn d() { let _ = \"unsafe { }\"; } // unsafe {\n\
                fn e(p: *const u8) -> u8 { unsafe { *p } } // SAFETY: same line.\n\
                // SAFETY: Sync is sound because\n// the value is never mutated after\n// it is built, and every read\n\
                // goes through &self.\n#[allow(unsafe_code)]\nunsafe impl Sync for X {}\n\
                fn f() {\n    // SAFETY (all calls): the pointers are live.\n    unsafe {}\n}\n\
                fn g() {\n    let x = 1; // SAFETY: not about the block below\n    let y = 2;\n    let z = 3;\n\
                \n    unsafe {}\n}\n";
    let bad = unsafe_without_safety("x.rs", text);
    assert_eq!(
        bad,
        vec![
            "src/x.rs:6: unsafe block without a `// SAFETY` comment",
            "src/x.rs:31: unsafe block without a `// SAFETY` comment"
        ]
    );
}

#[test]
fn checker_finds_a_crate_wide_allow() {
    let lint = "unsafe_op_in_unsafe_fn";
    assert!(allows("//! Crate.\n#![allow(unsafe_op_in_unsafe_fn)]\npub mod a;\n", lint));
    assert!(allows("#![allow(clippy::too_many_arguments, unsafe_op_in_unsafe_fn)]\n", lint));
    assert!(!allows("// #![allow(unsafe_op_in_unsafe_fn)]\n#![deny(unsafe_op_in_unsafe_fn)]\n", lint));
    assert!(!allows("#![allow(dead_code)]\nconst S: &str = \"allow(unsafe_op_in_unsafe_fn)\";\n", lint));
}
