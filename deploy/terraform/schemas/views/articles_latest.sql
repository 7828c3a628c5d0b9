SELECT * REPLACE (COALESCE(cluster_id, FIRST_VALUE(cluster_id IGNORE NULLS) OVER (
    PARTITION BY article_id ORDER BY version, processed_at
    ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS cluster_id)
FROM `${project}.${dataset}.articles`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY version DESC, processed_at DESC) = 1
