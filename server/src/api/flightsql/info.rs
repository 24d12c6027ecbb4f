//! What `GetSqlInfo` and `GetXdbcTypeInfo` answer: fixed facts about the server and the
//! SQL types its tables have, built once.

use std::sync::OnceLock;

use tonic::Status;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlSupportedTransaction, XdbcDataType, XdbcDatetimeSubcode,
};

/// The server's SQL info: its name and version, read-only SQL, no Substrait, no
/// transactions, no `CancelQuery` (a client cancels by dropping the `DoGet` stream), no DDL,
/// identifiers quoted with `"`.
pub(crate) fn sql_info() -> Result<&'static SqlInfoData, Status> {
    static INFO: OnceLock<Result<SqlInfoData, String>> = OnceLock::new();
    built(INFO.get_or_init(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "Strata");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "59.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(
            SqlInfo::FlightSqlServerTransaction,
            SqlSupportedTransaction::None as i32,
        );
        b.append(SqlInfo::FlightSqlServerCancel, false);
        b.append(SqlInfo::FlightSqlServerBulkIngestion, false);
        b.append(SqlInfo::SqlDdlCatalog, false);
        b.append(SqlInfo::SqlDdlSchema, false);
        b.append(SqlInfo::SqlDdlTable, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        b.append(SqlInfo::SqlAllTablesAreSelectable, true);
        b.build()
            .map_err(|e| format!("flight sql: the SQL info does not build: {e}"))
    }))
}

/// The SQL types of the tables' columns, as XDBC type info.
pub(crate) fn xdbc_type_info() -> Result<&'static XdbcTypeInfoData, Status> {
    static INFO: OnceLock<Result<XdbcTypeInfoData, String>> = OnceLock::new();
    built(INFO.get_or_init(|| {
        let mut b = XdbcTypeInfoDataBuilder::new();
        for (name, ty, size, unsigned, prefix) in [
            ("BIGINT", XdbcDataType::XdbcBigint, 19, Some(false), None),
            (
                "BIGINT UNSIGNED",
                XdbcDataType::XdbcBigint,
                20,
                Some(true),
                None,
            ),
            ("INTEGER", XdbcDataType::XdbcInteger, 10, Some(false), None),
            ("TINYINT", XdbcDataType::XdbcTinyint, 3, Some(false), None),
            ("DOUBLE", XdbcDataType::XdbcDouble, 15, Some(false), None),
            ("BOOLEAN", XdbcDataType::XdbcBit, 1, None, None),
            (
                "VARCHAR",
                XdbcDataType::XdbcVarchar,
                i32::MAX,
                None,
                Some("'"),
            ),
            ("BINARY", XdbcDataType::XdbcBinary, i32::MAX, None, None),
            (
                "TIMESTAMP",
                XdbcDataType::XdbcTimestamp,
                29,
                None,
                Some("'"),
            ),
        ] {
            let timestamp = ty == XdbcDataType::XdbcTimestamp;
            b.append(XdbcTypeInfo {
                type_name: name.into(),
                data_type: ty,
                column_size: Some(size),
                literal_prefix: prefix.map(Into::into),
                literal_suffix: prefix.map(Into::into),
                create_params: None,
                nullable: Nullable::NullabilityNullable,
                case_sensitive: ty == XdbcDataType::XdbcVarchar,
                searchable: Searchable::Full,
                unsigned_attribute: unsigned,
                fixed_prec_scale: false,
                auto_increment: None,
                local_type_name: Some(name.into()),
                minimum_scale: None,
                maximum_scale: None,
                sql_data_type: if timestamp {
                    XdbcDataType::XdbcDatetime
                } else {
                    ty
                },
                datetime_subcode: timestamp.then_some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
                num_prec_radix: unsigned.map(|_| 10),
                interval_precision: None,
            });
        }
        b.build()
            .map_err(|e| format!("flight sql: the XDBC type info does not build: {e}"))
    }))
}

fn built<T>(data: &'static Result<T, String>) -> Result<&'static T, Status> {
    data.as_ref().map_err(|e| Status::internal(e.clone()))
}
