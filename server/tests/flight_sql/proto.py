"""Flight SQL commands built by hand for pyarrow.flight: the protobuf wire format of the
messages in Arrow's FlightSql.proto that the tests send or read, packed in a
google.protobuf.Any as Flight SQL clients send them. Standard library only, so the
messages are written from the .proto's field numbers, not by Strata's own code."""

import struct

PREFIX = b"type.googleapis.com/arrow.flight.protocol.sql."


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field_bytes(num, data):
    """A length-delimited field (string, bytes, message)."""
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, value):
    return varint(num << 3) + varint(value)


def any_msg(name, body=b""):
    """google.protobuf.Any{type_url = 1, value = 2}."""
    return field_bytes(1, PREFIX + name.encode()) + field_bytes(2, body)


def parse(buf):
    """A message's fields: {number: [values]} (bytes for length-delimited, int for varints)."""
    out = {}
    i = 0

    def read_varint():
        nonlocal i
        shift = n = 0
        while True:
            b = buf[i]
            i += 1
            n |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return n

    while i < len(buf):
        key = read_varint()
        num, wire = key >> 3, key & 7
        if wire == 0:
            value = read_varint()
        elif wire == 2:
            n = read_varint()
            value = bytes(buf[i : i + n])
            i += n
        elif wire == 1:
            value = struct.unpack("<Q", buf[i : i + 8])[0]
            i += 8
        elif wire == 5:
            value = struct.unpack("<I", buf[i : i + 4])[0]
            i += 4
        else:
            raise ValueError(f"wire type {wire}")
        out.setdefault(num, []).append(value)
    return out


def unpack_any(buf, name):
    """The value of an Any that must hold `name`."""
    fields = parse(buf)
    url = fields.get(1, [b""])[0]
    if url != PREFIX + name.encode():
        raise AssertionError(f"expected an Any of {name}, got type_url {url!r}")
    return fields.get(2, [b""])[0]


def statement_query(sql):
    return any_msg("CommandStatementQuery", field_bytes(1, sql))


def get_catalogs():
    return any_msg("CommandGetCatalogs")


def get_db_schemas(catalog=None, pattern=None):
    body = b""
    if catalog is not None:
        body += field_bytes(1, catalog)
    if pattern is not None:
        body += field_bytes(2, pattern)
    return any_msg("CommandGetDbSchemas", body)


def get_tables(catalog=None, schema_pattern=None, table_pattern=None, table_types=(), include_schema=False):
    body = b""
    if catalog is not None:
        body += field_bytes(1, catalog)
    if schema_pattern is not None:
        body += field_bytes(2, schema_pattern)
    if table_pattern is not None:
        body += field_bytes(3, table_pattern)
    for t in table_types:
        body += field_bytes(4, t)
    if include_schema:
        body += field_varint(5, 1)
    return any_msg("CommandGetTables", body)


def get_table_types():
    return any_msg("CommandGetTableTypes")


def get_sql_info(ids=()):
    # repeated uint32, packed.
    packed = b"".join(varint(i) for i in ids)
    return any_msg("CommandGetSqlInfo", field_bytes(1, packed) if ids else b"")


def get_xdbc_type_info(data_type=None):
    body = b""
    if data_type is not None:
        body += field_varint(1, data_type & 0xFFFFFFFFFFFFFFFF)
    return any_msg("CommandGetXdbcTypeInfo", body)


def create_prepared(sql):
    return any_msg("ActionCreatePreparedStatementRequest", field_bytes(1, sql))


def close_prepared(handle):
    return any_msg("ActionClosePreparedStatementRequest", field_bytes(1, handle))


def prepared_query(handle):
    return any_msg("CommandPreparedStatementQuery", field_bytes(1, handle))


def prepared_result(body):
    """ActionCreatePreparedStatementResult -> (handle, dataset_schema, parameter_schema)."""
    f = parse(unpack_any(body, "ActionCreatePreparedStatementResult"))
    return f.get(1, [b""])[0], f.get(2, [b""])[0], f.get(3, [b""])[0]


def ticket_statement(handle):
    return any_msg("TicketStatementQuery", field_bytes(1, handle))
