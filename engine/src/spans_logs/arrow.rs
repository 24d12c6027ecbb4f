//! Arrow building blocks shared by the spans and logs layouts: attribute maps (text values
//! plus a types map), ids, timestamps, and typed column access when reading back.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, FixedSizeBinaryArray, MapArray, NullBufferBuilder, StringArray, StructArray,
    TimestampNanosecondArray,
};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::record_batch::RecordBatch;

use crate::model::anyvalue::{AnyValue, Attributes};
use crate::spans_logs::map_chunk::LeafLists;
use crate::storage::parquet_io::bad;
use crate::{Error, Result};

/// Builds an attributes column pair: `attributes` (key -> text form of the value) and
/// `attribute_types` (key -> type name, for non-string values only); see
/// `docs/formats/spans-logs.md`.
///
/// The maps are built from plain byte and offset buffers. A list shared by many rows (a
/// resource's, behind one [`Arc`]) is rendered once per distinct list
/// ([`AttrBuilder::append_shared`]) and copied per row, instead of formatting every
/// entry of every row.
pub(crate) struct AttrBuilder {
    kv: MapParts,
    types: MapParts,
    /// Shared lists already rendered, by address (the rows, and so the lists, are borrowed
    /// for the whole build, so an address names one list), and the last one looked up.
    rendered: HashMap<*const Attributes, usize, BuildHasherDefault<AddrHasher>>,
    blocks: Vec<(MapParts, MapParts)>,
    last: Option<(*const Attributes, usize)>,
}

impl AttrBuilder {
    pub(crate) fn new() -> Self {
        Self {
            kv: MapParts::default(),
            types: MapParts::default(),
            rendered: HashMap::default(),
            blocks: Vec::new(),
            last: None,
        }
    }

    /// A builder that will take `rows` rows, its buffers sized from the first
    /// [`SIZING_SAMPLE`] of `lists` (the lists to come, or a sample of them): no buffer is
    /// regrown and copied while the rows are appended, if the sample is representative.
    pub(crate) fn for_rows<'a>(
        rows: usize,
        lists: impl ExactSizeIterator<Item = &'a Attributes>,
    ) -> Self {
        let lists = lists.take(SIZING_SAMPLE);
        let sampled = lists.len().max(1);
        let (mut entries, mut keys, mut values) = (0usize, 0usize, 0usize);
        for attrs in lists {
            entries += attrs.len();
            for (k, v) in attrs {
                keys += k.len();
                values += match v {
                    AnyValue::String(s) => s.len(),
                    _ => 8,
                };
            }
        }
        let scale = |n: usize| n.saturating_mul(rows) / sampled;
        let mut b = Self::new();
        b.kv.rows.reserve(rows);
        b.types.rows.reserve(rows);
        b.kv.keys.reserve(scale(entries), scale(keys));
        b.kv.values.reserve(scale(entries), scale(values));
        b
    }

    /// Appends one row's attributes.
    pub(crate) fn append(&mut self, attrs: &Attributes) -> Result<()> {
        self.append_unless(attrs, |_, _| false)
    }

    /// Appends one row's attributes but those `skip` names (stored elsewhere).
    pub(crate) fn append_unless(
        &mut self,
        attrs: &Attributes,
        skip: impl Fn(&str, &AnyValue) -> bool,
    ) -> Result<()> {
        for (k, v) in attrs {
            if !skip(k, v) {
                render_one(k, v, &mut self.kv, &mut self.types)?;
            }
        }
        self.kv.end_row();
        self.types.end_row();
        Ok(())
    }

    /// Appends one row's attributes from a list many rows share (a resource's behind its
    /// [`Arc`], a scope's in its scope's): the same column values as
    /// [`AttrBuilder::append`], the text rendered once per distinct list.
    pub(crate) fn append_shared(&mut self, attrs: &Attributes) -> Result<()> {
        let ptr: *const Attributes = attrs;
        let at = match self.last {
            Some((p, at)) if p == ptr => at,
            _ => {
                let at = match self.rendered.get(&ptr) {
                    Some(&at) => at,
                    None => {
                        let (mut kv, mut types) = (MapParts::default(), MapParts::default());
                        render(attrs, &mut kv, &mut types)?;
                        self.blocks.push((kv, types));
                        self.rendered.insert(ptr, self.blocks.len() - 1);
                        self.blocks.len() - 1
                    }
                };
                self.last = Some((ptr, at));
                at
            }
        };
        let (kv, types) = &self.blocks[at];
        self.kv.extend(kv);
        self.types.extend(types);
        self.kv.end_row();
        self.types.end_row();
        Ok(())
    }

    /// The two map arrays.
    pub(crate) fn finish(self) -> Result<(ArrayRef, ArrayRef)> {
        Ok((self.kv.finish()?, self.types.finish()?))
    }

    /// The two maps as `maps` asks: built, or as many empty rows in the arrays and the
    /// entries handed back rendered instead (an empty [`RenderedRows`] when built).
    pub(crate) fn finish_as(
        self,
        maps: AttributeMaps,
    ) -> Result<(ArrayRef, ArrayRef, RenderedRows)> {
        match maps {
            AttributeMaps::Built => {
                let (kv, types) = self.finish()?;
                Ok((kv, types, RenderedRows::default()))
            }
            AttributeMaps::Deferred => {
                let empty = || MapParts {
                    rows: vec![0; self.kv.rows.len()],
                    ..MapParts::default()
                };
                let (kv, types) = (empty().finish()?, empty().finish()?);
                Ok((
                    kv,
                    types,
                    RenderedRows {
                        kv: self.kv,
                        types: self.types,
                    },
                ))
            }
        }
    }
}

