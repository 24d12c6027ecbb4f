use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue as OtlpValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_engine::{AnyValue, Scope};

use super::*;
use crate::ingest::otlp::decode::{Encoding, decode_logs_request};
use crate::ingest::otlp::records::decode_logs;

const LOGS_JSON: &[u8] = include_bytes!("../testdata/logs.json");

#[test]
fn the_spec_example_translates_field_by_field() {
    let req = decode_logs_request(LOGS_JSON, Encoding::Json).expect("spec example");
    let batch = translate_logs(req.clone());
    assert_eq!(batch.rejected.rejected_total(), 0);
    let s = |v: &str| AnyValue::String(v.into());
    let expected = LogRecord {
        time_ns: 1_544_712_660_300_000_000,
        observed_time_ns: 1_544_712_660_300_000_000,
        severity_text: "Information".into(),
        body: Some(s("Example log record")),
        service_name: "my.service".into(),
        trace_id: Some([
            0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F,
            0xC6, 0x0C,
        ]),
        span_id: Some([0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74]),
        attributes: vec![
            ("string.attribute".into(), s("some string")),
            ("boolean.attribute".into(), AnyValue::Bool(true)),
            ("int.attribute".into(), AnyValue::Int(10)),
            ("double.attribute".into(), AnyValue::Double(637.704)),
            (
                "array.attribute".into(),
                AnyValue::Array(vec![s("many"), s("values")]),
            ),
            (
                "map.attribute".into(),
                AnyValue::KvList(vec![("some.map.key".into(), s("some value"))]),
            ),
        ],
        resource_attributes: vec![("service.name".into(), s("my.service"))].into(),
        // Logs keep the scope's name and version only.
        scope: Scope {
            name: "my.library".into(),
            version: "1.0.0".into(),
            ..Scope::default()
        }
        .into(),
        ..Default::default()
    };
    assert_eq!(batch.records, vec![expected]);
    // Protobuf (read in place) and JSON give the same records.
    let pb = decode_logs(&req.encode_to_vec(), Encoding::Protobuf).expect("protobuf");
    assert_eq!(pb, batch);
    assert_eq!(decode_logs(LOGS_JSON, Encoding::Json).expect("JSON"), batch);
}

fn record(trace_id: &[u8], span_id: &[u8]) -> OtlpLogRecord {
    OtlpLogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        severity_number: 17,
        flags: 1,
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        body: Some(OtlpValue {
            value: Some(Value::BytesValue(vec![1, 2])),
        }),
        attributes: vec![KeyValue {
            key: "null".into(),
            value: None,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn ids_are_optional_but_checked_when_set() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource::default()),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record(&[], &[]),
                    record(&[1; 16], &[2; 8]),
                    record(&[0; 16], &[]),
                    record(&[1; 15], &[]),
                    record(&[], &[0; 8]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let batch = translate_logs(req);
    assert_eq!(batch.records.len(), 2);
    let r = &batch.records[0];
    assert_eq!((r.trace_id, r.span_id), (None, None));
    assert_eq!((r.severity_number, r.flags), (17, 1));
    assert_eq!(r.body, Some(AnyValue::Bytes(vec![1, 2])));
    assert_eq!(r.service_name, "unknown_service");
    // The attribute without a value is dropped and counted, in the record and the batch.
    assert!(r.attributes.is_empty());
    assert_eq!(r.dropped_attributes_count, 1);
    assert_eq!(batch.empty_values, 2);
    assert_eq!(batch.records[1].trace_id, Some([1; 16]));
    let rejected = &batch.rejected.rejected;
    assert_eq!(rejected.get(&SignalReject::InvalidTraceId), Some(&2));
    assert_eq!(rejected.get(&SignalReject::InvalidSpanId), Some(&1));
}
