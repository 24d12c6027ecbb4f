//! The codec `datafusion-distributed` sends Strata's own plans to workers with, so that a
//! stage holding one can run on a worker instead of in the query process
//! ([`super`]). It encodes [`DedupExec`], the merge of overlapping sample sets,
//! with the plans it reads inside it. The line lookup (`LineLookupExec`) has none: its
//! searches run while the query process plans, so only their found rows would be left to
//! send.
//!
//! An encoded node is a kind byte, then length-prefixed sections (a little-endian `u32`
//! length, then the bytes). For [`DedupExec`]: a JSON header with the projection and the
//! files, then each source as `datafusion-proto` bytes, oldest first.

use std::any::Any;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::{
    physical_plan_from_bytes_with_proto_converter, physical_plan_to_bytes_with_proto_converter,
};
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use serde_json::{Value, json};

use crate::sql::scan::dedup::DedupExec;

/// The kind byte of an encoded [`DedupExec`].
const DEDUP: u8 = 1;

/// Encodes and decodes Strata's own execution plans for workers.
#[derive(Debug)]
pub(crate) struct StrataCodec;

fn bad(what: impl std::fmt::Display) -> DataFusionError {
    DataFusionError::Internal(format!("a Strata plan sent to a worker: {what}"))
}

/// Appends `bytes` as one section.
fn put(buf: &mut Vec<u8>, bytes: &[u8]) -> Result<()> {
    let len = u32::try_from(bytes.len()).map_err(|_| bad("a section over 4 GiB"))?;
    buf.extend_from_slice(&len.to_le_bytes());
    buf.extend_from_slice(bytes);
    Ok(())
}

/// Takes the next section off `rest`.
fn take<'a>(rest: &mut &'a [u8]) -> Result<&'a [u8]> {
    let (len, tail) = rest
        .split_first_chunk::<4>()
        .ok_or_else(|| bad("a section's length is cut short"))?;
    let len = u32::from_le_bytes(*len) as usize;
    if tail.len() < len {
        return Err(bad("a section is cut short"));
    }
    let (section, tail) = tail.split_at(len);
    *rest = tail;
    Ok(section)
}

impl StrataCodec {
    fn decode_dedup(
        &self,
        mut rest: &[u8],
        ctx: &TaskContext,
        conv: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let header: Value =
            serde_json::from_slice(take(&mut rest)?).map_err(|e| bad(format!("header: {e}")))?;
        let projection = match &header["projection"] {
            Value::Null => None,
            Value::Array(cols) => Some(
                cols.iter()
                    .map(|c| {
                        c.as_u64()
                            .map(|n| n as usize)
                            .ok_or_else(|| bad("a column"))
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            _ => return Err(bad("the projection")),
        };
        let files = header["files"]
            .as_array()
            .ok_or_else(|| bad("the files"))?
            .iter()
            .map(|f| f.as_str().map(str::to_owned).ok_or_else(|| bad("a file")))
            .collect::<Result<Vec<_>>>()?;
        let mut sources = Vec::new();
        while !rest.is_empty() {
            let bytes = take(&mut rest)?;
            sources.push(physical_plan_from_bytes_with_proto_converter(
                bytes, ctx, self, conv,
            )?);
        }
        let schema = sources
            .first()
            .ok_or_else(|| bad("a merge without sources"))?
            .schema();
        Ok(Arc::new(DedupExec::try_new(
            sources, schema, projection, files,
        )?))
    }
}

impl PhysicalExtensionCodec for StrataCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        _inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        conv: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match buf.split_first() {
            Some((&DEDUP, rest)) => self.decode_dedup(rest, ctx, conv),
            Some((kind, _)) => Err(bad(format!("unknown kind {kind}"))),
            None => Err(bad("nothing")),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        conv: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let Some(dedup) = (node.as_ref() as &dyn Any).downcast_ref::<DedupExec>() else {
            return Err(DataFusionError::NotImplemented(format!(
                "{} cannot be sent to a worker",
                node.name()
            )));
        };
        buf.push(DEDUP);
        let header = json!({ "projection": dedup.projection(), "files": dedup.files() });
        put(buf, &serde_json::to_vec(&header).map_err(bad)?)?;
        for source in dedup.sources() {
            let bytes = physical_plan_to_bytes_with_proto_converter(source.clone(), self, conv)?;
            put(buf, &bytes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Float64Array, RecordBatch, TimestampMillisecondArray};
    use datafusion::arrow::array::{UInt64Array, as_primitive_array};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion_proto::bytes::{
        physical_plan_from_bytes_with_extension_codec, physical_plan_to_bytes_with_extension_codec,
    };

    use super::*;

    fn source(ids: Vec<u64>, ts: Vec<i64>, v: Vec<f64>) -> Arc<dyn ExecutionPlan> {
        let schema = strata_engine::samples_schema();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(UInt64Array::from(ids)),
                Arc::new(TimestampMillisecondArray::from(ts).with_timezone("UTC")),
                Arc::new(Float64Array::from(v)),
            ],
        )
        .unwrap();
        MemorySourceConfig::try_new_exec(&[vec![batch]], schema, None).unwrap()
    }

    async fn values(plan: Arc<dyn ExecutionPlan>) -> Vec<f64> {
        let out = collect(plan, Arc::new(TaskContext::default()))
            .await
            .unwrap();
        out.iter()
            .flat_map(|b| {
                as_primitive_array::<Float64Type>(b.column(0))
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[tokio::test]
    async fn a_merge_of_overlapping_sets_decodes_to_the_same_plan_and_rows() {
        let old = source(vec![1, 1, 2], vec![10, 30, 10], vec![1.0, 3.0, 4.0]);
        let new = source(vec![1, 1, 2], vec![10, 20, 10], vec![9.0, 2.0, 9.0]);
        let files = vec!["a.parquet".to_owned(), "b.parquet".to_owned()];
        let plan: Arc<dyn ExecutionPlan> = Arc::new(
            DedupExec::try_new(
                vec![old, new],
                strata_engine::samples_schema(),
                Some(vec![2]),
                files,
            )
            .unwrap(),
        );
        let bytes =
            physical_plan_to_bytes_with_extension_codec(plan.clone(), &StrataCodec).unwrap();
        let ctx = TaskContext::default();
        let back =
            physical_plan_from_bytes_with_extension_codec(&bytes, &ctx, &StrataCodec).unwrap();
        assert_eq!(
            displayable(back.as_ref()).one_line().to_string(),
            displayable(plan.as_ref()).one_line().to_string()
        );
        assert_eq!(back.schema(), plan.schema());
        // The oldest set's sample wins each (series, ts), as before the trip.
        assert_eq!(values(back).await, vec![1.0, 2.0, 3.0, 4.0]);
        assert_eq!(values(plan).await, vec![1.0, 2.0, 3.0, 4.0]);
    }

    #[test]
    fn damaged_bytes_are_an_error() {
        let ctx = TaskContext::default();
        let conv = datafusion_proto::physical_plan::DefaultPhysicalProtoConverter {};
        let damaged: [&[u8]; 4] = [
            &[],
            &[7],
            &[DEDUP, 9, 0, 0, 0, b'{'],
            &[DEDUP, 2, 0, 0, 0, b'{', b'}'],
        ];
        for buf in damaged {
            let e = StrataCodec
                .try_decode(buf, &[], &ctx, &conv)
                .expect_err("damaged");
            assert!(e.to_string().contains("sent to a worker"), "{e}");
        }
    }
}
