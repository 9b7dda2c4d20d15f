//! Spark Connect expressions → DataFusion expressions, with Spark's operator and function
//! names and Spark's output column names.

use crate::error::{ConnectError, ConnectResult};
use crate::proto::Expression;
use crate::proto::expression::{self, ExprType, literal::LiteralType, sort_order, window::window_frame};
use crate::types;
use datafusion::common::{Column, DFSchema, ScalarValue};
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::expr::{Sort, WindowFunction, WindowFunctionParams};
use datafusion::logical_expr::{
    Expr, ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunctionDefinition, cast, lit, try_cast,
};
use datafusion::prelude::{SessionContext, col};
use std::sync::Arc;

/// The relation alias under which a relation's columns are found when the client refers to
/// them by plan id (`df["col"]`).
pub fn plan_alias(plan_id: i64) -> String {
    format!("__plan_{plan_id}")
}

/// Translates expressions against one input schema.
pub struct ExprContext<'a> {
    pub ctx: &'a SessionContext,
    pub schema: &'a DFSchema,
    pub time_zone: &'a str,
}

fn missing(what: &str) -> ConnectError {
    ConnectError::invalid(format!("an expression without its {what}"))
}

impl ExprContext<'_> {
    pub fn expr(&self, expression: &Expression) -> ConnectResult<Expr> {
        let kind = expression.expr_type.as_ref().ok_or_else(|| missing("kind"))?;
        Ok(match kind {
            ExprType::Literal(literal) => lit(literal_value(literal, self.time_zone)?),
            ExprType::UnresolvedAttribute(attribute) => self.attribute(&attribute.unparsed_identifier, attribute.plan_id)?,
            ExprType::UnresolvedFunction(function) => self.function(&function.function_name, &function.arguments, function.is_distinct)?,
            ExprType::CallFunction(function) => self.function(&function.function_name, &function.arguments, false)?,
            ExprType::ExpressionString(text) => crate::spark_sql::spark_sql_expr(self.ctx, &text.expression, self.schema)?,
            ExprType::Alias(alias) => {
                let inner = self.expr(alias.expr.as_deref().ok_or_else(|| missing("aliased expression"))?)?;
                match alias.name.as_slice() {
                    [name] => inner.alias(name),
                    _ => return Err(ConnectError::unsupported("an alias of several names (a multi-column alias)")),
                }
            }
            ExprType::Cast(c) => {
                let inner = self.expr(c.expr.as_deref().ok_or_else(|| missing("cast input"))?)?;
                let to = match &c.cast_to_type {
                    Some(expression::cast::CastToType::Type(t)) => types::arrow_type(t, self.time_zone)?,
                    Some(expression::cast::CastToType::TypeStr(name)) => types::parse_type_name(name, self.time_zone)?,
                    None => return Err(missing("target type")),
                };
                if c.eval_mode == expression::cast::EvalMode::Try as i32 { try_cast(inner, to) } else { cast(inner, to) }
            }
            ExprType::UnresolvedStar(_) => return Err(ConnectError::unsupported("`*` inside an expression; select it on its own")),
            ExprType::SortOrder(order) => {
                return Err(ConnectError::unsupported(format!(
                    "a sort order outside orderBy ({})",
                    spark_name(&Expression { expr_type: Some(ExprType::SortOrder(order.clone())), common: None })
                )));
            }
            ExprType::Window(window) => self.window(window)?,
            ExprType::UnresolvedExtractValue(extract) => {
                let child = self.expr(extract.child.as_deref().ok_or_else(|| missing("child"))?)?;
                let key = self.expr(extract.extraction.as_deref().ok_or_else(|| missing("extraction"))?)?;
                self.call("get_field", vec![child, key])?
            }
            ExprType::CommonInlineUserDefinedFunction(udf) => return Err(python_udf(&udf.function_name)),
            ExprType::NamedArgumentExpression(named) => {
                return Err(ConnectError::unsupported(format!("named function arguments ({} => …)", named.key)));
            }
            ExprType::LambdaFunction(_) | ExprType::UnresolvedNamedLambdaVariable(_) => {
                return Err(ConnectError::unsupported("higher-order functions (lambdas such as transform(col, x -> …))"));
            }
            ExprType::UnresolvedRegex(_) => return Err(ConnectError::unsupported("colRegex")),
            ExprType::UpdateFields(_) => return Err(ConnectError::unsupported("withField / dropFields")),
            ExprType::SubqueryExpression(_) => {
                return Err(ConnectError::unsupported("DataFrame subqueries (scalar(), exists()); write them in spark.sql"));
            }
            _ => return Err(ConnectError::unsupported("this expression")),
        })
    }

    /// A column by name; with a plan id, the column of that DataFrame (`df["id"]`).
    fn attribute(&self, identifier: &str, plan_id: Option<i64>) -> ConnectResult<Expr> {
        let parts = parse_identifier(identifier)?;
        if let Some(plan_id) = plan_id {
            let qualifier = plan_alias(plan_id);
            if let [name] = parts.as_slice() {
                let column = Column::new(Some(qualifier.as_str()), name);
                if self.schema.has_column(&column) {
                    return Ok(Expr::Column(column));
                }
            }
        }
        Ok(match parts.as_slice() {
            [name] => Expr::Column(Column::new_unqualified(name)),
            [qualifier, name] if self.schema.has_column(&Column::new(Some(qualifier.as_str()), name)) => {
                Expr::Column(Column::new(Some(qualifier.as_str()), name))
            }
            [first, rest @ ..] => {
                // a.b where a is a struct column: field access.
                let mut expr = Expr::Column(Column::new_unqualified(first));
                for field in rest {
                    expr = self.call("get_field", vec![expr, lit(field.as_str())])?;
                }
                expr
            }
            [] => return Err(ConnectError::analysis("an empty column name")),
        })
    }

    pub fn call(&self, name: &str, args: Vec<Expr>) -> ConnectResult<Expr> {
        let state = self.ctx.state();
        if let Ok(udf) = state.udf(name) {
            return Ok(udf.call(args));
        }
        if let Ok(udaf) = state.udaf(name) {
            return Ok(udaf.call(args));
        }
        Err(ConnectError::Analysis {
            message: format!(
                "[UNRESOLVED_ROUTINE] Cannot resolve routine `{name}` on search path [`system`.`builtin`, `system`.`session`]."
            ),
            error_class: Some("UNRESOLVED_ROUTINE"),
        })
    }

    fn args(&self, args: &[Expression]) -> ConnectResult<Vec<Expr>> {
        args.iter().map(|a| self.expr(a)).collect()
    }

    fn function(&self, name: &str, arguments: &[Expression], distinct: bool) -> ConnectResult<Expr> {
        let binary = |op: fn(Expr, Expr) -> Expr| -> ConnectResult<Expr> {
            match self.args(arguments)?.as_slice() {
                [a, b] => Ok(op(a.clone(), b.clone())),
                _ => Err(ConnectError::analysis(format!("`{name}` takes two arguments"))),
            }
        };
        let unary = |op: fn(Expr) -> Expr| -> ConnectResult<Expr> {
            match self.args(arguments)?.as_slice() {
                [a] => Ok(op(a.clone())),
                _ => Err(ConnectError::analysis(format!("`{name}` takes one argument"))),
            }
        };
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "==" | "=" => return binary(Expr::eq),
            "!=" | "<>" => return binary(Expr::not_eq),
            "<" => return binary(Expr::lt),
            "<=" => return binary(Expr::lt_eq),
            ">" => return binary(Expr::gt),
            ">=" => return binary(Expr::gt_eq),
            "<=>" | "eqnullsafe" => {
                return binary(|a, b| datafusion::logical_expr::binary_expr(a, datafusion::logical_expr::Operator::IsNotDistinctFrom, b));
            }
            "+" => return binary(|a, b| a + b),
            "-" if arguments.len() == 2 => return binary(|a, b| a - b),
            "-" | "negative" => return unary(|a| -a),
            "*" => return binary(|a, b| a * b),
            // Spark's `/` on integers and doubles (a DOUBLE; DIVIDE_BY_ZERO) comes from the
            // session's SparkDivisionRule; decimals keep a decimal quotient.
            "/" => return binary(|a, b| a / b),
            "%" | "mod" => return binary(|a, b| a % b),
            "and" => return binary(Expr::and),
            "or" => return binary(Expr::or),
            "not" | "!" => return unary(|a| !a),
            "isnull" => return unary(Expr::is_null),
            "isnotnull" => return unary(Expr::is_not_null),
            "isnan" => return self.call("isnan", self.args(arguments)?),
            "in" => {
                let mut args = self.args(arguments)?;
                if args.is_empty() {
                    return Err(ConnectError::analysis("`in` takes a value"));
                }
                let value = args.remove(0);
                return Ok(value.in_list(args, false));
            }
            "like" => return binary(Expr::like),
            "ilike" => return binary(Expr::ilike),
            "rlike" | "regexp" | "regexp_like" => return self.call("regexp_like", self.args(arguments)?),
            "when" | "case" => return self.when(arguments),
            "count" if arguments.len() == 1 && matches!(arguments[0].expr_type, Some(ExprType::UnresolvedStar(_))) => {
                return self.call("count", vec![lit(1i64)]);
            }
            "avg" | "mean" => return self.aggregate("avg", arguments, distinct),
            "collect_list" => return self.aggregate("array_agg", arguments, distinct),
            "collect_set" => return self.aggregate("array_agg", arguments, true),
            "count_distinct" | "countdistinct" => return self.aggregate("count", arguments, true),
            "sum_distinct" => return self.aggregate("sum", arguments, true),
            "first" => return self.aggregate("first_value", arguments, distinct),
            "last" => return self.aggregate("last_value", arguments, distinct),
            "std" => return self.aggregate("stddev", arguments, distinct),
            "substr" | "substring" => return self.call("substr", self.args(arguments)?),
            "startswith" => return self.call("starts_with", self.args(arguments)?),
            "endswith" => return self.call("ends_with", self.args(arguments)?),
            "contains" => return self.call("strpos", self.args(arguments)?).map(|e| e.gt(lit(0))),
            "between" => {
                return match self.args(arguments)?.as_slice() {
                    [v, low, high] => Ok(v.clone().between(low.clone(), high.clone())),
                    _ => Err(ConnectError::analysis("`between` takes a value and two bounds")),
                };
            }
            _ if crate::generator::is_generator(&lower) => {
                return Err(ConnectError::analysis(format!(
                    "[UNSUPPORTED_GENERATOR.NESTED_IN_EXPRESSIONS] The generator `{name}` must be a whole column of a select or withColumn, not part of another expression."
                )));
            }
            _ => {}
        }
        self.aggregate(&lower, arguments, distinct)
    }

    fn aggregate(&self, name: &str, arguments: &[Expression], distinct: bool) -> ConnectResult<Expr> {
        let args = self.args(arguments)?;
        let state = self.ctx.state();
        if let Ok(udaf) = state.udaf(name) {
            let call = udaf.call(args);
            return Ok(if distinct { call.distinct().build()? } else { call });
        }
        if distinct {
            return Err(ConnectError::analysis(format!("DISTINCT is only for aggregate functions, and `{name}` is not one")));
        }
        self.call(name, args)
    }

    fn when(&self, arguments: &[Expression]) -> ConnectResult<Expr> {
        let args = self.args(arguments)?;
        let mut pairs = args.chunks_exact(2);
        let mut builder: Option<datafusion::logical_expr::conditional_expressions::CaseBuilder> = None;
        for pair in pairs.by_ref() {
            builder = Some(match builder {
                None => datafusion::logical_expr::when(pair[0].clone(), pair[1].clone()),
                Some(mut b) => {
                    b.when(pair[0].clone(), pair[1].clone());
                    b
                }
            });
        }
        let mut builder = builder.ok_or_else(|| ConnectError::analysis("`when` takes a condition and a value"))?;
        Ok(match pairs.remainder() {
            [otherwise] => builder.otherwise(otherwise.clone())?,
            _ => builder.end()?,
        })
    }

    pub fn sort(&self, order: &expression::SortOrder) -> ConnectResult<Sort> {
        let child = self.expr(order.child.as_deref().ok_or_else(|| missing("sort key"))?)?;
        let ascending = order.direction != sort_order::SortDirection::Descending as i32;
        // Spark: ascending puts NULLs first, descending puts them last, unless told.
        let nulls_first = match sort_order::NullOrdering::try_from(order.null_ordering) {
            Ok(sort_order::NullOrdering::SortNullsFirst) => true,
            Ok(sort_order::NullOrdering::SortNullsLast) => false,
            _ => ascending,
        };
        Ok(Sort::new(child, ascending, nulls_first))
    }

    fn window(&self, window: &expression::Window) -> ConnectResult<Expr> {
        let function = window.window_function.as_deref().ok_or_else(|| missing("window function"))?;
        let (name, arguments, distinct) = match &function.expr_type {
            Some(ExprType::UnresolvedFunction(f)) => (f.function_name.to_ascii_lowercase(), &f.arguments, f.is_distinct),
            Some(ExprType::CallFunction(f)) => (f.function_name.to_ascii_lowercase(), &f.arguments, false),
            _ => return Err(ConnectError::unsupported("a window over something other than a function call")),
        };
        let name = match name.as_str() {
            "avg" | "mean" => "avg".to_owned(),
            "first" => "first_value".to_owned(),
            "last" => "last_value".to_owned(),
            _ => name,
        };
        let args = self.args(arguments)?;
        let state = self.ctx.state();
        let fun = if let Ok(udwf) = state.udwf(&name) {
            WindowFunctionDefinition::WindowUDF(udwf)
        } else if let Ok(udaf) = state.udaf(&name) {
            WindowFunctionDefinition::AggregateUDF(udaf)
        } else {
            return Err(ConnectError::analysis(format!("[UNRESOLVED_ROUTINE] `{name}` is not a window or aggregate function")));
        };
        let partition_by = self.args(&window.partition_spec)?;
        let order_by = window.order_spec.iter().map(|o| self.sort(o)).collect::<ConnectResult<Vec<_>>>()?;
        let frame = match &window.frame_spec {
            None => WindowFrame::new(if order_by.is_empty() { None } else { Some(false) }),
            Some(frame) => {
                let units =
                    if frame.frame_type == window_frame::FrameType::Row as i32 { WindowFrameUnits::Rows } else { WindowFrameUnits::Range };
                let start = self.bound(frame.lower.as_deref(), true)?;
                let end = self.bound(frame.upper.as_deref(), false)?;
                WindowFrame::new_bounds(units, start, end)
            }
        };
        let window = Expr::WindowFunction(Box::new(WindowFunction {
            fun,
            params: WindowFunctionParams {
                args,
                partition_by,
                order_by,
                window_frame: frame,
                filter: None,
                null_treatment: None,
                distinct,
            },
        }));
        // Spark's ranks are INT; DataFusion's are UInt64, which Spark would see as decimal(20,0).
        Ok(match name.as_str() {
            "row_number" | "rank" | "dense_rank" | "ntile" => cast(window, datafusion::arrow::datatypes::DataType::Int32),
            _ => window,
        })
    }

    fn bound(&self, boundary: Option<&window_frame::FrameBoundary>, lower: bool) -> ConnectResult<WindowFrameBound> {
        use window_frame::frame_boundary::Boundary;
        let unbounded = if lower { WindowFrameBound::Preceding(ScalarValue::Null) } else { WindowFrameBound::Following(ScalarValue::Null) };
        Ok(match boundary.and_then(|b| b.boundary.as_ref()) {
            None | Some(Boundary::Unbounded(_)) => unbounded,
            Some(Boundary::CurrentRow(_)) => WindowFrameBound::CurrentRow,
            Some(Boundary::Value(value)) => {
                let Expr::Literal(value, _) = self.expr(value)? else {
                    return Err(ConnectError::unsupported("a window frame bound that is not a literal"));
                };
                let negative = match &value {
                    ScalarValue::Int64(Some(v)) => *v < 0,
                    ScalarValue::Int32(Some(v)) => *v < 0,
                    _ => false,
                };
                let magnitude = match value {
                    ScalarValue::Int64(Some(v)) => ScalarValue::UInt64(Some(v.unsigned_abs())),
                    ScalarValue::Int32(Some(v)) => ScalarValue::UInt64(Some(u64::from(v.unsigned_abs()))),
                    other => other,
                };
                if negative {
                    WindowFrameBound::Preceding(magnitude)
                } else if matches!(magnitude, ScalarValue::UInt64(Some(0))) {
                    WindowFrameBound::CurrentRow
                } else {
                    WindowFrameBound::Following(magnitude)
                }
            }
        })
    }

    /// An output expression named as Spark names it: `count(1)`, `(a + 1)`, `avg(x)`.
    pub fn named(&self, expression: &Expression) -> ConnectResult<Expr> {
        let expr = self.expr(expression)?;
        Ok(match (&expression.expr_type, &expr) {
            (Some(ExprType::Alias(_)), _) | (_, Expr::Column(_)) | (_, Expr::Alias(_)) => expr,
            (Some(ExprType::UnresolvedAttribute(a)), _) => expr.alias(a.unparsed_identifier.rsplit('.').next().unwrap_or_default()),
            _ => expr.alias(spark_name(expression)),
        })
    }
}

