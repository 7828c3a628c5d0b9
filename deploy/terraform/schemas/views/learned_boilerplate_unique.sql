SELECT *
FROM `${project}.${dataset}.learned_boilerplate`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY feed_id, line_key ORDER BY updated_at DESC) = 1
