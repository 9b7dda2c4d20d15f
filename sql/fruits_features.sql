-- The Fruits! job, second step: CNN features of every photo, as the seeds' pandas UDF computes
-- with MobileNetV2 — here EfficientNet-Lite0 (ImageNet weights, 1280 features; README.md, "The default model")
-- run by ONNX Runtime inside verger. The "what is this?" column is the model's ImageNet guess.
--
-- Run: verger sql -f sql/fruits_features.sql --var input=s3://bucket/fruits/   (or a local directory)

CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '${input}'
OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');

CREATE VIEW features AS
SELECT element_at(split(path, '/'), -2) AS label,
       image_features(content)          AS features
FROM images;

SELECT label,
       count(*)                            AS images,
       min(array_length(features))         AS feature_length,
       round(avg(array_max(features)), 3)  AS mean_max_feature
FROM features
GROUP BY label
ORDER BY label;

SELECT element_at(split(path, '/'), -2)       AS label,
       image_classify(content)['label']       AS imagenet_guess,
       count(*)                               AS images
FROM images
GROUP BY 1, 2
QUALIFY row_number() OVER (PARTITION BY label ORDER BY count(*) DESC) = 1
ORDER BY 1;
