-- The Fruits! job, end to end, as the seeds' PySpark runs it:
--   binaryFile from S3 (or a local directory) → label from the folder → CNN features
--   → StandardScaler(withMean, withStd) → PCA keeping 90 % of the variance
--   → Parquet, committed with _SUCCESS.
--
-- Run:  verger sql -f sql/fruits_pipeline.sql --var input=s3://bucket/fruits/ --var output=s3://bucket/fruits_pca/
--       (add --cluster df://scheduler:50050 to run it on a cluster; local directories work too)
-- Then: verger report s3://bucket/fruits_pca/     (summary, and the PCA scatter plot next to it)
--
-- S3 credentials come from the environment (AWS_* variables, profile or instance role),
-- never from this file.

CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '${input}'
OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');

-- One SELECT: the features are computed once per photo; the scaler and the PCA are fitted
-- exactly on all of them, then applied to each (see EXPLAIN). Spark's output columns, plus
-- the share of variance the PCA kept (one value, repeated: Parquet stores it in a few bytes).
-- 'overwrite' replaces the previous result at commit; until then it stays whole.
COPY (
  SELECT path,
         element_at(split(path, '/'), -2)                                         AS label,
         pca(standardize(image_features(content), true, true), 0.9)               AS pca_features,
         pca_explained_variance(standardize(image_features(content), true, true), 0.9) AS explained_variance
  FROM images
) TO '${output}' STORED AS PARQUET OPTIONS ('mode' 'overwrite');
