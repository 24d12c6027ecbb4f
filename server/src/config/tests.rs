use std::time::Duration;

use strata_wal::Durability;

use super::resolve::Overrides;
use super::tokens::Scope;
use super::*;

const FULL: &str = r#"
data_dir = "/srv/strata"
[server]
http_addr = "0.0.0.0:9090"
grpc_addr = "0.0.0.0:9091"
max_body_bytes = 1048576
max_inflight_bytes = 33554432
[wal]
durability = "interval"
fsync_interval = "250ms"
[retention]
metrics = "90m"
traces = "7d"
logs = "36500d"
[limits]
max_active_series = 5000
max_labels_per_series = 20
ingest_rate = 1000
ingest_burst = 2000
signal_record_rate = 500
signal_record_burst = 600
signal_byte_rate = 70000
signal_byte_burst = 80000
max_attributes = 64
max_attribute_value_len = 4096
max_attribute_depth = 4
max_events = 10
max_links = 11
[limits.tenants.acme]
max_active_series = 1000
metrics_retention = "2d"
traces_retention = "3d"
max_attribute_value_len = 100
[sql]
metadata_cache_bytes = 1048576
[promql]
delayed_name_removal = true
[[auth.tokens]]
sha256 = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
tenant = "acme"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9"
tenant = "ops"
scopes = ["read"]
choose_tenant = true
"#;

#[test]
fn the_documented_shape_maps_onto_the_engine_config() {
    let c = Config::from_toml(FULL).unwrap();
    c.validate().unwrap();
    assert_eq!(c.data_dir, PathBuf::from("/srv/strata"));
    assert_eq!(c.http_addr.to_string(), "0.0.0.0:9090");
    assert_eq!(c.grpc_addr.to_string(), "0.0.0.0:9091");
    assert_eq!(c.max_body_bytes, 1 << 20);
    assert_eq!(c.max_inflight_bytes, 32 << 20);
    assert_eq!(
        c.engine.wal.durability,
        Durability::Interval(Duration::from_millis(250))
    );
    assert_eq!(
        c.engine.limits.metrics_retention,
        Duration::from_secs(90 * 60)
    );
    assert_eq!(
        c.engine.limits.traces_retention,
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        c.engine.limits.logs_retention,
        Duration::from_secs(36_500 * 86_400)
    );
    let l = &c.engine.limits;
    assert_eq!(
        (
            l.signal_record_rate,
            l.signal_record_burst,
            l.signal_byte_rate,
            l.signal_byte_burst
        ),
        (500.0, 600.0, 70_000.0, 80_000.0)
    );
    assert_eq!(
        (
            l.max_attributes,
            l.max_attribute_value_len,
            l.max_attribute_depth,
            l.max_events,
            l.max_links
        ),
        (64, 4096, 4, 10, 11)
    );
    assert_eq!(c.engine.limits.max_active_series, 5000);
    assert_eq!(c.engine.limits.max_labels_per_series, 20);
    assert_eq!(c.engine.limits.ingest_rate, 1000.0);
    let acme = &c.engine.tenant_limits["acme"];
    // An override starts from the [limits] defaults and replaces what it names.
    assert_eq!(acme.max_active_series, 1000);
    assert_eq!(acme.max_labels_per_series, 20);
    assert_eq!(acme.metrics_retention, Duration::from_secs(2 * 86_400));
    assert_eq!(acme.traces_retention, Duration::from_secs(3 * 86_400));
    // retention.logs is the default of every tenant too.
    assert_eq!(acme.logs_retention, Duration::from_secs(36_500 * 86_400));
    assert_eq!(acme.max_attribute_value_len, 100);
    assert_eq!(acme.max_attributes, 64);
    assert_eq!(c.sql.query.metadata_cache_bytes, 1 << 20);
    assert!(c.promql.delayed_name_removal);
    assert_eq!(c.tokens.len(), 2);
    assert_eq!(c.tokens[0].scopes, vec![Scope::Read, Scope::Write]);
    assert!(c.tokens[1].choose_tenant);
}

