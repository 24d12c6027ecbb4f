//! `alp-probe`: what Parquet's ALP encoding (encoding 10, "Adaptive Lossless
//! floating-Point") would do to Strata's metrics samples files.
//!
//! Strata's workspace is held at arrow/parquet 59 by DataFusion 55; parquet 60 encodes and
//! decodes ALP. This tool is its own Cargo workspace (excluded from the root one, with its
//! own `Cargo.lock`; CI does not build it), so it can use parquet 60 without a second
//! columnar stack in the engine's graph. It reads every `samples-*.parquet` under a
//! directory (parquet 60 reads the files parquet 59 writes), rewrites each in memory with
//! the engine's settings for `series_id` and `ts` and three settings for `value`, checks
//! that every variant reads back bit for bit, and prints the bytes per sample:
//!
//! - `bss+zstd`: BYTE_STREAM_SPLIT and zstd, what the engine writes;
//! - `alp`: ALP, uncompressed;
//! - `alp+zstd`: ALP, then zstd.
//!
//! The other files of the directory (series and index tables, manifests) are counted as
//! they are, so "dir B/sample" is the whole `metrics/` directory with that value column.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/alp-target cargo run --release --locked -- \
//!     DATA_DIR/metrics [--zstd 3] [--page-rows 8192] [--value-page-rows N]
//! ```
//!
//! `--zstd` is the level of every column's zstd (the engine: 3 at flush, see
//! `docs/formats/partitions.md` for compaction); `--page-rows` the rows per data page;
//! `--value-page-rows` lets `value` pages grow beyond that while `series_id` pages keep
//! `--page-rows` rows (64 KiB of PLAIN ids per 8,192 rows). Figures and the command used
//! for them: `docs/benchmarks.md`, "Disk".

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::{
    Array, ArrayRef, Float64Array, RecordBatch, TimestampMillisecondArray, UInt64Array,
};
use arrow_schema::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::schema::types::ColumnPath;

/// What can go wrong, with the file it happened on.
#[derive(Debug, thiserror::Error)]
enum ProbeError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: parquet: {source}")]
    Parquet { path: PathBuf, source: ParquetError },
    #[error("{path}: arrow: {source}")]
    Arrow { path: PathBuf, source: ArrowError },
    #[error("{path}: column {index} is not {expected} (not a Strata samples file?)")]
    Column {
        path: PathBuf,
        index: usize,
        expected: &'static str,
    },
    #[error("{path}: variant {variant} reads back differently from the file at row {row}")]
    Mismatch {
        path: PathBuf,
        variant: &'static str,
        row: usize,
    },
    #[error("{0}\nusage: alp-probe DIR [--zstd LEVEL] [--page-rows N] [--value-page-rows N]")]
    Usage(String),
}

type Result<T> = std::result::Result<T, ProbeError>;

/// The probe's settings, from the command line.
struct Options {
    dir: PathBuf,
    zstd: i32,
    page_rows: usize,
    value_page_rows: usize,
}

/// The value column's settings a variant writes.
#[derive(Clone, Copy)]
struct Variant {
    name: &'static str,
    encoding: Encoding,
    compressed: bool,
}

const VARIANTS: [Variant; 3] = [
    Variant {
        name: "bss+zstd",
        encoding: Encoding::BYTE_STREAM_SPLIT,
        compressed: true,
    },
    Variant {
        name: "alp",
        encoding: Encoding::ALP,
        compressed: false,
    },
    Variant {
        name: "alp+zstd",
        encoding: Encoding::ALP,
        compressed: true,
    },
];

/// Sizes and times summed over the files, for one variant.
#[derive(Default, Clone, Copy)]
struct Totals {
    file_bytes: u64,
    value_bytes: u64,
    encode_secs: f64,
    decode_secs: f64,
}

