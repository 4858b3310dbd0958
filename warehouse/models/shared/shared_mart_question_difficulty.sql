-- grain: one row per question (question_key) of an owned exam, as
-- marts.mart_question_difficulty
-- counts are per question and difficulty_rank_in_exam ranks within the exam, so the
-- mart's rows of a customer's exams are what the mart would hold over that customer's
-- exams alone: the mart's columns as they are (so this table follows the mart), behind
-- the owner's customer_id
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_question_difficulty') }}

{{ rows_of_owned_exams(ref('mart_question_difficulty')) }}