/// Lists [`AttrBuilder::for_rows`] sizes its buffers from at most: a sample, so that
/// sizing does not walk every record of a batch once more.
const SIZING_SAMPLE: usize = 64;

/// Hashes the address [`AttrBuilder`] looks a shared list up by: rows sorted by trace
/// alternate between lists, so the lookup runs for nearly every row, and SipHash of a
/// pointer cost more than the rest of it.
#[derive(Default)]
struct AddrHasher(u64);

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_usize(usize::from(*b) ^ self.0 as usize);
        }
    }

    fn write_usize(&mut self, n: usize) {
        let x = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Renders `attrs` as entries of `kv` and `types` (no row end).
fn render(attrs: &Attributes, kv: &mut MapParts, types: &mut MapParts) -> Result<()> {
    for (k, v) in attrs {
        render_one(k, v, kv, types)?;
    }
    Ok(())
}

/// Appends one attribute's entries (to `types` only when its value is not a string).
#[inline]
fn render_one(k: &str, v: &AnyValue, kv: &mut MapParts, types: &mut MapParts) -> Result<()> {
    kv.keys.push(k);
    v.write_text(&mut ByteWriter(&mut kv.values.bytes))
        .map_err(mem)?;
    kv.values.end_value();
    if let Some(t) = v.type_name() {
        types.keys.push(k);
        types.values.push(t);
    }
    Ok(())
}

/// Whether a batch holds its rows' attribute maps, or leaves them empty for a writer that
/// encodes them itself (`spans_logs/writer.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AttributeMaps {
    /// Built, as any reader expects.
    Built,
    /// Every row's maps empty: the resource maps (the writer encodes them from the shared
    /// lists) and the rows' own attribute maps, handed back rendered ([`RenderedRows`]).
    /// Maps inside events and links are built.
    Deferred,
}

/// Attribute maps rendered as the rows of [`AttrBuilder`] hold them (the entries of their
/// `attributes` and `attribute_types` maps, row by row), for writers that encode the maps
/// themselves (`spans_logs/map_chunk/`): the rows' own maps of a batch built with
/// [`AttributeMaps::Deferred`], or one shared list as a single row
/// ([`RenderedRows::of_list`]).
#[derive(Default)]
pub(crate) struct RenderedRows {
    kv: MapParts,
    types: MapParts,
}

impl RenderedRows {
    /// One shared list, rendered once, as one row.
    pub(crate) fn of_list(attrs: &Attributes) -> Result<Self> {
        let (mut kv, mut types) = (MapParts::default(), MapParts::default());
        render(attrs, &mut kv, &mut types)?;
        kv.end_row();
        types.end_row();
        Ok(Self { kv, types })
    }