/// One samples file's rows, column by column.
struct Rows {
    ids: Vec<u64>,
    ts: Vec<i64>,
    values: Vec<f64>,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("alp-probe: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<()> {
    let opts = parse_args(std::env::args().skip(1).collect())?;
    let mut files = Vec::new();
    let mut other_bytes = 0u64;
    walk(&opts.dir, &mut files, &mut other_bytes)?;
    files.sort();
    if files.is_empty() {
        return Err(ProbeError::Usage(format!(
            "no samples-*.parquet under {}",
            opts.dir.display()
        )));
    }
    let (mut rows_total, mut stored, mut stored_value) = (0u64, 0u64, 0u64);
    let mut totals = [Totals::default(); VARIANTS.len()];
    for path in &files {
        let file = bytes::Bytes::from(read(path)?);
        stored += file.len() as u64;
        stored_value += value_column_bytes(path, file.clone())?;
        let rows = read_rows(path, file)?;
        rows_total += rows.ids.len() as u64;
        for (v, t) in VARIANTS.iter().zip(totals.iter_mut()) {
            let start = Instant::now();
            let bytes = encode(path, &rows, props(&opts, *v))?;
            t.encode_secs += start.elapsed().as_secs_f64();
            t.file_bytes += bytes.len() as u64;
            t.value_bytes += value_column_bytes(path, bytes.clone())?;
            let start = Instant::now();
            let back = read_rows(path, bytes)?;
            t.decode_secs += start.elapsed().as_secs_f64();
            check_same(path, v.name, &rows, &back)?;
        }
    }
    let per = |b: u64| b as f64 / rows_total as f64;
    println!(
        "{} samples files, {} rows (samples); other files {} bytes ({:.3} B/sample)",
        files.len(),
        rows_total,
        other_bytes,
        per(other_bytes)
    );
    println!(
        "zstd {}, {} rows per page, value pages of up to {} rows",
        opts.zstd, opts.page_rows, opts.value_page_rows
    );
    println!();
    println!(
        "| value column | value B/sample | samples files B/sample | dir B/sample | encode s | decode s |"
    );
    println!("|---|---:|---:|---:|---:|---:|");
    println!(
        "| as stored | {:.3} | {:.3} | {:.3} | | |",
        per(stored_value),
        per(stored),
        per(stored + other_bytes)
    );
    for (v, t) in VARIANTS.iter().zip(totals) {
        println!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.2} | {:.2} |",
            v.name,
            per(t.value_bytes),
            per(t.file_bytes),
            per(t.file_bytes + other_bytes),
            t.encode_secs,
            t.decode_secs
        );
    }
    println!();
    println!("every variant read back bit for bit (series_id, ts, value)");
    Ok(())
}

fn parse_args(args: Vec<String>) -> Result<Options> {
    let mut dir = None;
    let (mut zstd, mut page_rows, mut value_page_rows) = (3, 8192, None);
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<usize> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| ProbeError::Usage(format!("{name} takes a number")))
        };
        match a.as_str() {
            "--zstd" => zstd = number("--zstd")? as i32,
            "--page-rows" => page_rows = number("--page-rows")?,
            "--value-page-rows" => value_page_rows = Some(number("--value-page-rows")?),
            "-h" | "--help" => return Err(ProbeError::Usage(String::new())),
            other if other.starts_with("--") => {
                return Err(ProbeError::Usage(format!("unknown option {other}")));
            }
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let dir = dir.ok_or_else(|| ProbeError::Usage("DIR is required".into()))?;
    if ZstdLevel::try_new(zstd).is_err() {
        return Err(ProbeError::Usage(format!(
            "zstd level {zstd} is out of range"
        )));
    }
    Ok(Options {
        dir,
        zstd,
        page_rows,
        value_page_rows: value_page_rows.unwrap_or(page_rows).max(page_rows),
    })
}

/// Samples files under `dir` into `files`; the bytes of every other file into `other`.
fn walk(dir: &Path, files: &mut Vec<PathBuf>, other: &mut u64) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|source| io(dir, source))? {
        let entry = entry.map_err(|source| io(dir, source))?;
        let path = entry.path();
        let meta = entry.metadata().map_err(|source| io(&path, source))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if meta.is_dir() {
            walk(&path, files, other)?;
        } else if name.starts_with("samples-") && name.ends_with(".parquet") {
            files.push(path);
        } else {
            *other += meta.len();
        }
    }
    Ok(())
}

/// The writer settings of a variant: the engine's for `series_id` (PLAIN) and `ts`
/// (DELTA_BINARY_PACKED), page statistics, no dictionaries; `value` as `v` says.
fn props(opts: &Options, v: Variant) -> WriterProperties {
    let zstd = Compression::ZSTD(ZstdLevel::try_new(opts.zstd).unwrap_or_default());
    let value = || ColumnPath::from("value");
    let mut b = WriterProperties::builder()
        .set_compression(zstd)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_dictionary_enabled(false)
        .set_data_page_row_count_limit(opts.value_page_rows)
        .set_column_data_page_size_limit(ColumnPath::from("series_id"), opts.page_rows * 8)
        .set_column_data_page_size_limit(value(), opts.value_page_rows * 8 + 1)
        .set_column_encoding(ColumnPath::from("series_id"), Encoding::PLAIN)
        .set_column_encoding(ColumnPath::from("ts"), Encoding::DELTA_BINARY_PACKED)
        .set_column_encoding(value(), v.encoding);
    if !v.compressed {
        b = b.set_column_compression(value(), Compression::UNCOMPRESSED);
    }
    b.build()
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| io(path, source))
}

