//! A query's result as a `DoGet` response: [`SqlStream`]'s batches encoded as Flight data
//! one by one (never the whole result at once), cut off with `RESOURCE_EXHAUSTED` once the
//! encoded bytes pass `sql.max_result_bytes`.
//!
//! The response stream owns the [`SqlStream`]: when the client goes away, tonic drops the
//! response and with it the query, which cancels it (the call is then counted as
//! `CANCELLED`, `super::calls`). Over the limit, or on an error, the stream ends and drops
//! the query at once.

use std::pin::Pin;

use arrow_flight::FlightData;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::error::FlightError;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use futures::{Stream, StreamExt};
use strata_query::sql::SqlStream;
use tonic::Status;

use crate::api::sql::sql_error;
use crate::runtime::admission::Turn;

/// The response stream of `DoGet`.
pub(crate) type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send>>;

/// `stream`'s result as Flight data, at most `limit` encoded bytes of it.
pub(crate) fn query_result(stream: SqlStream, limit: u64, turn: Turn) -> DoGetStream {
    let schema = stream.schema();
    // The query's turn is held until its last batch is sent (or the stream dropped).
    let batches = futures::stream::try_unfold((stream, turn), |(mut stream, turn)| async move {
        match stream.next_batch().await {
            Ok(Some(batch)) => Ok(Some((batch, (stream, turn)))),
            Ok(None) => Ok(None),
            Err(e) => Err(FlightError::Tonic(Box::new(sql_error(e).to_grpc_status()))),
        }
    });
    encoded(schema, batches, limit)
}

/// Batches known in advance (the answers of the metadata commands) as Flight data.
pub(crate) fn batches(schema: SchemaRef, batches: Vec<RecordBatch>) -> DoGetStream {
    let input = futures::stream::iter(batches.into_iter().map(Ok));
    encoded(schema, input, u64::MAX)
}

/// Encodes `input` (the schema first, also for an empty result), limited to `limit` bytes.
fn encoded<S>(schema: SchemaRef, input: S, limit: u64) -> DoGetStream
where
    S: Stream<Item = Result<RecordBatch, FlightError>> + Send + 'static,
{
    let data = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(input)
        .map(|r| r.map_err(Status::from));
    Box::pin(limited(data, limit))
}

/// `data` until its messages' header and body bytes add up to more than `limit`: then one
/// `RESOURCE_EXHAUSTED` and the end. After an error nothing more is read from `data`, which
/// is dropped at once.
pub(crate) fn limited<S>(data: S, limit: u64) -> impl Stream<Item = Result<FlightData, Status>>
where
    S: Stream<Item = Result<FlightData, Status>> + Send + 'static,
{
    let state = (Some(Box::pin(data)), 0u64);
    futures::stream::unfold(state, move |(data, sent)| async move {
        let mut data = data?;
        match data.next().await? {
            Err(e) => Some((Err(e), (None, sent))),
            Ok(message) => {
                let size = (message.data_header.len() + message.data_body.len()) as u64;
                let sent = sent.saturating_add(size);
                if sent > limit {
                    let e = Status::resource_exhausted(format!(
                        "the result is larger than {limit} bytes (sql.max_result_bytes); select fewer rows or columns (LIMIT, WHERE, aggregation)"
                    ));
                    Some((Err(e), (None, sent)))
                } else {
                    Some((Ok(message), (Some(data), sent)))
                }
            }
        }
    })
}
