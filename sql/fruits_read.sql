-- The Fruits! job, first step: read the photos as Spark's binaryFile source does and take the
-- label from the parent folder, exactly like the seeds' PySpark:
--   spark.read.format("binaryFile").option("pathGlobFilter", "*.jpg")
--        .option("recursiveFileLookup", "true").load(input)
--        .withColumn("label", element_at(split(col("path"), "/"), -2))
--
-- Run: verger sql -f sql/fruits_read.sql --var input=s3://bucket/fruits/   (or a local directory)

CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '${input}'
OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');

SELECT element_at(split(path, '/'), -2) AS label,
       count(*)                         AS images,
       sum(length)                      AS bytes,
       min(modificationTime)            AS oldest,
       max(modificationTime)            AS newest
FROM images
GROUP BY 1
ORDER BY 1;
