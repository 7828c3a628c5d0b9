SELECT *
FROM `${project}.${dataset}.dead_letter`
WHERE TRUE
QUALIFY ROW_NUMBER() OVER (PARTITION BY dead_letter_id ORDER BY failed_at DESC) = 1