    /// Appends one leaf's strings to `out`, one list per row: of the `attribute_types` map
    /// if `types` (else `attributes`), its values if `values` (else its keys).
    pub(crate) fn push_leaf<'a>(&'a self, types: bool, values: bool, out: &mut LeafLists<'a>) {
        let map = if types { &self.types } else { &self.kv };
        let part = if values { &map.values } else { &map.keys };
        let (mut start, mut entry) = (0usize, 0usize);
        for &row_end in &map.rows {
            for &end in &part.ends[entry..row_end as usize] {
                out.push(&part.bytes[start..end as usize]);
                start = end as usize;
            }
            entry = row_end as usize;
            out.end_list();
        }
    }

    /// Entries of the `attributes` map (`types`: of `attribute_types`).
    pub(crate) fn entries(&self, types: bool) -> usize {
        if types {
            self.types.keys.ends.len()
        } else {
            self.kv.keys.ends.len()
        }
    }
}

/// `fmt::Write` into a byte buffer (only whole `&str`s are written, so it stays UTF-8).
struct ByteWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for ByteWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// A utf8 column under construction: concatenated UTF-8 bytes and value end offsets.
#[derive(Default)]
struct Utf8Parts {
    bytes: Vec<u8>,
    /// End offset of each value (the start of the first is 0).
    ends: Vec<i32>,
}

impl Utf8Parts {
    fn reserve(&mut self, values: usize, bytes: usize) {
        self.ends.reserve(values);
        self.bytes.reserve(bytes);
    }

    fn push(&mut self, v: &str) {
        self.bytes.extend_from_slice(v.as_bytes());
        self.end_value();
    }

    /// Ends the value written into `bytes` since the last end. Offsets past `i32::MAX`
    /// wrap here and are refused by [`Utf8Parts::finish`], which checks the length.
    fn end_value(&mut self) {
        self.ends.push(self.bytes.len() as i32);
    }

    /// Appends every value of `other` (offsets wrap as in [`Utf8Parts::end_value`]).
    fn extend(&mut self, other: &Utf8Parts) {
        let base = self.bytes.len() as i32;
        self.bytes.extend_from_slice(&other.bytes);
        self.ends
            .extend(other.ends.iter().map(|e| base.wrapping_add(*e)));
    }

    fn finish(self) -> Result<ArrayRef> {
        // The bytes only grow, so if their total fits an i32 offset, no offset wrapped.
        if i32::try_from(self.bytes.len()).is_err() {
            return Err(mem(format!(
                "{} bytes of attribute text in one batch, over a utf8 column's 2 GiB",
                self.bytes.len()
            )));
        }
        let mut offsets = Vec::with_capacity(self.ends.len() + 1);
        offsets.push(0i32);
        offsets.extend(self.ends);
        debug_assert!(std::str::from_utf8(&self.bytes).is_ok());
        // Checked, the offsets in O(values) and every byte as UTF-8, the build took ~2.6%
        // of a span flush's instructions (`docs/benchmarks-history.md`) to re-prove what holds by
        // construction.
        #[allow(unsafe_code)]
        // Safety: `bytes` only ever receives whole `&str`s (`push` takes one, `render`'s
        // `ByteWriter` is given whole ones by `fmt::Write`, `extend` copies another
        // `Utf8Parts`), so it is valid UTF-8, and each value ends where one of those
        // strings ended, on a char boundary. The offsets start at 0, never decrease (each
        // is the buffer's length when a value ended) and the last is `bytes.len()`; none
        // wrapped, as `bytes.len()` fits an i32 (checked above). No nulls.
        let array = unsafe {
            StringArray::new_unchecked(
                OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)),
                Buffer::from_vec(self.bytes),
                None,
            )
        };
        Ok(Arc::new(array))
    }
}

/// A `map<utf8, utf8>` column under construction, laid out as `MapBuilder` lays it out
/// (fields `entries`, `keys`, `values`; no nulls).
#[derive(Default)]
struct MapParts {
    keys: Utf8Parts,
    values: Utf8Parts,
    /// End (entry index) of each row.
    rows: Vec<i32>,
}

impl MapParts {
    fn extend(&mut self, other: &MapParts) {
        self.keys.extend(&other.keys);
        self.values.extend(&other.values);
    }

