//! Arrow ↔ Spark data types: the schemas the client is told, the Arrow it receives, and the
//! Spark type names it sends in casts and schemas.

use crate::error::{ConnectError, ConnectResult};
use crate::proto::DataType as SparkType;
use crate::proto::data_type::{self as spark, Kind};
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

fn kind(kind: Kind) -> SparkType {
    SparkType { kind: Some(kind) }
}

/// The Spark ML vector type's classes, as PySpark names them in a schema.
const VECTOR_UDT_JVM: &str = "org.apache.spark.ml.linalg.VectorUDT";
const VECTOR_UDT_PYTHON: &str = "pyspark.ml.linalg.VectorUDT";

/// A Spark ML vector column (see `verger::is_spark_vector`): a `VectorUDT` over its struct, so
/// that PySpark reads `DenseVector` / `SparseVector` values.
fn vector_udt(data_type: &DataType) -> ConnectResult<SparkType> {
    let DataType::Struct(fields) = data_type else {
        return Err(ConnectError::invalid("a vector that is not a struct"));
    };
    Ok(kind(Kind::Udt(Box::new(spark::Udt {
        r#type: "udt".into(),
        jvm_class: Some(VECTOR_UDT_JVM.into()),
        python_class: Some(VECTOR_UDT_PYTHON.into()),
        serialized_python_class: None,
        sql_type: Some(Box::new(kind(Kind::Struct(spark_struct(fields)?)))),
    }))))
}

/// The Spark type PySpark shows for an Arrow type of verger's results.
pub fn spark_type(data_type: &DataType) -> ConnectResult<SparkType> {
    if verger::is_spark_vector(data_type) {
        return vector_udt(data_type);
    }
    Ok(match data_type {
        DataType::Null => kind(Kind::Null(spark::Null::default())),
        DataType::Boolean => kind(Kind::Boolean(spark::Boolean::default())),
        DataType::Int8 => kind(Kind::Byte(spark::Byte::default())),
        DataType::Int16 | DataType::UInt8 => kind(Kind::Short(spark::Short::default())),
        DataType::Int32 | DataType::UInt16 => kind(Kind::Integer(spark::Integer::default())),
        DataType::Int64 | DataType::UInt32 => kind(Kind::Long(spark::Long::default())),
        DataType::UInt64 => kind(Kind::Decimal(spark::Decimal { precision: Some(20), scale: Some(0), type_variation_reference: 0 })),
        DataType::Float16 | DataType::Float32 => kind(Kind::Float(spark::Float::default())),
        DataType::Float64 => kind(Kind::Double(spark::Double::default())),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => kind(Kind::String(spark::String::default())),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            kind(Kind::Binary(spark::Binary::default()))
        }
        DataType::Date32 | DataType::Date64 => kind(Kind::Date(spark::Date::default())),
        DataType::Timestamp(_, Some(_)) => kind(Kind::Timestamp(spark::Timestamp::default())),
        DataType::Timestamp(_, None) => kind(Kind::TimestampNtz(spark::TimestampNtz::default())),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) | DataType::Decimal128(p, s) => {
            kind(Kind::Decimal(spark::Decimal { precision: Some(i32::from(*p)), scale: Some(i32::from(*s)), type_variation_reference: 0 }))
        }
        DataType::Duration(_) => {
            kind(Kind::DayTimeInterval(spark::DayTimeInterval { start_field: Some(0), end_field: Some(3), type_variation_reference: 0 }))
        }
        DataType::List(field)
        | DataType::LargeList(field)
        | DataType::FixedSizeList(field, _)
        | DataType::ListView(field)
        | DataType::LargeListView(field) => kind(Kind::Array(Box::new(spark::Array {
            element_type: Some(Box::new(spark_type(field.data_type())?)),
            contains_null: field.is_nullable(),
            type_variation_reference: 0,
        }))),
        DataType::Struct(fields) => kind(Kind::Struct(spark_struct(fields)?)),
        DataType::Map(entries, _) => match entries.data_type() {
            DataType::Struct(kv) if kv.len() == 2 => kind(Kind::Map(Box::new(spark::Map {
                key_type: Some(Box::new(spark_type(kv[0].data_type())?)),
                value_type: Some(Box::new(spark_type(kv[1].data_type())?)),
                value_contains_null: kv[1].is_nullable(),
                type_variation_reference: 0,
            }))),
            other => return Err(ConnectError::unsupported(format!("the Arrow map entries type {other}"))),
        },
        DataType::Dictionary(_, value) => spark_type(value)?,
        other => return Err(ConnectError::unsupported(format!("the Arrow type {other} in a result"))),
    })
}

