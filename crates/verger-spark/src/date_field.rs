use datafusion::arrow::array::{ArrayRef, AsArray, Int32Array};
use datafusion::arrow::compute::kernels::numeric::add;
use datafusion::arrow::compute::{DatePart, date_part};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::{ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};
use std::sync::Arc;

/// A calendar field of a date or timestamp, as Spark's `year`, `quarter`, `month`,
/// `dayofmonth` (`day`), `dayofweek`, `dayofyear` and `weekofyear`: an INT, NULL for NULL.
/// A timestamp's field is read in its time zone (the session's); a string is read as a date,
/// as Spark casts it.
#[derive(Debug, PartialEq, Eq, Hash, Clone, Copy)]
pub enum Field {
    Year,
    Quarter,
    Month,
    DayOfMonth,
    /// 1 = Sunday … 7 = Saturday.
    DayOfWeek,
    DayOfYear,
    /// ISO 8601: weeks start on Monday, week 1 holds the year's first Thursday.
    WeekOfYear,
}

impl Field {
    /// Every field, for registration.
    pub const ALL: [Field; 7] =
        [Field::Year, Field::Quarter, Field::Month, Field::DayOfMonth, Field::DayOfWeek, Field::DayOfYear, Field::WeekOfYear];

    fn name(self) -> &'static str {
        match self {
            Field::Year => "year",
            Field::Quarter => "quarter",
            Field::Month => "month",
            Field::DayOfMonth => "dayofmonth",
            Field::DayOfWeek => "dayofweek",
            Field::DayOfYear => "dayofyear",
            Field::WeekOfYear => "weekofyear",
        }
    }

    fn part(self) -> DatePart {
        match self {
            Field::Year => DatePart::Year,
            Field::Quarter => DatePart::Quarter,
            Field::Month => DatePart::Month,
            Field::DayOfMonth => DatePart::Day,
            Field::DayOfWeek => DatePart::DayOfWeekSunday0,
            Field::DayOfYear => DatePart::DayOfYear,
            Field::WeekOfYear => DatePart::Week,
        }
    }

    fn description(self) -> &'static str {
        match self {
            Field::Year => "The year of a date or timestamp (Spark's year).",
            Field::Quarter => "The quarter of the year, 1 to 4, of a date or timestamp (Spark's quarter).",
            Field::Month => "The month, 1 to 12, of a date or timestamp (Spark's month).",
            Field::DayOfMonth => "The day of the month, 1 to 31, of a date or timestamp (Spark's dayofmonth, day).",
            Field::DayOfWeek => "The day of the week, 1 = Sunday to 7 = Saturday, of a date or timestamp (Spark's dayofweek).",
            Field::DayOfYear => "The day of the year, 1 to 366, of a date or timestamp (Spark's dayofyear).",
            Field::WeekOfYear => "The ISO 8601 week of the year, 1 to 53, of a date or timestamp (Spark's weekofyear).",
        }
    }
}

/// One [`Field`] as a scalar function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DateField {
    field: Field,
    signature: Signature,
    aliases: Vec<String>,
    documentation: Documentation,
}

impl DateField {
    pub fn new(field: Field) -> Self {
        let name = field.name();
        let documentation = Documentation::builder(
            datafusion::logical_expr::DocSection { include: true, label: "Spark Functions", description: None },
            field.description(),
            format!("{name}(date)"),
        )
        .with_sql_example(format!("SELECT {name}(DATE'2024-02-29');"))
        .with_argument("date", "A date, a timestamp, or a string read as a date")
        .build();
        let aliases = if field == Field::DayOfMonth { vec!["day".to_owned()] } else { vec![] };
        Self { field, signature: Signature::user_defined(Volatility::Immutable), aliases, documentation }
    }
}

impl ScalarUDFImpl for DateField {
    fn name(&self) -> &str {
        self.field.name()
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&self.documentation)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let [input] = arg_types else {
            return plan_err!("{} takes one argument (a date or timestamp), got {}", self.name(), arg_types.len());
        };
        match input {
            DataType::Date32 | DataType::Timestamp(_, _) => Ok(vec![input.clone()]),
            DataType::Date64 | DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => Ok(vec![DataType::Date32]),
            other => plan_err!("{}: the argument must be a date or a timestamp, got {other}", self.name()),
        }
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let all_scalar = matches!(args.args[0], ColumnarValue::Scalar(_));
        let input = args.args[0].to_array(args.number_rows)?;
        let mut field: ArrayRef = date_part(&input, self.field.part())?;
        if self.field == Field::DayOfWeek {
            field = add(&field, &Int32Array::new_scalar(1))?;
        }
        let field: ArrayRef = Arc::new(field.as_primitive::<datafusion::arrow::datatypes::Int32Type>().clone());
        if all_scalar { Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&field, 0)?)) } else { Ok(ColumnarValue::Array(field)) }
    }
}
