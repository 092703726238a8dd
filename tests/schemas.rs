//! The committed `schemas/` must equal what the Rust types generate.
//! Regenerate with `SANBAO_BLESS=1 cargo test --release --test suite schemas::`.

use std::path::Path;

#[test]
fn committed_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
    let bless = std::env::var_os("SANBAO_BLESS").is_some();
    let generated = sanbao::schema::all();
    assert_eq!(
        generated.len(),
        24,
        "the fifteen v1 event kinds, planning_policy_set, notice_issued, the three kinds of two-person approval, issue 19's three and the record"
    );
    if bless {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in &generated {
            std::fs::write(dir.join(name), text).unwrap();
        }
    }
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .expect("schemas/ exists")
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".schema.json"))
        .collect();
    committed.sort();
    let mut names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    names.sort();
    assert_eq!(
        committed, names,
        "schemas/ holds exactly the generated files"
    );
    for (name, text) in &generated {
        let on_disk = std::fs::read_to_string(dir.join(name)).unwrap();
        assert_eq!(
            &on_disk, text,
            "schemas/{name} drifted from the Rust types; regenerate with SANBAO_BLESS=1"
        );
    }
}

#[test]
fn schemas_describe_the_kind_and_reject_unknown_fields() {
    for (name, text) in sanbao::schema::all() {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        if name == "record.schema.json" {
            assert_eq!(
                v["properties"]["event"]["oneOf"].as_array().unwrap().len(),
                23,
                "the fifteen v1 kinds, planning_policy_set, notice_issued the three kinds of two-person approval and issue 19's three"
            );
            continue;
        }
        let kind = name.trim_end_matches(".schema.json");
        assert_eq!(v["properties"]["kind"]["const"], kind, "{name}");
        assert_eq!(v["additionalProperties"], false, "{name}");
        assert!(
            v["required"]
                .as_array()
                .unwrap()
                .iter()
                .any(|r| r == "kind"),
            "{name}"
        );
    }
}