fn spark_struct(fields: &Fields) -> ConnectResult<spark::Struct> {
    let fields = fields
        .iter()
        .map(|field| {
            Ok(spark::StructField {
                name: field.name().clone(),
                data_type: Some(spark_type(field.data_type())?),
                nullable: field.is_nullable(),
                metadata: None,
            })
        })
        .collect::<ConnectResult<Vec<_>>>()?;
    Ok(spark::Struct { fields, type_variation_reference: 0 })
}

/// The Spark struct type of a result schema.
pub fn spark_schema(schema: &Schema) -> ConnectResult<SparkType> {
    Ok(kind(Kind::Struct(spark_struct(schema.fields())?)))
}

/// The Arrow type a result column is sent as: the one PySpark's Arrow → pandas conversion
/// expects for its Spark type (no view types, lists rather than fixed-size lists, timestamps
/// in microseconds in the session time zone).
pub fn client_type(data_type: &DataType, time_zone: &str) -> DataType {
    match data_type {
        DataType::Utf8View | DataType::LargeUtf8 => DataType::Utf8,
        DataType::BinaryView | DataType::LargeBinary | DataType::FixedSizeBinary(_) => DataType::Binary,
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Float16 => DataType::Float32,
        DataType::Date64 => DataType::Date32,
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => DataType::Decimal128(*p, *s),
        DataType::Timestamp(_, Some(_)) => DataType::Timestamp(TimeUnit::Microsecond, Some(time_zone.into())),
        DataType::Timestamp(_, None) => DataType::Timestamp(TimeUnit::Microsecond, None),
        DataType::Duration(_) => DataType::Duration(TimeUnit::Microsecond),
        DataType::Dictionary(_, value) => client_type(value, time_zone),
        DataType::List(field)
        | DataType::LargeList(field)
        | DataType::FixedSizeList(field, _)
        | DataType::ListView(field)
        | DataType::LargeListView(field) => DataType::List(Arc::new(client_field(field, time_zone))),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(|f| Arc::new(client_field(f, time_zone))).collect()),
        other => other.clone(),
    }
}

fn client_field(field: &Field, time_zone: &str) -> Field {
    Field::new(field.name(), client_type(field.data_type(), time_zone), field.is_nullable())
}

/// The schema results are sent with (see [`client_type`]).
pub fn client_schema(schema: &Schema, time_zone: &str) -> SchemaRef {
    Arc::new(Schema::new(schema.fields().iter().map(|f| client_field(f, time_zone)).collect::<Vec<_>>()))
}