fn python_udf(name: &str) -> ConnectError {
    ConnectError::unsupported(format!(
        "Python UDFs (`{name}`): verger runs no Python. Call a native function instead, e.g. \
         F.expr(\"image_features(content)\") for the CNN features, or pca / standard_scale for the ML steps"
    ))
}

/// The Python-UDF refusal for relations that run Python (mapInPandas, applyInPandas).
pub fn python_relation(what: &str) -> ConnectError {
    python_udf(what)
}

/// Splits `a.b`, `` `a.b`.c `` into parts.
pub fn parse_identifier(text: &str) -> ConnectResult<Vec<String>> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' if quoted && chars.peek() == Some(&'`') => {
                chars.next();
                current.push('`');
            }
            '`' => quoted = !quoted,
            '.' if !quoted => parts.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if quoted {
        return Err(ConnectError::parse(format!("[PARSE_SYNTAX_ERROR] unclosed backquote in the column name '{text}'")));
    }
    parts.push(current);
    Ok(parts)
}

/// A Spark literal as a DataFusion value.
pub fn literal_value(literal: &expression::Literal, time_zone: &str) -> ConnectResult<ScalarValue> {
    let kind = literal.literal_type.as_ref().ok_or_else(|| missing("literal value"))?;
    Ok(match kind {
        LiteralType::Null(t) => ScalarValue::try_from(types::arrow_type(t, time_zone)?)?,
        LiteralType::Binary(b) => ScalarValue::Binary(Some(b.to_vec())),
        LiteralType::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        LiteralType::Byte(v) => {
            ScalarValue::Int8(Some(i8::try_from(*v).map_err(|_| ConnectError::invalid("a byte literal out of range"))?))
        }
        LiteralType::Short(v) => {
            ScalarValue::Int16(Some(i16::try_from(*v).map_err(|_| ConnectError::invalid("a short literal out of range"))?))
        }
        LiteralType::Integer(v) => ScalarValue::Int32(Some(*v)),
        LiteralType::Long(v) => ScalarValue::Int64(Some(*v)),
        LiteralType::Float(v) => ScalarValue::Float32(Some(*v)),
        LiteralType::Double(v) => ScalarValue::Float64(Some(*v)),
        LiteralType::String(s) => ScalarValue::Utf8(Some(s.clone())),
        LiteralType::Date(d) => ScalarValue::Date32(Some(*d)),
        LiteralType::Timestamp(t) => ScalarValue::TimestampMicrosecond(Some(*t), Some(Arc::from(time_zone))),
        LiteralType::TimestampNtz(t) => ScalarValue::TimestampMicrosecond(Some(*t), None),
        LiteralType::Decimal(d) => {
            let text = d.value.trim();
            let (int_part, frac_part) = text.split_once('.').unwrap_or((text, ""));
            let scale = d.scale.unwrap_or(frac_part.len() as i32);
            let digits = format!("{int_part}{frac_part}");
            let value: i128 = digits.parse().map_err(|_| ConnectError::invalid(format!("the decimal literal {text}")))?;
            let precision = d.precision.unwrap_or((digits.trim_start_matches('-').len() as i32).max(scale).max(1));
            ScalarValue::Decimal128(Some(value), precision as u8, scale as i8)
        }
        LiteralType::Array(array) => {
            let values = array.elements.iter().map(|e| literal_value(e, time_zone)).collect::<ConnectResult<Vec<_>>>()?;
            let element_type = match (values.first(), literal.data_type.as_ref()) {
                (Some(v), _) => v.data_type(),
                (None, Some(t)) => match types::arrow_type(t, time_zone)? {
                    datafusion::arrow::datatypes::DataType::List(f) => f.data_type().clone(),
                    other => other,
                },
                (None, None) => datafusion::arrow::datatypes::DataType::Null,
            };
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &element_type))
        }
        LiteralType::SpecializedArray(array) => {
            use expression::literal::specialized_array::ValueType;
            let values: Vec<ScalarValue> = match &array.value_type {
                Some(ValueType::Doubles(v)) => v.values.iter().map(|x| ScalarValue::Float64(Some(*x))).collect(),
                Some(ValueType::Floats(v)) => v.values.iter().map(|x| ScalarValue::Float32(Some(*x))).collect(),
                Some(ValueType::Longs(v)) => v.values.iter().map(|x| ScalarValue::Int64(Some(*x))).collect(),
                Some(ValueType::Ints(v)) => v.values.iter().map(|x| ScalarValue::Int32(Some(*x))).collect(),
                Some(ValueType::Bools(v)) => v.values.iter().map(|x| ScalarValue::Boolean(Some(*x))).collect(),
                Some(ValueType::Strings(v)) => v.values.iter().map(|x| ScalarValue::Utf8(Some(x.clone()))).collect(),
                None => Vec::new(),
            };
            let element_type = values.first().map_or(datafusion::arrow::datatypes::DataType::Null, ScalarValue::data_type);
            ScalarValue::List(ScalarValue::new_list_nullable(&values, &element_type))
        }
        LiteralType::DayTimeInterval(micros) => ScalarValue::DurationMicrosecond(Some(*micros)),
        _ => return Err(ConnectError::unsupported("this literal type (intervals, maps, structs, time)")),
    })
}

