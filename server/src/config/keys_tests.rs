//! Every key the configuration file takes is printed by `strata check-config` (the
//! effective configuration, `view::effective_toml`). The keys are not listed by hand:
//! they are walked out of the file's own schema ([`FileConfig`], whose sections refuse
//! unknown keys and so name the keys they take), so a key added to the schema and not
//! to the view fails here.

use std::collections::BTreeSet;

use super::file::FileConfig;

/// Whether `toml` is refused with "unknown field `__probe`, expected ..."; the keys
/// expected.
fn keys_expected(toml: &str) -> Option<Vec<String>> {
    let err = toml::from_str::<FileConfig>(toml).err()?.to_string();
    let at = err.find("unknown field `__probe`")?;
    let rest = &err[at..];
    let list = rest.split_once("expected ")?.1;
    let list = list.split('\n').next().unwrap_or(list);
    Some(
        list.split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

/// The TOML that puts `value` at the key path `path` (`[]` segments are arrays of tables,
/// `*` a name under a map).
fn at(path: &[&str], value: &str) -> String {
    let mut out = value.to_owned();
    for seg in path.iter().rev() {
        out = match *seg {
            "[]" => format!("[{out}]"),
            "*" => format!("{{ x = {out} }}"),
            name => format!("{{ {name} = {out} }}"),
        };
    }
    // The outermost is a table: drop its braces to make a document.
    out.strip_prefix("{ ")
        .and_then(|o| o.strip_suffix(" }"))
        .unwrap_or(&out)
        .to_owned()
}

/// Every key path of the schema under `path`, sections as `a.b`, arrays of tables and maps
/// of sections as `a.b[].c` and `a.b.*.c`.
fn walk(path: &mut Vec<&'static str>, out: &mut BTreeSet<String>) {
    let Some(keys) = keys_expected(&at(path, "{ __probe = 1 }")) else {
        return;
    };
    for k in keys {
        let k: &'static str = Box::leak(k.into_boxed_str());
        // A section that holds itself (`[limits.tenants.<id>]` takes `[limits]`'s keys,
        // `tenants` refused there by the resolver): walked once.
        let again = path.contains(&k);
        path.push(k);
        let name = path.join(".").replace(".[]", "[]");
        out.insert(name);
        // A section, an array of sections, or a map of sections?
        for shape in [None, Some("[]"), Some("*")] {
            if again {
                break;
            }
            if let Some(s) = shape {
                path.push(s);
            }
            let probe = at(path, "{ __probe = 1 }");
            let is_section = keys_expected(&probe).is_some();
            if is_section {
                walk(path, out);
            }
            if shape.is_some() {
                path.pop();
            }
            if is_section {
                break;
            }
        }
        path.pop();
    }
}

/// Every key path of a TOML table (`a.b`); arrays of tables as `a[]`.
fn printed(t: &toml::Table, prefix: &str, out: &mut BTreeSet<String>) {
    for (k, v) in t {
        let path = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        out.insert(path.clone());
        if let toml::Value::Table(inner) = v {
            printed(inner, &path, out);
        }
    }
}

/// What `strata check-config` prints for `toml`: the keys of its TOML, and the keys it
/// lists as not set.
fn shown(toml: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let c = super::Config::from_toml(toml).expect("a valid configuration");
    let text = super::view::effective_text(&c);
    let t: toml::Table = toml::from_str(&text).expect("the printed TOML parses");
    let mut keys = BTreeSet::new();
    printed(&t, "", &mut keys);
    let unset = text
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .map(str::to_owned)
        .collect();
    (keys, unset)
}

#[test]
fn check_config_prints_every_key_of_the_schema() {
    let mut schema = BTreeSet::new();
    walk(&mut Vec::new(), &mut schema);
    assert!(schema.len() > 150, "the walk found {} keys", schema.len());
    assert!(schema.contains("promql.delayed_name_removal"));
    // Keys inside list elements and per-tenant tables show as the file writes them (the
    // printed TOML starts from the file): the keys of sections and tables are checked,
    // with the defaults and with a file that sets the optional ones.
    let top: Vec<&String> = schema
        .iter()
        .filter(|k| !k.contains("[]") && !k.contains('*'))
        .collect();
    let with_optionals = "[wal]\ndurability = \"interval\"\nfsync_interval = \"50ms\"\n\
                          [limits]\ndisk_budget_bytes = 1000000000\n";
    for file in ["", with_optionals] {
        let (keys, unset) = shown(file);
        let missing: Vec<&&String> = top
            .iter()
            .filter(|k| !keys.contains(k.as_str()) && !unset.contains(k.as_str()))
            // A section whose keys are all listed as not set.
            .filter(|k| !unset.iter().any(|u| u.starts_with(&format!("{k}."))))
            .collect();
        assert!(missing.is_empty(), "not printed for {file:?}: {missing:?}");
        for k in &unset {
            assert!(!keys.contains(k), "{k} printed and listed as not set");
        }
    }
    let (keys, unset) = shown(with_optionals);
    assert!(keys.contains("wal.fsync_interval") && keys.contains("limits.disk_budget_bytes"));
    assert!(!unset.contains("wal.fsync_interval"), "{unset:?}");
}