/// `batch` with the columns cast to `schema` (from [`client_schema`]).
pub fn to_client_batch(batch: &RecordBatch, schema: &SchemaRef) -> ConnectResult<RecordBatch> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(
            |(column, field)| {
                if column.data_type() == field.data_type() { Ok(Arc::clone(column)) } else { cast(column, field.data_type()) }
            },
        )
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// The Arrow type of a Spark type the client sends (casts, schemas).
pub fn arrow_type(data_type: &SparkType, time_zone: &str) -> ConnectResult<DataType> {
    let Some(kind) = &data_type.kind else {
        return Err(ConnectError::invalid("a data type without a kind"));
    };
    Ok(match kind {
        Kind::Null(_) => DataType::Null,
        Kind::Boolean(_) => DataType::Boolean,
        Kind::Byte(_) => DataType::Int8,
        Kind::Short(_) => DataType::Int16,
        Kind::Integer(_) => DataType::Int32,
        Kind::Long(_) => DataType::Int64,
        Kind::Float(_) => DataType::Float32,
        Kind::Double(_) => DataType::Float64,
        Kind::String(_) | Kind::Char(_) | Kind::VarChar(_) => DataType::Utf8,
        Kind::Binary(_) => DataType::Binary,
        Kind::Date(_) => DataType::Date32,
        Kind::Timestamp(_) => DataType::Timestamp(TimeUnit::Microsecond, Some(time_zone.into())),
        Kind::TimestampNtz(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
        Kind::Decimal(d) => decimal(d.precision.unwrap_or(10), d.scale.unwrap_or(0))?,
        Kind::DayTimeInterval(_) => DataType::Duration(TimeUnit::Microsecond),
        Kind::Array(array) => {
            let element = array.element_type.as_deref().ok_or_else(|| ConnectError::invalid("an array type without an element type"))?;
            DataType::List(Arc::new(Field::new("element", arrow_type(element, time_zone)?, array.contains_null)))
        }
        Kind::Struct(s) => DataType::Struct(
            s.fields
                .iter()
                .map(|f| {
                    let t = f.data_type.as_ref().ok_or_else(|| ConnectError::invalid("a struct field without a type"))?;
                    Ok(Arc::new(Field::new(&f.name, arrow_type(t, time_zone)?, f.nullable)))
                })
                .collect::<ConnectResult<Vec<_>>>()?
                .into(),
        ),
        Kind::Map(map) => {
            let key = map.key_type.as_deref().ok_or_else(|| ConnectError::invalid("a map type without a key type"))?;
            let value = map.value_type.as_deref().ok_or_else(|| ConnectError::invalid("a map type without a value type"))?;
            let entries = Field::new(
                "entries",
                DataType::Struct(
                    vec![
                        Field::new("key", arrow_type(key, time_zone)?, false),
                        Field::new("value", arrow_type(value, time_zone)?, map.value_contains_null),
                    ]
                    .into(),
                ),
                false,
            );
            DataType::Map(Arc::new(entries), false)
        }
        Kind::Unparsed(u) => parse_type_name(&u.data_type_string, time_zone)?,
        Kind::Udt(udt) => match &udt.sql_type {
            Some(sql_type) => arrow_type(sql_type, time_zone)?,
            None => {
                return Err(ConnectError::unsupported(format!(
                    "the user-defined type {} without its SQL type",
                    udt.python_class.as_deref().unwrap_or("?")
                )));
            }
        },
        other => return Err(ConnectError::unsupported(format!("the Spark type {}", kind_name(other)))),
    })
}

fn kind_name(kind: &Kind) -> &'static str {
    match kind {
        Kind::CalendarInterval(_) => "interval",
        Kind::YearMonthInterval(_) => "interval year to month",
        Kind::Variant(_) => "variant",
        Kind::Udt(_) => "user-defined type",
        Kind::Geometry(_) => "geometry",
        Kind::Geography(_) => "geography",
        Kind::Time(_) => "time",
        _ => "this type",
    }
}

fn decimal(precision: i32, scale: i32) -> ConnectResult<DataType> {
    let p = u8::try_from(precision).map_err(|_| ConnectError::invalid(format!("decimal precision {precision}")))?;
    let s = i8::try_from(scale).map_err(|_| ConnectError::invalid(format!("decimal scale {scale}")))?;
    if p == 0 || p > 38 || i32::from(s) > precision {
        return Err(ConnectError::invalid(format!(
            "decimal({precision},{scale}): Spark's decimals have a precision of 1 to 38 and a scale at most the precision"
        )));
    }
    Ok(DataType::Decimal128(p, s))
}

