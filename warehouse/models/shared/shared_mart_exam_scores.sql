-- grain: one row per owned exam (base_exam_id), as marts.mart_exam_scores
-- every score is computed within its exam, so the mart's rows of a customer's exams are
-- what the mart would hold over that customer's exams alone: the mart's columns as they
-- are (so this table follows the mart), behind the owner's customer_id
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_exam_scores') }}

{{ rows_of_owned_exams(ref('mart_exam_scores')) }}