/// The name Spark gives an unaliased expression in a result's schema.
pub fn spark_name(expression: &Expression) -> String {
    let Some(kind) = &expression.expr_type else {
        return String::new();
    };
    match kind {
        ExprType::Literal(literal) => match &literal.literal_type {
            Some(LiteralType::String(s)) => s.clone(),
            Some(LiteralType::Null(_)) | None => "NULL".to_owned(),
            Some(LiteralType::Boolean(b)) => b.to_string(),
            Some(LiteralType::Integer(v)) => v.to_string(),
            Some(LiteralType::Long(v)) => v.to_string(),
            Some(LiteralType::Short(v) | LiteralType::Byte(v)) => v.to_string(),
            Some(LiteralType::Double(v)) => format!("{v:?}"),
            Some(LiteralType::Float(v)) => format!("{v:?}"),
            Some(LiteralType::Decimal(d)) => d.value.clone(),
            Some(_) => "literal".to_owned(),
        },
        ExprType::UnresolvedAttribute(a) => a.unparsed_identifier.clone(),
        ExprType::UnresolvedFunction(f) => function_name(&f.function_name, &f.arguments, f.is_distinct),
        ExprType::CallFunction(f) => function_name(&f.function_name, &f.arguments, false),
        ExprType::ExpressionString(s) => s.expression.clone(),
        ExprType::Alias(a) => a.name.join("."),
        ExprType::Cast(c) => {
            let inner = c.expr.as_deref().map(spark_name).unwrap_or_default();
            let to = match &c.cast_to_type {
                Some(expression::cast::CastToType::TypeStr(s)) => s.to_ascii_uppercase(),
                Some(expression::cast::CastToType::Type(t)) => types::arrow_type(t, "UTC").map(|t| spark_type_name(&t)).unwrap_or_default(),
                None => String::new(),
            };
            format!("CAST({inner} AS {to})")
        }
        ExprType::UnresolvedStar(_) => "*".to_owned(),
        ExprType::SortOrder(o) => o.child.as_deref().map(spark_name).unwrap_or_default(),
        ExprType::Window(w) => w.window_function.as_deref().map(spark_name).map(|n| format!("{n} OVER (…)")).unwrap_or_default(),
        ExprType::UnresolvedExtractValue(e) => {
            format!(
                "{}[{}]",
                e.child.as_deref().map(spark_name).unwrap_or_default(),
                e.extraction.as_deref().map(spark_name).unwrap_or_default()
            )
        }
        _ => "expr".to_owned(),
    }
}

