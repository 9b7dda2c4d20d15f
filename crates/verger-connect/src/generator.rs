//! Spark's generators in a select list — `explode`, `explode_outer`, `posexplode`,
//! `posexplode_outer` — as DataFusion's unnest: one output row per array element, the
//! select's other columns repeated.
//!
//! - `explode` drops rows whose array is NULL or empty; the `_outer` forms keep them with a
//!   NULL element (and a NULL position), as Spark.
//! - `posexplode` adds the element's 0-based position, an INT named `pos`; the element is
//!   named `col` unless aliased (`.alias("pos", "x")`).
//! - A map explodes into `key` and `value` columns (after `pos`), one row per entry.
//! - One generator per select, as Spark; a generator inside another expression is refused.

use crate::error::{ConnectError, ConnectResult};
use crate::proto::Expression;
use crate::proto::expression::ExprType;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{ScalarValue, UnnestOptions};
use datafusion::dataframe::DataFrame;
use datafusion::functions::core::expr_fn::get_field;
use datafusion::functions_nested::expr_fn::{cardinality, make_array, map_entries, range};
use datafusion::logical_expr::{Expr, ExprSchemable, cast, lit, when};

const ELEMENT: &str = "__verger_generated_element";
const POSITION: &str = "__verger_generated_position";

/// Whether `name` is one of Spark's generators.
pub fn is_generator(name: &str) -> bool {
    matches!(name.to_ascii_lowercase().as_str(), "explode" | "explode_outer" | "posexplode" | "posexplode_outer")
}

/// A generator of a select list.
pub struct Generator<'e> {
    /// The generator's place among the select's expressions.
    pub position: usize,
    argument: &'e Expression,
    name: String,
    outer: bool,
    with_position: bool,
    aliases: Option<Vec<String>>,
}

fn generator_call(expression: &Expression) -> Option<(&str, &[Expression])> {
    match &expression.expr_type {
        Some(ExprType::UnresolvedFunction(f)) if is_generator(&f.function_name) => Some((&f.function_name, &f.arguments)),
        _ => None,
    }
}

/// The generator among `expressions`, if there is one.
pub fn find_generator(expressions: &[Expression]) -> ConnectResult<Option<Generator<'_>>> {
    let mut found: Option<Generator> = None;
    for (position, expression) in expressions.iter().enumerate() {
        let (call, aliases) = match &expression.expr_type {
            Some(ExprType::Alias(alias)) => match alias.expr.as_deref().and_then(generator_call) {
                Some(call) => (call, Some(&alias.name)),
                None => continue,
            },
            _ => match generator_call(expression) {
                Some(call) => (call, None),
                None => continue,
            },
        };
        if found.is_some() {
            return Err(ConnectError::analysis("[UNSUPPORTED_GENERATOR.MULTI_GENERATOR] Only one generator is allowed per select clause."));
        }
        let (name, arguments) = call;
        let lower = name.to_ascii_lowercase();
        let with_position = lower.starts_with("pos");
        let [argument] = arguments else {
            return Err(ConnectError::analysis(format!("`{name}` takes one argument, an array or a map")));
        };
        found = Some(Generator {
            position,
            argument,
            name: name.to_owned(),
            outer: lower.ends_with("_outer"),
            with_position,
            aliases: aliases.cloned(),
        });
    }
    Ok(found)
}

