SELECT *
FROM `${project}.${dataset}.raw_items`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY replay_key ORDER BY received_at DESC) = 1
