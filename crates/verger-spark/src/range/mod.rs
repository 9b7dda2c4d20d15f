//! Spark's `range(start, end, step, numPartitions)` as a table source: one non-nullable `id`
//! (bigint) column, generated batch by batch in each partition, never held whole.
//!
//! Spark slices the `n` values into `p` partitions as `[i·n/p, (i+1)·n/p)`; so does
//! [`SparkRange`], so that a partition's rows, and the order of the rows across partitions,
//! are Spark's. Its row count is exact plan statistics (a `count()` of a range costs nothing).
//! The table and its scan cross a cluster's hops through [`SparkRangeCodec`].

mod codec;
mod exec;

pub use codec::SparkRangeCodec;
pub use exec::RangeExec;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::plan_err;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, TableType};
use datafusion::physical_plan::ExecutionPlan;
use std::sync::{Arc, LazyLock};

/// The one column of a range.
pub const RANGE_COLUMN: &str = "id";

static RANGE_SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| Arc::new(Schema::new(vec![Field::new(RANGE_COLUMN, DataType::Int64, false)])));

/// The values `start, start + step, …` below `end` (above it for a negative step), in
/// `partitions` slices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SparkRange {
    start: i64,
    end: i64,
    step: i64,
    partitions: usize,
}

impl SparkRange {
    /// Spark's `range`; a zero step, or no partition, is an error as in Spark.
    pub fn try_new(start: i64, end: i64, step: i64, partitions: usize) -> Result<Self> {
        if step == 0 {
            return plan_err!("[FAILED_FUNCTION_CALL] range: the step must not be 0");
        }
        if partitions == 0 {
            return plan_err!("[FAILED_FUNCTION_CALL] range: the number of partitions must be positive");
        }
        Ok(Self { start, end, step, partitions })
    }

    /// The number of values: ⌈(end − start) / step⌉, or 0 when `end` is on the wrong side.
    pub fn len(&self) -> u64 {
        let (span, step) = (i128::from(self.end) - i128::from(self.start), i128::from(self.step));
        if span == 0 || (span > 0) != (step > 0) {
            return 0;
        }
        // At most 2^64 / 1: fits a u64 but for (i64::MIN..i64::MAX step 1), which is 2^64 − 1.
        u64::try_from((span + step - step.signum()) / step).unwrap_or(u64::MAX)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn partitions(&self) -> usize {
        self.partitions
    }

    /// Indexes `[first, end)` of the values in `partition`, Spark's slicing.
    fn slice(&self, partition: usize) -> (u64, u64) {
        let (n, p) = (u128::from(self.len()), self.partitions as u128);
        let bound = |i: usize| u64::try_from(i as u128 * n / p).unwrap_or(u64::MAX);
        (bound(partition), bound(partition + 1))
    }

    /// The value at `index` (always between start and end, so within i64).
    fn value(&self, index: u64) -> i64 {
        let value = i128::from(self.start) + i128::from(index) * i128::from(self.step);
        i64::try_from(value).unwrap_or(if self.step > 0 { i64::MAX } else { i64::MIN })
    }

    /// At most `limit` values: the first ones, in one partition, so that they keep their
    /// order however the partitions are merged (a cluster merges them as they arrive).
    fn limited(self, limit: Option<usize>) -> Self {
        match limit {
            Some(limit) if (limit as u64) < self.len() => {
                let end = i128::from(self.start) + limit as i128 * i128::from(self.step);
                Self { end: i64::try_from(end).unwrap_or(self.end), partitions: 1, ..self }
            }
            _ => self,
        }
    }
}

#[async_trait]
impl TableProvider for SparkRange {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&RANGE_SCHEMA)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let with_id = projection.is_none_or(|columns| columns.contains(&0));
        Ok(Arc::new(RangeExec::new(self.limited(limit), with_id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(range: &SparkRange) -> Vec<Vec<i64>> {
        (0..range.partitions)
            .map(|p| {
                let (first, end) = range.slice(p);
                (first..end).map(|i| range.value(i)).collect()
            })
            .collect()
    }

    #[test]
    fn values_and_slices_are_spark_s() -> Result<()> {
        // spark.range(0, 10, 3, 2): [[0, 3], [6, 9]]
        assert_eq!(values(&SparkRange::try_new(0, 10, 3, 2)?), vec![vec![0, 3], vec![6, 9]]);
        // spark.range(10, 0, -4, 3): n = 3, one value a partition.
        assert_eq!(values(&SparkRange::try_new(10, 0, -4, 3)?), vec![vec![10], vec![6], vec![2]]);
        assert_eq!(values(&SparkRange::try_new(0, 5, 1, 3)?), vec![vec![0], vec![1, 2], vec![3, 4]]);
        assert!(SparkRange::try_new(5, 0, 1, 2)?.is_empty());
        assert!(SparkRange::try_new(0, 0, 1, 1)?.is_empty());
        assert_eq!(SparkRange::try_new(i64::MIN, i64::MAX, 1, 4)?.len(), u64::MAX);
        assert_eq!(SparkRange::try_new(i64::MAX - 1, i64::MAX, 5, 1)?.len(), 1);
        assert!(SparkRange::try_new(0, 1, 0, 1).is_err());
        assert!(SparkRange::try_new(0, 1, 1, 0).is_err());
        Ok(())
    }

    #[test]
    fn a_limit_keeps_the_first_values() -> Result<()> {
        let range = SparkRange::try_new(0, 100, 7, 2)?.limited(Some(3));
        assert_eq!(values(&range), vec![vec![0, 7, 14]]);
        let range = SparkRange::try_new(0, -100, -7, 2)?.limited(Some(2));
        assert_eq!(values(&range).concat(), vec![0, -7]);
        Ok(())
    }
}
