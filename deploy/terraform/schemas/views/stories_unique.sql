SELECT *
FROM `${project}.${dataset}.stories`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY cluster_id ORDER BY updated_at DESC) = 1