pub(crate) fn spark_type_name(data_type: &datafusion::arrow::datatypes::DataType) -> String {
    use datafusion::arrow::datatypes::DataType;
    match data_type {
        DataType::Int8 => "TINYINT".into(),
        DataType::Int16 => "SMALLINT".into(),
        DataType::Int32 => "INT".into(),
        DataType::Int64 => "BIGINT".into(),
        DataType::Float32 => "FLOAT".into(),
        DataType::Float64 => "DOUBLE".into(),
        DataType::Utf8 => "STRING".into(),
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Binary => "BINARY".into(),
        DataType::Date32 => "DATE".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP_NTZ".into(),
        DataType::Decimal128(p, s) => format!("DECIMAL({p},{s})"),
        other => other.to_string().to_ascii_uppercase(),
    }
}

fn function_name(name: &str, arguments: &[Expression], distinct: bool) -> String {
    let args: Vec<String> = arguments.iter().map(spark_name).collect();
    let infix = |op: &str| format!("({} {op} {})", args.first().cloned().unwrap_or_default(), args.get(1).cloned().unwrap_or_default());
    match name {
        "==" => infix("="),
        "<" | "<=" | ">" | ">=" | "+" | "*" | "/" | "%" | "<=>" | "!=" => infix(name),
        "-" if args.len() == 2 => infix("-"),
        "-" | "negative" => format!("(- {})", args.join("")),
        "and" => infix("AND"),
        "or" => infix("OR"),
        "not" | "!" => format!("(NOT {})", args.join("")),
        "isNull" | "isnull" => format!("({} IS NULL)", args.join("")),
        "isNotNull" | "isnotnull" => format!("({} IS NOT NULL)", args.join("")),
        "when" | "case" => {
            let mut text = "CASE".to_owned();
            let mut pairs = args.chunks_exact(2);
            for pair in pairs.by_ref() {
                text.push_str(&format!(" WHEN {} THEN {}", pair[0], pair[1]));
            }
            if let [otherwise] = pairs.remainder() {
                text.push_str(&format!(" ELSE {otherwise}"));
            }
            text + " END"
        }
        "in" => format!("({} IN ({}))", args.first().cloned().unwrap_or_default(), args.get(1..).unwrap_or_default().join(", ")),
        _ if arguments.len() == 1 && matches!(arguments[0].expr_type, Some(ExprType::UnresolvedStar(_))) && name == "count" => {
            "count(1)".to_owned()
        }
        _ => format!("{name}({}{})", if distinct { "DISTINCT " } else { "" }, args.join(", ")),
    }
}

/// `col` as DataFusion takes it, for names the client gives as plain strings.
pub fn column(name: &str) -> Expr {
    col(Column::new_unqualified(name))
}