#[test]
fn an_empty_file_is_the_defaults() {
    let c = Config::from_toml("").unwrap();
    let d = Config::default();
    assert_eq!(c.data_dir, PathBuf::from("./strata-data"));
    assert_eq!(c.http_addr.to_string(), DEFAULT_HTTP_ADDR);
    assert_eq!(c.grpc_addr.to_string(), DEFAULT_GRPC_ADDR);
    assert_eq!(c.max_body_bytes, 64 << 20);
    assert_eq!(c.engine, d.engine);
    assert!(c.tokens.is_empty());
    // Prometheus's default: names dropped at the function or operator.
    assert!(!c.promql.delayed_name_removal);
    assert_eq!(c.promql, strata_query::promql::QueryOptions::default());
}

#[test]
fn unknown_keys_and_bad_values_name_the_key() {
    for (text, want) in [
        ("dat_dir = \"x\"", "dat_dir"),
        ("[server]\nhttp_adr = \"127.0.0.1:1\"", "http_adr"),
        ("[limits]\nmax_series = 3", "max_series"),
        (
            "[limits.tenants.acme]\nmax_activ_series = 3",
            "max_activ_series",
        ),
        (
            "[limits.tenants.acme.tenants.b]\n",
            "limits.tenants.acme.tenants",
        ),
        ("[limits.tenants.\"a/b\"]\n", "limits.tenants.a/b"),
        ("[wal]\ndurability = \"always\"", "wal.durability"),
        ("[retention]\nmetrics = \"a week\"", "retention.metrics"),
        ("[retention]\ntraces = \"soon\"", "retention.traces"),
        (
            "[limits]\ntraces_retention = \"soon\"",
            "limits.traces_retention",
        ),
        (
            "[limits.tenants.acme]\nlogs_retention = \"x\"",
            "limits.tenants.acme.logs_retention",
        ),
        (
            "[limits]\nmax_attribute_depth = 0",
            "limits.max_attribute_depth",
        ),
        ("[limits]\nsignal_byte_rate = 0", "limits.signal_byte_rate"),
        (
            "[limits]\nmax_attribute_value_len = 0",
            "limits.max_attribute_value_len",
        ),
        (
            "[[auth.tokens]]\nsha256 = \"00\"\ntenant = \"a\"\nscopes = [\"read\"]",
            "sha256",
        ),
        (
            "[[auth.tokens]]\nsha256 = \"x\"\ntenant = \"a\"\nscopes = [\"root\"]",
            "auth.tokens[0].scopes",
        ),
        ("[bogus]\n", "bogus"),
        ("[storage]\nbackend = \"gcs\"", "storage.backend"),
        ("[storage]\nbackend = \"s3\"", "storage.bucket"),
        ("[storage]\nbucket = \"b\"", "storage.bucket"),
        (
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nprefix = \"/p\"",
            "storage.prefix",
        ),
        (
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\naccess_key_id = \"k\"",
            "storage.access_key_id",
        ),
        (
            "[storage]\nbackend = \"s3\"\nbucket = \"b\"\ndelete_grace = \"soon\"",
            "storage.delete_grace",
        ),
        ("[storage]\nbuckett = \"b\"", "buckett"),
        ("[cluster]\nrole = \"query\"", "storage.backend"),
        ("[cluster]\nrole = \"reader\"", "cluster.role"),
        ("[cluster]\nworkers = [\"w:1\"]", "cluster.workers"),
        (
            "[rules]\nevaluation_interval = \"0s\"",
            "rules.evaluation_interval",
        ),
        ("[rules]\nfile = [\"a.yml\"]", "unknown field `file`"),
        (
            "[rules.tenants.\"bad tenant\"]\nfiles = []",
            "rules.tenants.bad tenant",
        ),
        (
            "[alerting]\nalertmanagers = [\"ftp://x\"]",
            "alerting.alertmanagers[0]",
        ),
        (
            "[alerting]\nexternal_labels = { \"bad-name\" = \"x\" }",
            "alerting.external_labels.bad-name",
        ),
        (
            "[[alerting.webhooks]]\nurl = \"http://a\"\nname = \"x\"\n[[alerting.webhooks]]\nurl = \"http://b\"\nname = \"x\"",
            "alerting.webhooks[1].name",
        ),
    ] {
        let err = Config::from_toml(text)
            .and_then(|c| c.validate())
            .unwrap_err();
        assert!(err.to_string().contains(want), "{text:?}: {err}");
    }
    let mut c = Config::default();
    c.engine.limits.ingest_rate = 0.0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("limits.ingest_rate")
    );
    c = Config::default();
    c.max_body_bytes = 0;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("server.max_body_bytes")
    );
    c = Config::default();
    c.max_inflight_bytes = 1000;
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("server.max_inflight_bytes")
    );
}

