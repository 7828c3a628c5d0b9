SELECT *
FROM `${project}.${dataset}.articles`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY article_id, version ORDER BY processed_at DESC) = 1
