use crate::date_format::format_local_times;
use chrono::Timelike;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::fmt::Write;
use std::sync::LazyLock;

/// A timestamp as Spark's `CAST(ts AS STRING)` writes it: `yyyy-MM-dd HH:mm:ss`, then the
/// fraction of a second without its trailing zeros (`2000-01-01 00:00:00.5`), in the
/// timestamp's own time zone. [`SparkCastRule`](crate::SparkCastRule) puts it in place of
/// DataFusion's RFC 3339 cast.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct TimestampText {
    signature: Signature,
}

impl TimestampText {
    pub fn new() -> Self {
        Self { signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl Default for TimestampText {
    fn default() -> Self {
        Self::new()
    }
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
        "A timestamp as Spark's CAST(ts AS STRING) writes it.",
        "spark_timestamp_text(ts)",
    )
    .with_sql_example("SELECT spark_timestamp_text(TIMESTAMP '2000-01-01 00:00:00.5'); -- 2000-01-01 00:00:00.5")
    .with_argument("ts", "A timestamp")
    .build()
});

impl ScalarUDFImpl for TimestampText {
    fn name(&self) -> &str {
        "spark_timestamp_text"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        match arg_types {
            [DataType::Timestamp(_, tz)] => Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, tz.clone())]),
            [DataType::Null] => Ok(vec![DataType::Timestamp(TimeUnit::Microsecond, None)]),
            [other] => plan_err!("spark_timestamp_text: the argument must be a timestamp, got {other}"),
            _ => plan_err!("spark_timestamp_text takes one argument, got {}", arg_types.len()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut text = String::new();
        format_local_times(&args.args[0], args.number_rows, 26, |local, out| {
            text.clear();
            let _ = write!(text, "{}", local.format("%Y-%m-%d %H:%M:%S"));
            let nanos = local.nanosecond() % 1_000_000_000;
            if nanos != 0 {
                let fraction = format!("{nanos:09}");
                text.push('.');
                text.push_str(fraction.trim_end_matches('0'));
            }
            out.append_value(&text);
            Ok(())
        })
    }
}