/// A Spark type name as `cast("int")`, `selectExpr` schemas and DDL write them: `int`,
/// `bigint`, `decimal(10,2)`, `array<float>`, `struct<a:int,b:string>`, `map<string,int>`.
pub fn parse_type_name(text: &str, time_zone: &str) -> ConnectResult<DataType> {
    let mut parser = TypeParser { text: text.trim(), pos: 0, time_zone };
    let data_type = parser.data_type()?;
    parser.skip_space();
    if parser.pos != parser.text.len() {
        return Err(ConnectError::parse(format!("cannot parse the data type '{text}'")));
    }
    Ok(data_type)
}

struct TypeParser<'a> {
    text: &'a str,
    pos: usize,
    time_zone: &'a str,
}

impl TypeParser<'_> {
    fn skip_space(&mut self) {
        while self.text[self.pos..].starts_with(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn word(&mut self) -> String {
        self.skip_space();
        let rest = &self.text[self.pos..];
        let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '`')).unwrap_or(rest.len());
        self.pos += len;
        rest[..len].trim_matches('`').to_owned()
    }

    fn eat(&mut self, c: char) -> bool {
        self.skip_space();
        if self.text[self.pos..].starts_with(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> ConnectResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(ConnectError::parse(format!("expected '{c}' at {} in the data type '{}'", self.pos, self.text)))
        }
    }

    fn number(&mut self) -> ConnectResult<i32> {
        let word = self.word();
        word.parse().map_err(|_| ConnectError::parse(format!("expected a number in the data type '{}'", self.text)))
    }

    fn data_type(&mut self) -> ConnectResult<DataType> {
        let name = self.word().to_ascii_lowercase();
        Ok(match name.as_str() {
            "boolean" | "bool" => DataType::Boolean,
            "tinyint" | "byte" => DataType::Int8,
            "smallint" | "short" => DataType::Int16,
            "int" | "integer" => DataType::Int32,
            "bigint" | "long" => DataType::Int64,
            "float" | "real" => DataType::Float32,
            "double" => DataType::Float64,
            "string" | "varchar" | "char" | "text" => {
                if self.eat('(') {
                    self.number()?;
                    self.expect(')')?;
                }
                DataType::Utf8
            }
            "binary" => DataType::Binary,
            "date" => DataType::Date32,
            "timestamp" | "timestamp_ltz" => DataType::Timestamp(TimeUnit::Microsecond, Some(self.time_zone.into())),
            "timestamp_ntz" => DataType::Timestamp(TimeUnit::Microsecond, None),
            "void" | "null" => DataType::Null,
            "decimal" | "dec" | "numeric" => {
                if self.eat('(') {
                    let precision = self.number()?;
                    let scale = if self.eat(',') { self.number()? } else { 0 };
                    self.expect(')')?;
                    decimal(precision, scale)?
                } else {
                    decimal(10, 0)?
                }
            }
            "array" => {
                self.expect('<')?;
                let element = self.data_type()?;
                self.expect('>')?;
                DataType::List(Arc::new(Field::new("element", element, true)))
            }
            "map" => {
                self.expect('<')?;
                let key = self.data_type()?;
                self.expect(',')?;
                let value = self.data_type()?;
                self.expect('>')?;
                let entries = Field::new(
                    "entries",
                    DataType::Struct(vec![Field::new("key", key, false), Field::new("value", value, true)].into()),
                    false,
                );
                DataType::Map(Arc::new(entries), false)
            }
            "struct" => {
                self.expect('<')?;
                let mut fields = Vec::new();
                if !self.eat('>') {
                    loop {
                        let name = self.word();
                        self.eat(':');
                        let data_type = self.data_type()?;
                        fields.push(Field::new(name, data_type, true));
                        if self.eat('>') {
                            break;
                        }
                        self.expect(',')?;
                    }
                }
                DataType::Struct(fields.into())
            }
            "" => return Err(ConnectError::parse(format!("cannot parse the data type '{}'", self.text))),
            other => {
                return Err(ConnectError::parse(format!(
                    "[UNSUPPORTED_DATATYPE] unsupported data type \"{}\"",
                    other.to_ascii_uppercase()
                )));
            }
        })
    }
}

