//! The claim-schema compiler on the official JSON-Schema-Test-Suite (draft 2020-12, the default,
//! and draft-07): every case of every copied file runs, and the few schemas the compiler refuses
//! on purpose (they would be partly ignored) are listed with the reason and must stay refused.
//! Data: `tests/data/json-schema-test-suite/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

use oidc_proxy::schema::{DRAFT_07, JsonSchemaCompiler};
use serde_json::Value;

fn suite_dir(draft: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/json-schema-test-suite").join(draft)
}

/// Every `*.json` file of one draft, sorted.
fn files(draft: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(suite_dir(draft))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    v.sort();
    v
}

#[derive(Default, Debug)]
struct Tally {
    files: usize,
    groups: usize,
    cases: usize,
    refused: Vec<String>,
    failures: Vec<String>,
}

fn run(draft: &str, declare: Option<&str>) -> Tally {
    run_with(draft, |schema| {
        if let (Some(uri), Value::Object(map)) = (declare, schema) {
            map.entry("$schema").or_insert_with(|| Value::String(uri.into()));
        }
    })
}

fn run_stripped(draft: &str) -> Tally {
    run_with(draft, |schema| {
        if let Value::Object(map) = schema {
            map.remove("$schema");
        }
    })
}

fn run_with(draft: &str, adjust: impl Fn(&mut Value)) -> Tally {
    let mut t = Tally::default();
    for path in files(draft) {
        t.files += 1;
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        let groups: Vec<Value> = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for group in groups {
            t.groups += 1;
            let desc = group["description"].as_str().unwrap().to_owned();
            let mut schema = group["schema"].clone();
            adjust(&mut schema);
            let compiled = match JsonSchemaCompiler.build(&schema) {
                Ok(c) => c,
                Err(e) => {
                    t.refused.push(format!("{name}: {desc}: {e}"));
                    continue;
                }
            };
            for case in group["tests"].as_array().unwrap() {
                t.cases += 1;
                let want = case["valid"].as_bool().unwrap();
                let data = &case["data"];
                let got = compiled.check_value(data).is_ok();
                // Objects also go through the seam's entry point, as the engine calls it.
                if let Value::Object(map) = data {
                    use oidc_core::claim_schema::ClaimSchema as _;
                    assert_eq!(compiled.check(map).is_ok(), got, "{name}: {desc}");
                }
                if got != want {
                    t.failures.push(format!(
                        "{name}: {desc}: {}: expected {}",
                        case["description"].as_str().unwrap(),
                        if want { "valid" } else { "invalid" }
                    ));
                }
            }
        }
    }
    t
}

/// Schemas refused on purpose: each has a keyword that its draft ignores where it stands, so
/// the suite expects every instance to pass whatever the keyword says. Refusing such a schema at
/// load is this compiler's rule (see `oidc_proxy::schema`), not a conformance gap.
const REFUSED_2020_12: &[&str] = &[
    "if-then-else: ignore then without if",
    "if-then-else: ignore else without if",
    "if-then-else: non-interference across combined schemas",
    "maxContains: maxContains without contains is ignored",
    "minContains: minContains without contains is ignored",
];
const REFUSED_07: &[&str] = &[
    "additionalItems: when items is schema, additionalItems does nothing",
    "additionalItems: when items is schema, boolean additionalItems does nothing",
    "additionalItems: additionalItems as false without items",
    "additionalItems: additionalItems with null instance elements",
    "if-then-else: ignore then without if",
    "if-then-else: ignore else without if",
    "if-then-else: non-interference across combined schemas",
];

fn check(t: &Tally, refused: &[&str], min_files: usize, min_cases: usize) {
    assert!(
        t.failures.is_empty(),
        "{} failing cases:\n{}",
        t.failures.len(),
        t.failures.join("\n")
    );
    let got: Vec<&str> =
        t.refused.iter().map(|r| r.rsplit_once(": \"").map_or(r.as_str(), |(g, _)| g)).collect();
    assert_eq!(got, refused, "refused schemas changed:\n{}", t.refused.join("\n"));
    // An emptied or missing data directory must fail, not pass vacuously.
    assert!(t.files >= min_files, "only {} files", t.files);
    assert!(t.cases >= min_cases, "only {} cases", t.cases);
    println!(
        "{} files, {} schemas ({} refused), {} cases",
        t.files,
        t.groups,
        refused.len(),
        t.cases
    );
}

#[test]
fn draft_2020_12_the_default() {
    // No `$schema` injected: the files declare 2020-12, and it is also the default.
    check(&run("draft2020-12", None), REFUSED_2020_12, 35, 740);
}

#[test]
fn draft_2020_12_without_dollar_schema() {
    // The same files with `$schema` removed: the default draft gives the same results.
    let t = run_stripped("draft2020-12");
    check(&t, REFUSED_2020_12, 35, 740);
}

#[test]
fn draft_07() {
    // The draft-07 files do not declare `$schema`; the compiler is told, as a config would.
    check(&run("draft7", Some(DRAFT_07)), REFUSED_07, 32, 680);
}
