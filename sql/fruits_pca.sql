-- The Fruits! job, third step: standardise the CNN features (withMean, withStd) and reduce
-- them with PCA, keeping the fewest components that explain 90 % of the variance — the
-- seeds' StandardScaler + PCA, fitted exactly over all the photos, in one SELECT.
--
-- Run: verger sql -f sql/fruits_pca.sql --var input=s3://bucket/fruits/   (or a local directory)

CREATE EXTERNAL TABLE images STORED AS BINARYFILE LOCATION '${input}'
OPTIONS ('pathGlobFilter' '*.jpg', 'recursiveFileLookup' 'true');

-- The features are computed once per photo: the one-liners materialise them between their
-- fit and their transform (see EXPLAIN).
CREATE VIEW reduced AS
SELECT element_at(split(path, '/'), -2)                               AS label,
       pca(standardize(image_features(content), true, true), 0.9)     AS pca_features
FROM images;

-- k, and the centre of each fruit in the first two components: labels should sit apart.
SELECT label,
       count(*)                                AS images,
       min(array_length(pca_features))         AS k,
       round(avg(pca_features[1]), 2)          AS mean_pc1,
       round(avg(pca_features[2]), 2)          AS mean_pc2
FROM reduced
GROUP BY label
ORDER BY label;