#[test]
fn overrides_beat_the_file() {
    let mut c = Config::from_toml(FULL).unwrap();
    let o = Overrides {
        data_dir: Some("/tmp/x".into()),
        http_addr: Some("127.0.0.1:1".parse().unwrap()),
        grpc_addr: None,
        max_body_bytes: Some(10),
        max_inflight_bytes: Some(2 << 20),
        wal_durability: Some("none".into()),
        retention_metrics: Some("1d".into()),
        memory_limit: Some(512 << 20),
        log_format: None,
        role: None,
    };
    o.apply(&mut c).unwrap();
    c.plan_memory().unwrap();
    assert_eq!(c.memory.limit, 512 << 20);
    assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    assert_eq!(c.http_addr.to_string(), "127.0.0.1:1");
    assert_eq!(c.grpc_addr.to_string(), "0.0.0.0:9091");
    assert_eq!(c.max_body_bytes, 10);
    assert_eq!(c.max_inflight_bytes, 2 << 20);
    assert_eq!(c.engine.wal.durability, Durability::None);
    assert_eq!(
        c.engine.limits.metrics_retention,
        Duration::from_secs(86_400)
    );
    // A tenant with its own retention keeps it.
    assert_eq!(
        c.engine.tenant_limits["acme"].metrics_retention,
        Duration::from_secs(2 * 86_400)
    );
    let bad = Overrides {
        wal_durability: Some("sometimes".into()),
        ..Overrides::default()
    };
    assert!(
        bad.apply(&mut c)
            .unwrap_err()
            .to_string()
            .contains("wal.durability")
    );
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, "[server]\nnope = 1\n").unwrap();
    let err = Config::load(Some(&path), &Overrides::default()).unwrap_err();
    assert!(err.to_string().contains("strata.toml"), "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    let missing = Config::load(Some(&dir.path().join("none.toml")), &Overrides::default());
    assert!(matches!(missing, Err(Error::ReadConfig { .. })));
}

#[test]
fn the_log_format_comes_from_the_file_then_the_flag() {
    assert_eq!(Config::default().log_format, LogFormat::Text);
    let mut c = Config::from_toml("[log]\nformat = \"json\"").unwrap();
    assert_eq!(c.log_format, LogFormat::Json);
    let flag = Overrides {
        log_format: Some(LogFormat::Text),
        ..Overrides::default()
    };
    flag.apply(&mut c).unwrap();
    assert_eq!(c.log_format, LogFormat::Text);
    let err = Config::from_toml("[log]\nformat = \"xml\"").unwrap_err();
    assert!(
        err.to_string().contains("log.format") && err.to_string().contains("\"xml\""),
        "{err}"
    );
    let err = Config::from_toml("[log]\nlevel = \"debug\"").unwrap_err();
    assert!(err.to_string().contains("level"), "{err}");
}

#[test]
fn storage_s3_becomes_the_engines_mirror() {
    let c = Config::from_toml(
        "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nprefix = \"prod/one\"\n\
         endpoint = \"http://127.0.0.1:9000\"\nallow_http = true\n\
         access_key_id = \"k\"\nsecret_access_key = \"s\"\ndelete_grace = \"5m\"\n\
         interval = \"2s\"",
    )
    .unwrap();
    let r = c.engine.remote.as_ref().expect("a mirror");
    assert_eq!(r.prefix, "prod/one");
    assert_eq!(r.delete_grace, Duration::from_secs(300));
    assert_eq!(r.interval, Duration::from_secs(2));
    assert!(r.store.to_string().contains('b'), "{}", r.store);
    assert!(Config::from_toml("").unwrap().engine.remote.is_none());
    assert!(
        Config::from_toml("[storage]\nbackend = \"local\"")
            .unwrap()
            .engine
            .remote
            .is_none()
    );
}