    /// Ends a row; entry counts past `i32::MAX` wrap and are refused by `finish`.
    fn end_row(&mut self) {
        self.rows.push(self.keys.ends.len() as i32);
    }

    fn finish(self) -> Result<ArrayRef> {
        if i32::try_from(self.keys.ends.len()).is_err() {
            return Err(mem(format!(
                "{} attribute entries in one batch, over a map column's i32 offsets",
                self.keys.ends.len()
            )));
        }
        let mut offsets = Vec::with_capacity(self.rows.len() + 1);
        offsets.push(0i32);
        offsets.extend(self.rows);
        let keys = Arc::new(Field::new("keys", DataType::Utf8, false));
        let values = Arc::new(Field::new("values", DataType::Utf8, true));
        let entries = StructArray::from(vec![
            (keys, self.keys.finish()?),
            (values, self.values.finish()?),
        ]);
        let field = Arc::new(Field::new("entries", entries.data_type().clone(), false));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        let map = MapArray::try_new(field, offsets, entries, None, false).map_err(mem)?;
        Ok(Arc::new(map))
    }
}

/// An error building an in-memory batch.
pub(crate) fn mem(e: impl std::fmt::Display) -> Error {
    bad(Path::new("<memory>"), e)
}

/// Reads row `i` of an attributes column pair back.
pub(crate) fn read_attrs(kv: &MapArray, types: &MapArray, i: usize) -> Result<Attributes, String> {
    let strings = |m: &MapArray, col: usize| -> Result<StringArray, String> {
        m.value(i)
            .column(col)
            .as_any()
            .downcast_ref::<StringArray>()
            .cloned()
            .ok_or_else(|| "an attributes map is not utf8 -> utf8".to_owned())
    };
    let (keys, values) = (strings(kv, 0)?, strings(kv, 1)?);
    let (tkeys, tvalues) = (strings(types, 0)?, strings(types, 1)?);
    let type_of = |k: &str| (0..tkeys.len()).find(|&j| tkeys.value(j) == k);
    (0..keys.len())
        .map(|j| {
            let k = keys.value(j);
            let t = type_of(k).map(|j| tvalues.value(j));
            let v = AnyValue::from_text(values.value(j), t).map_err(|e| e.to_string())?;
            Ok((k.to_owned(), v))
        })
        .collect()
}