impl Generator<'_> {
    pub fn argument(&self) -> &Expression {
        self.argument
    }

    /// The generator as `withColumn(name, …)` names it: one column only.
    pub fn named(self, name: &str) -> ConnectResult<Self> {
        if self.with_position {
            return Err(ConnectError::analysis(
                "[UDTF_ALIAS_NUMBER_MISMATCH] posexplode gives two columns; withColumn takes one. Use select(posexplode(…).alias(\"pos\", \"x\")).",
            ));
        }
        Ok(Self { aliases: Some(vec![name.to_owned()]), ..self })
    }

    /// The generated columns' names: the aliases, else Spark's `pos`, then `col` of an array or
    /// `key`, `value` of a map.
    fn names(&self, of_map: bool) -> ConnectResult<Vec<String>> {
        let mut defaults: Vec<String> = if self.with_position { vec!["pos".into()] } else { Vec::new() };
        if of_map {
            defaults.extend(["key".into(), "value".into()]);
        } else {
            defaults.push("col".into());
        }
        match &self.aliases {
            Some(names) if names.len() != defaults.len() => Err(ConnectError::analysis(format!(
                "[UDTF_ALIAS_NUMBER_MISMATCH] The number of aliases supplied in the AS clause does not match the number of columns output by `{}`. Expected {} aliases but got {}.",
                self.name,
                defaults.len(),
                names.len()
            ))),
            Some(names) => Ok(names.clone()),
            None => Ok(defaults),
        }
    }

    /// `input` with `before`, the generated column(s) of `array` and `after`, one row per
    /// element.
    pub fn generate(&self, input: DataFrame, array: Expr, before: Vec<Expr>, after: Vec<Expr>) -> ConnectResult<DataFrame> {
        let input_type = array.get_type(input.schema())?;
        let of_map = matches!(input_type, DataType::Map(_, _));
        let names = self.names(of_map)?;
        // A map explodes as the array of its entries, structs of `key` and `value`.
        let array = if of_map { map_entries(array) } else { array };
        let array_type = array.get_type(input.schema())?;
        let element_type = match &array_type {
            DataType::List(field) | DataType::LargeList(field) | DataType::FixedSizeList(field, _) => field.data_type().clone(),
            other => {
                return Err(ConnectError::analysis(format!(
                    "[DATATYPE_MISMATCH.UNEXPECTED_INPUT_TYPE] `{}` takes an array or a map, not {}",
                    self.name,
                    crate::expression::spark_type_name(other)
                )));
            }
        };
        let length = cast(cardinality(array.clone()), DataType::Int64);
        // The `_outer` forms turn a NULL or empty array into one NULL element.
        let one_null = |data_type: &DataType, list_type: DataType| -> ConnectResult<Expr> {
            Ok(cast(make_array(vec![lit(ScalarValue::try_from(data_type)?)]), list_type))
        };
        let (elements, positions) = if self.outer {
            let non_empty = length.clone().gt(lit(0i64));
            // The elements may be NULL now (a map's entries are not, so their list says so).
            let nullable_list = DataType::new_list(element_type.clone(), true);
            let elements =
                when(non_empty.clone(), cast(array.clone(), nullable_list.clone())).otherwise(one_null(&element_type, nullable_list)?)?;
            let positions = when(non_empty, range(lit(0i64), length, lit(1i64)))
                .otherwise(one_null(&DataType::Int64, DataType::new_list(DataType::Int64, true))?)?;
            (elements, positions)
        } else {
            (array, range(lit(0i64), length, lit(1i64)))
        };
        let mut select = before;
        if self.with_position {
            select.push(positions.alias(POSITION));
        }
        select.push(elements.alias(ELEMENT));
        select.extend(after);
        let generated: Vec<&str> = if self.with_position { vec![POSITION, ELEMENT] } else { vec![ELEMENT] };
        let unnested = input.select(select)?.unnest_columns_with_options(&generated, UnnestOptions::new().with_preserve_nulls(false))?;
        let mut output: Vec<Expr> = Vec::new();
        for column in unnested.schema().columns() {
            match column.name.as_str() {
                POSITION => output.push(cast(Expr::Column(column), DataType::Int32).alias(&names[0])),
                ELEMENT if of_map => {
                    let [.., key, value] = names.as_slice() else {
                        return Err(ConnectError::analysis("a map explodes into a key and a value column"));
                    };
                    output.push(get_field(Expr::Column(column.clone()), "key").alias(key));
                    output.push(get_field(Expr::Column(column), "value").alias(value));
                }
                ELEMENT => output.push(Expr::Column(column).alias(&names[names.len() - 1])),
                _ => output.push(Expr::Column(column)),
            }
        }
        Ok(unnested.select(output)?)
    }
}