#[test]
fn the_query_role_reads_the_bucket_instead_of_mirroring_to_it() {
    let storage = "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nprefix = \"p\"\n\
                   region = \"us-east-1\"\ninterval = \"3s\"\ncache_bytes = 4096\n\
                   delete_grace = \"1m\"\n";
    // One file for every process: the role decides.
    let c = Config::from_toml(storage).unwrap();
    assert_eq!(c.role, Role::Writer);
    assert!(c.engine.reader.is_none());
    // The writer's local copies become a cache of the same bound.
    assert_eq!(
        c.engine.remote.as_ref().and_then(|r| r.cache_bytes),
        Some(4096)
    );
    let c = Config::from_toml(&format!("{storage}[cluster]\nrole = \"query\"\n")).unwrap();
    assert_eq!(c.role, Role::Query);
    assert!(c.engine.remote.is_none());
    let r = c.engine.reader.as_ref().expect("a reader");
    assert_eq!((r.prefix.as_str(), r.cache_bytes), ("p", 4096));
    assert_eq!(r.refresh, Duration::from_secs(3));
    c.validate().unwrap();

    // `--role query` over the file's role.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strata.toml");
    std::fs::write(&path, storage).unwrap();
    let flag = Overrides {
        role: Some(Role::Query),
        ..Overrides::default()
    };
    let c = Config::load(Some(&path), &flag).unwrap();
    assert!(c.engine.reader.is_some() && c.engine.remote.is_none());
    // Without a file there is no bucket to read.
    let err = Config::load(None, &flag).unwrap_err();
    assert!(err.to_string().contains("backend"), "{err}");
}

#[test]
fn workers_are_a_query_process_setting_and_must_be_urls() {
    let storage = "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nregion = \"us-east-1\"\n";
    let c = Config::from_toml(&format!(
        "{storage}[cluster]\nrole = \"query\"\nworkers = [\"http://10.0.0.2:4317\", \
         \"http://w3:4317\"]\nbytes_per_partition = 1024\n"
    ))
    .unwrap();
    assert_eq!(
        c.sql.query.workers,
        ["http://10.0.0.2:4317", "http://w3:4317"]
    );
    assert_eq!(c.sql.query.bytes_per_partition, 1024);
    c.validate().unwrap();

    // A worker reads the bucket as a query process does.
    let c = Config::from_toml(&format!("{storage}[cluster]\nrole = \"worker\"\n")).unwrap();
    assert_eq!(c.role, Role::Worker);
    assert!(c.engine.reader.is_some() && c.engine.remote.is_none());
    assert!(c.sql.query.workers.is_empty());

    for (cluster, needle) in [
        (
            "role = \"writer\"\nworkers = [\"http://w:1\"]",
            "only a query process",
        ),
        (
            "role = \"worker\"\nworkers = [\"http://w:1\"]",
            "only a query process",
        ),
        ("role = \"query\"\nworkers = [\"w:1\"]", "http://host:port"),
        ("role = \"query\"\nworkers = [\"not a url\"]", "not a URL"),
        (
            "role = \"query\"\nbytes_per_partition = 0",
            "cluster.bytes_per_partition",
        ),
        ("role = \"gateway\"", "\"worker\""),
    ] {
        let err = Config::from_toml(&format!("{storage}[cluster]\n{cluster}\n"))
            .and_then(|c| c.validate().map(|()| c))
            .unwrap_err();
        assert!(err.to_string().contains(needle), "{cluster}: {err}");
    }
}