/// A column of a batch under construction: name, array, nullable.
pub(crate) type Column = (&'static str, ArrayRef, bool);

/// An id column (`FixedSizeBinary(N)`) under construction: the ids' bytes one after
/// another, zeros in a null row.
pub(crate) struct IdColumn<const N: usize> {
    bytes: Vec<u8>,
    valid: NullBufferBuilder,
}

impl<const N: usize> IdColumn<N> {
    pub(crate) fn with_capacity(rows: usize) -> Self {
        Self {
            bytes: Vec::with_capacity(rows * N),
            valid: NullBufferBuilder::new(rows),
        }
    }

    /// Appends one row: the id, or null.
    pub(crate) fn push(&mut self, id: Option<[u8; N]>) {
        match id {
            Some(id) => {
                self.bytes.extend_from_slice(&id);
                self.valid.append_non_null();
            }
            None => {
                self.bytes.extend_from_slice(&[0; N]);
                self.valid.append_null();
            }
        }
    }

    pub(crate) fn finish(mut self) -> Result<ArrayRef> {
        let nulls = self.valid.finish();
        let array = FixedSizeBinaryArray::try_new(N as i32, Buffer::from_vec(self.bytes), nulls)
            .map_err(mem)?;
        Ok(Arc::new(array))
    }
}

/// A UTC nanosecond timestamp column; `nulls` marks the rows without a time.
pub(crate) fn times(values: Vec<i64>, nulls: Option<NullBuffer>) -> ArrayRef {
    Arc::new(TimestampNanosecondArray::new(ScalarBuffer::from(values), nulls).with_timezone("UTC"))
}

/// A batch of `cols` (name, array, nullable) in order.
pub(crate) fn batch_of(cols: Vec<(&str, ArrayRef, bool)>) -> Result<RecordBatch> {
    let fields: Vec<Field> = cols
        .iter()
        .map(|(name, a, nullable)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect();
    let arrays = cols.into_iter().map(|c| c.1).collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(mem)
}

/// The fields of `cols` (name, array, nullable), for a struct column.
pub(crate) fn fields_of(cols: &[(&str, ArrayRef, bool)]) -> Vec<Field> {
    cols.iter()
        .map(|(name, a, nullable)| Field::new(*name, a.data_type().clone(), *nullable))
        .collect()
}

/// Typed access to the columns of a batch read back, by name; errors name the file.
pub(crate) struct Cols<'a> {
    pub(crate) batch: &'a RecordBatch,
    pub(crate) path: &'a Path,
}

impl<'a> Cols<'a> {
    pub(crate) fn get<T: 'static>(&self, name: &str) -> Result<&'a T> {
        self.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<T>())
            .ok_or_else(|| bad(self.path, format!("column {name} is missing or mistyped")))
    }

    pub(crate) fn id<const N: usize>(
        &self,
        a: &FixedSizeBinaryArray,
        i: usize,
    ) -> Result<Option<[u8; N]>> {
        if a.is_null(i) {
            return Ok(None);
        }
        a.value(i)
            .try_into()
            .map(Some)
            .map_err(|_| bad(self.path, format!("an id is not {N} bytes")))
    }

    pub(crate) fn bad(&self, e: impl std::fmt::Display) -> Error {
        bad(self.path, e)
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{MapBuilder, StringBuilder};

    use super::*;

    /// The column pair as arrow's own `MapBuilder` builds it (the layout files had before
    /// the buffers were built by hand).
    fn with_map_builder(rows: &[&Attributes]) -> (ArrayRef, ArrayRef) {
        let new = || MapBuilder::new(None, StringBuilder::new(), StringBuilder::new());
        let (mut kv, mut types) = (new(), new());
        for attrs in rows {
            for (k, v) in attrs.iter() {
                kv.keys().append_value(k);
                kv.values().append_value(v.to_text());
                if let Some(t) = v.type_name() {
                    types.keys().append_value(k);
                    types.values().append_value(t);
                }
            }
            kv.append(true).unwrap();
            types.append(true).unwrap();
        }
        (Arc::new(kv.finish()), Arc::new(types.finish()))
    }

    #[test]
    fn attribute_maps_match_arrows_map_builder_shared_or_not() {
        let a: Arc<Attributes> = Arc::new(vec![
            ("service.name".into(), AnyValue::String("api".into())),
            ("pid".into(), AnyValue::Int(-42)),
            ("ratio".into(), AnyValue::Double(0.5)),
            ("blob".into(), AnyValue::Bytes(vec![0, 255])),
            ("ok".into(), AnyValue::Bool(true)),
            (
                "list".into(),
                AnyValue::Array(vec![AnyValue::Int(1), AnyValue::String("é".into())]),
            ),
        ]);
        let b: Arc<Attributes> = Arc::new(vec![("k".into(), AnyValue::String(String::new()))]);
        let empty: Arc<Attributes> = Arc::default();
        // An equal list behind another Arc renders the same.
        let a2 = Arc::new((*a).clone());
        let rows = [&a, &a, &b, &empty, &a, &a2, &b, &empty, &empty];
        let (mut shared, mut plain) = (AttrBuilder::new(), AttrBuilder::new());
        for r in rows {
            shared.append_shared(r).unwrap();
            plain.append(r).unwrap();
        }
        let want = with_map_builder(&rows.map(|r| &**r));
        let (shared, plain) = (shared.finish().unwrap(), plain.finish().unwrap());
        assert_eq!(shared.0.to_data(), want.0.to_data());
        assert_eq!(shared.1.to_data(), want.1.to_data());
        assert_eq!(plain.0.to_data(), want.0.to_data());
        assert_eq!(plain.1.to_data(), want.1.to_data());
        assert_eq!(shared.0.data_type(), want.0.data_type());
        let kv = shared.0.as_any().downcast_ref::<MapArray>().unwrap();
        let types = shared.1.as_any().downcast_ref::<MapArray>().unwrap();
        assert_eq!(read_attrs(kv, types, 5).unwrap(), *a);
        assert_eq!(read_attrs(kv, types, 8).unwrap(), Vec::new());
    }
}
