//! Golden-file SQL tests: every `.slt` file under `tests/slt/` runs with the `sqllogictest`
//! crate against the shared dataset (`common::dataset`: Parquet file sets and memory).
//!
//! Each file runs as tenant `acme` with `SqlConfig::for_tests()`, except files named
//! `tenant_beta*.slt` (tenant `beta`), `histograms*.slt` (tenant `hist`) and `memory_limit*.slt` (a 1 MiB memory budget).
//! Values print as Arrow's display does (`NaN`, `inf`, `-inf`, timestamps in RFC 3339).
//!
//! `STRATA_SLT_COMPLETE=1 cargo test -p strata-query --test sql_logic` rewrites the
//! expected results from what the queries return (then review the diff by hand).

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{DBOutput, DefaultColumnType};
use strata_engine::TenantId;
use strata_query::Strata;
use strata_query::sql::SqlConfig;

struct Conn {
    db: Arc<Strata>,
    tenant: TenantId,
}

impl sqllogictest::DB for Conn {
    type Error = strata_query::Error;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, Self::Error> {
        let batches = self.db.sql(&self.tenant, sql)?;
        let Some(first) = batches.first() else {
            return Ok(DBOutput::Rows {
                types: Vec::new(),
                rows: Vec::new(),
            });
        };
        let types = first
            .schema()
            .fields()
            .iter()
            .map(|f| match f.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
                    DefaultColumnType::Text
                }
                t if t.is_integer() => DefaultColumnType::Integer,
                t if t.is_floating() => DefaultColumnType::FloatingPoint,
                _ => DefaultColumnType::Any,
            })
            .collect();
        let options = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for batch in &batches {
            let formatters = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| strata_query::sql::Error::Execution(e.to_string()))?;
            for row in 0..batch.num_rows() {
                rows.push(
                    formatters
                        .iter()
                        .map(|f| f.value(row).to_string())
                        .collect(),
                );
            }
        }
        Ok(DBOutput::Rows { types, rows })
    }
}

fn slt_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .map(|e| e.expect("readable dir").path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[test]
fn slt_files_pass() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = common::dataset(dir.path());
    let files = slt_files();
    assert!(files.len() >= 8, "expected the .slt files, found {files:?}");
    let mut failures = Vec::new();
    for file in &files {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let tenant = if name.starts_with("tenant_beta") {
            common::beta()
        } else if name.starts_with("histograms") {
            common::histograms::hist()
        } else {
            common::acme()
        };
        let mut sql = SqlConfig::for_tests();
        if name.starts_with("memory_limit") {
            sql.memory_pool_bytes = 1 << 20;
        }
        let db = Arc::new(common::handle(engine.clone(), sql));
        let mut runner = sqllogictest::Runner::new(|| {
            let conn = Conn {
                db: db.clone(),
                tenant: tenant.clone(),
            };
            async move { Ok::<_, strata_query::Error>(conn) }
        });
        if std::env::var_os("STRATA_SLT_COMPLETE").is_some() {
            let update = runner.update_test_file(
                file,
                " ",
                sqllogictest::default_validator,
                sqllogictest::default_normalizer,
                sqllogictest::default_column_validator,
            );
            if let Err(e) = futures::executor::block_on(update) {
                failures.push(format!("{}: {e}", file.display()));
            }
            continue;
        }
        if let Err(e) = runner.run_file(file) {
            failures.push(format!("{}: {e}", file.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