#[test]
fn the_cluster_token_is_read_from_its_file_for_query_processes_and_workers() {
    let storage = "[storage]\nbackend = \"s3\"\nbucket = \"b\"\nregion = \"us-east-1\"\n";
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("token");
    std::fs::write(&good, "0123456789abcdef-cluster\n").unwrap();
    let short = dir.path().join("short");
    std::fs::write(&short, "abc\n").unwrap();
    for role in ["query", "worker"] {
        let c = Config::from_toml(&format!(
            "{storage}[cluster]\nrole = \"{role}\"\ntoken_file = {:?}\n",
            good.display().to_string()
        ))
        .unwrap();
        let token = c.sql.query.cluster_token.as_ref().expect("a token");
        assert_eq!(token.secret(), "0123456789abcdef-cluster");
        assert!(
            !format!("{c:?}").contains("0123456789abcdef"),
            "Debug shows it"
        );
    }
    let missing = dir.path().join("missing");
    for (cluster, needle) in [
        (
            format!(
                "role = \"writer\"\ntoken_file = {:?}",
                good.display().to_string()
            ),
            "only query processes and workers",
        ),
        (
            format!(
                "role = \"query\"\ntoken_file = {:?}",
                short.display().to_string()
            ),
            "at least 16",
        ),
        (
            format!(
                "role = \"query\"\ntoken_file = {:?}",
                missing.display().to_string()
            ),
            "cannot read",
        ),
    ] {
        let err = Config::from_toml(&format!("{storage}[cluster]\n{cluster}\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("cluster.token_file") && text.contains(needle),
            "{cluster}: {text}"
        );
    }
}

#[test]
fn tls_takes_a_certificate_and_key_or_self_signed() {
    let c = Config::from_toml("[server.tls]\nself_signed = true\n").unwrap();
    assert!(c.tls.as_ref().is_some_and(|t| t.self_signed));
    let c =
        Config::from_toml("[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n").unwrap();
    assert_eq!(
        c.tls.as_ref().map(|t| t.key_file.clone()),
        Some("k.pem".into())
    );
    for (section, needle) in [
        ("self_signed = true\ncert_file = \"c.pem\"", "not both"),
        ("cert_file = \"c.pem\"", "give both"),
        ("", "give both"),
    ] {
        let err = Config::from_toml(&format!("[server.tls]\n{section}\n")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("server.tls") && text.contains(needle),
            "{section}: {text}"
        );
    }
}

#[test]
fn cold_after_comes_from_storage_and_each_tenant_may_set_its_own() {
    let c = Config::from_toml(
        "[storage]\ncold_after = \"36h\"\n[limits.tenants.acme]\ncold_after = \"7d\"\n\
         [limits.tenants.ops]\nmax_active_series = 10\n",
    )
    .unwrap();
    assert_eq!(c.engine.limits.cold_after, Duration::from_secs(36 * 3600));
    let acme = &c.engine.tenant_limits["acme"];
    assert_eq!(acme.cold_after, Duration::from_secs(7 * 86_400));
    let ops = &c.engine.tenant_limits["ops"];
    assert_eq!(
        ops.cold_after,
        Duration::from_secs(36 * 3600),
        "the default"
    );
    assert_eq!(
        Config::from_toml("").unwrap().engine.limits.cold_after,
        Duration::from_secs(86_400)
    );
    // `strata check-config` prints both.
    let view = super::view::redacted_toml(&c);
    assert!(view.contains("cold_after = \"1day 12h\""), "{view}");
    assert!(view.contains("cold_after = \"7days\""), "{view}");
    let err = Config::from_toml("[storage]\ncold_after = \"soon\"\n").unwrap_err();
    assert!(err.to_string().contains("storage.cold_after"), "{err}");
    let err = Config::from_toml("[limits.tenants.acme]\ncold_after = \"x\"\n").unwrap_err();
    assert!(
        err.to_string().contains("limits.tenants.acme.cold_after"),
        "{err}"
    );
}

#[test]
fn retention_filters_take_a_selector_and_a_keep() {
    let c = Config::from_toml(
        "[[retention.filters]]\nmatch = '{__name__=~\"go_.*\"}'\nkeep = \"3d\"\n\
         [[retention.filters]]\nsignal = \"metrics\"\nmatch = 'up{job=\"b\"}'\nkeep = \"10d\"\n",
    )
    .unwrap();
    let f = &c.retention_filters;
    assert_eq!(f.len(), 2);
    assert_eq!(f[0].name, "{__name__=~\"go_.*\"}");
    assert_eq!(f[0].keep, Duration::from_secs(3 * 86_400));
    let series = |i: usize| match &f[i].target {
        strata_engine::FilterTarget::Series(m) => m.len(),
        other => panic!("{other:?}"),
    };
    assert_eq!(series(0), 1);
    assert_eq!(series(1), 2, "the metric name and job");
    let logs = Config::from_toml(
        "[[retention.filters]]\nsignal = \"logs\"\nwhere = \"severity_text = 'DEBUG'\"\nkeep = \"1d\"\n",
    )
    .unwrap();
    assert!(matches!(
        &logs.retention_filters[0].target,
        strata_engine::FilterTarget::Records(strata_engine::RecordSignal::Logs, p)
            if p.conditions.len() == 1
    ));
    assert!(Config::from_toml("").unwrap().retention_filters.is_empty());
    for (text, key) in [
        (
            "[[retention.filters]]\nkeep = \"1d\"\n",
            "retention.filters[0].match",
        ),
        (
            "[[retention.filters]]\nmatch = 'up'\n",
            "retention.filters[0].keep",
        ),
        (
            "[[retention.filters]]\nmatch = 'up'\nkeep = \"soon\"\n",
            "retention.filters[0].keep",
        ),
        (
            "[[retention.filters]]\nmatch = '{job=~\".*\"}'\nkeep = \"1d\"\n",
            "retention.filters[0].match",
        ),
        (
            "[[retention.filters]]\nsignal = \"logs\"\nwhere = \"a = 'x' OR b = 'y'\"\nkeep = \"1d\"\n",
            "retention.filters[0].where",
        ),
        (
            "[[retention.filters]]\nsignal = \"logs\"\nmatch = 'up'\nkeep = \"1d\"\n",
            "retention.filters[0].match",
        ),
        (
            "[[retention.filters]]\nsignal = \"events\"\nmatch = 'up'\nkeep = \"1d\"\n",
            "retention.filters[0].signal",
        ),
        (
            "[[retention.filters]]\nmatch = 'up'\nkeep = \"1d\"\nlimit = 3\n",
            "limit",
        ),
    ] {
        let err = Config::from_toml(text).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
}

#[test]
fn downsampling_tiers_come_from_retention_and_each_tenant_may_set_its_own() {
    let c = Config::from_toml(
        "[[retention.downsampling]]\nafter = \"7d\"\nresolution = \"5m\"\n\
         [[retention.downsampling]]\nafter = \"30d\"\nresolution = \"1h\"\n\
         [[limits.tenants.acme.downsampling]]\nafter = \"2d\"\nresolution = \"1m\"\n\
         match = '{__name__=~\"node_.*\"}'\n\
         [limits.tenants.ops]\nmax_active_series = 10\n",
    )
    .unwrap();
    let tiers = |l: &strata_engine::Limits| -> Vec<(u64, u64)> {
        l.downsampling
            .iter()
            .map(|d| (d.after.as_secs(), d.resolution.as_secs()))
            .collect()
    };
    assert_eq!(
        tiers(&c.engine.limits),
        [(7 * 86_400, 300), (30 * 86_400, 3_600)]
    );
    assert_eq!(tiers(&c.engine.tenant_limits["acme"]), [(2 * 86_400, 60)]);
    assert_eq!(
        tiers(&c.engine.tenant_limits["ops"]),
        tiers(&c.engine.limits),
        "the default"
    );
    assert!(
        Config::from_toml("")
            .unwrap()
            .engine
            .limits
            .downsampling
            .is_empty()
    );
    let view = super::view::redacted_toml(&c);
    assert!(view.contains("[[retention.downsampling]]"), "{view}");
    assert!(view.contains("resolution = \"1h\""), "{view}");
    assert!(
        view.contains("[[limits.tenants.acme.downsampling]]"),
        "{view}"
    );
    let acme = &c.engine.tenant_limits["acme"].downsampling[0];
    assert_eq!(acme.matchers.len(), 1);
    assert_eq!(
        (
            acme.matchers[0].name.as_str(),
            acme.matchers[0].op.as_str(),
            acme.matchers[0].value.as_str()
        ),
        ("__name__", "=~", "node_.*")
    );
    assert!(
        view.contains(r#"match = '{__name__=~"node_.*"}'"#),
        "{view}"
    );
    let err = Config::from_toml(
        "[[retention.downsampling]]\nafter = \"7d\"\nresolution = \"5m\"\nmatch = \"{oops\"\n",
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("retention.downsampling[0].match"),
        "{err}"
    );
    // The engine checks the ladder: 7m is not a multiple of 5m.
    let err = Config::from_toml(
        "[[retention.downsampling]]\nafter = \"7d\"\nresolution = \"5m\"\n\
         [[retention.downsampling]]\nafter = \"30d\"\nresolution = \"7m\"\n",
    )
    .unwrap_err();
    assert!(err.to_string().contains("downsampling"), "{err}");
    let err = Config::from_toml("[[retention.downsampling]]\nafter = \"7d\"\nresolution = \"x\"\n")
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("retention.downsampling[0].resolution"),
        "{err}"
    );
}