fn io(path: &Path, source: std::io::Error) -> ProbeError {
    ProbeError::Io {
        path: path.to_owned(),
        source,
    }
}

fn pq(path: &Path) -> impl FnOnce(ParquetError) -> ProbeError + '_ {
    move |source| ProbeError::Parquet {
        path: path.to_owned(),
        source,
    }
}

fn arrow(path: &Path) -> impl FnOnce(ArrowError) -> ProbeError + '_ {
    move |source| ProbeError::Arrow {
        path: path.to_owned(),
        source,
    }
}

/// Compressed bytes of the `value` column chunks of a Parquet file (held in `bytes`).
fn value_column_bytes(path: &Path, bytes: bytes::Bytes) -> Result<u64> {
    let reader = SerializedFileReader::new(bytes).map_err(pq(path))?;
    let mut total = 0;
    for rg in reader.metadata().row_groups() {
        for c in rg.columns() {
            if c.column_path().string() == "value" {
                total += c.compressed_size() as u64;
            }
        }
    }
    Ok(total)
}

/// Every row of a samples file (held in `bytes`).
fn read_rows(path: &Path, bytes: bytes::Bytes) -> Result<Rows> {
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .and_then(|b| b.with_batch_size(64 * 1024).build())
        .map_err(pq(path))?;
    let mut rows = Rows {
        ids: Vec::new(),
        ts: Vec::new(),
        values: Vec::new(),
    };
    for batch in reader {
        let batch = batch.map_err(arrow(path))?;
        rows.ids
            .extend(column::<UInt64Array>(path, &batch, 0, "UInt64")?.values());
        rows.ts.extend(
            column::<TimestampMillisecondArray>(path, &batch, 1, "Timestamp(ms)")?.values(),
        );
        rows.values
            .extend(column::<Float64Array>(path, &batch, 2, "Float64")?.values());
    }
    Ok(rows)
}

fn column<'a, T: 'static>(
    path: &Path,
    batch: &'a RecordBatch,
    index: usize,
    expected: &'static str,
) -> Result<&'a T> {
    batch
        .columns()
        .get(index)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| ProbeError::Column {
            path: path.to_owned(),
            index,
            expected,
        })
}

/// `rows` as one samples file with `props`, handed to the writer 64 k rows at a time (as
/// the engine's flush and compaction do).
fn encode(path: &Path, rows: &Rows, props: WriterProperties) -> Result<bytes::Bytes> {
    let ids: ArrayRef = Arc::new(UInt64Array::from(rows.ids.clone()));
    let ts: ArrayRef =
        Arc::new(TimestampMillisecondArray::from(rows.ts.clone()).with_timezone("UTC"));
    let values: ArrayRef = Arc::new(Float64Array::from(rows.values.clone()));
    let batch = RecordBatch::try_from_iter([("series_id", ids), ("ts", ts), ("value", values)])
        .map_err(arrow(path))?;
    let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(props)).map_err(pq(path))?;
    let n = batch.num_rows();
    for start in (0..n).step_by(64 * 1024) {
        w.write(&batch.slice(start, (64 * 1024).min(n - start)))
            .map_err(pq(path))?;
    }
    Ok(bytes::Bytes::from(w.into_inner().map_err(pq(path))?))
}

/// Fails unless `back` holds exactly `rows` (values compared bit for bit: NaNs included).
fn check_same(path: &Path, variant: &'static str, rows: &Rows, back: &Rows) -> Result<()> {
    let n = rows.ids.len();
    let mismatch = |row| ProbeError::Mismatch {
        path: path.to_owned(),
        variant,
        row,
    };
    if back.ids.len() != n || back.ts.len() != n || back.values.len() != n {
        return Err(mismatch(n.min(back.ids.len())));
    }
    for i in 0..n {
        if rows.ids[i] != back.ids[i]
            || rows.ts[i] != back.ts[i]
            || rows.values[i].to_bits() != back.values[i].to_bits()
        {
            return Err(mismatch(i));
        }
    }
    Ok(())
}