/// A DDL schema such as `a INT, b STRING` (also the `struct<…>` form) as Arrow fields.
pub fn parse_ddl_schema(text: &str, time_zone: &str) -> ConnectResult<Schema> {
    let trimmed = text.trim();
    if trimmed.to_ascii_lowercase().starts_with("struct<") {
        return match parse_type_name(trimmed, time_zone)? {
            DataType::Struct(fields) => Ok(Schema::new(fields)),
            _ => Err(ConnectError::parse(format!("cannot parse the schema '{text}'"))),
        };
    }
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    let mut parts = Vec::new();
    for (i, c) in trimmed.char_indices() {
        match c {
            '<' | '(' => depth += 1,
            '>' | ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&trimmed[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&trimmed[start..]);
    for part in parts.into_iter().map(str::trim).filter(|p| !p.is_empty()) {
        let no_type = || ConnectError::parse(format!("cannot parse the schema '{text}': '{part}' has no type"));
        // A name is a word or a `quoted name`, then the type after a space or a colon.
        let (name, type_name) = match part.strip_prefix('`') {
            Some(rest) => {
                let end = rest.find('`').ok_or_else(no_type)?;
                (&rest[..end], rest[end + 1..].trim_start().trim_start_matches(':'))
            }
            None => part.split_once(|c: char| c.is_whitespace() || c == ':').ok_or_else(no_type)?,
        };
        let type_name = type_name.trim();
        if type_name.is_empty() {
            return Err(no_type());
        }
        let (type_name, nullable) = match type_name.to_ascii_lowercase().strip_suffix("not null") {
            Some(rest) => (type_name[..rest.len()].trim(), false),
            None => (type_name, true),
        };
        fields.push(Field::new(name.trim_matches('`'), parse_type_name(type_name, time_zone)?, nullable));
    }
    Ok(Schema::new(fields))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spark_type_names_parse_as_spark_reads_them() -> ConnectResult<()> {
        assert_eq!(parse_type_name("int", "UTC")?, DataType::Int32);
        assert_eq!(parse_type_name(" BIGINT ", "UTC")?, DataType::Int64);
        assert_eq!(parse_type_name("decimal(10, 2)", "UTC")?, DataType::Decimal128(10, 2));
        assert!(matches!(parse_type_name("array<float>", "UTC")?, DataType::List(f) if f.data_type() == &DataType::Float32));
        assert!(matches!(parse_type_name("struct<a:int,b:string>", "UTC")?, DataType::Struct(f) if f.len() == 2));
        assert!(parse_type_name("intt", "UTC").is_err());
        assert!(parse_type_name("decimal(40,2)", "UTC").is_err());
        let schema = parse_ddl_schema("a INT, b array<string> NOT NULL, `c d` double", "UTC")?;
        assert_eq!(schema.fields().len(), 3);
        assert!(!schema.field(1).is_nullable());
        assert_eq!(schema.field(2).name(), "c d");
        Ok(())
    }

    #[test]
    fn every_result_type_has_a_spark_type_and_a_client_type() -> ConnectResult<()> {
        let list = DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), 4);
        assert!(matches!(client_type(&list, "UTC"), DataType::List(_)));
        assert!(spark_type(&list)?.kind.is_some());
        assert_eq!(client_type(&DataType::Utf8View, "UTC"), DataType::Utf8);
        assert_eq!(
            client_type(&DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), "Europe/Paris"),
            DataType::Timestamp(TimeUnit::Microsecond, Some("Europe/Paris".into()))
        );
        Ok(())
    }
}
