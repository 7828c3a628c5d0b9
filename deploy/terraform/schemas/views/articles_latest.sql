SELECT *
FROM `${project}.${dataset}.articles`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY article_id ORDER BY version DESC, processed_at DESC) = 1
