WITH latest AS (
  SELECT * REPLACE (COALESCE(cluster_id, FIRST_VALUE(cluster_id IGNORE NULLS) OVER (
      PARTITION BY article_id ORDER BY version, processed_at
      ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)) AS cluster_id)
  FROM `${project}.${dataset}.articles`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY version DESC, processed_at DESC) = 1
), story AS (
  SELECT cluster_id, agency, merged_into
  FROM `${project}.${dataset}.stories`
  WHERE TRUE
  QUALIFY ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY updated_at DESC) = 1
)
SELECT latest.* REPLACE (COALESCE(latest.agency, merged.agency, story.agency) AS agency)
FROM latest
LEFT JOIN story ON story.cluster_id = latest.cluster_id
LEFT JOIN story AS merged ON merged.cluster_id = story.merged_into
