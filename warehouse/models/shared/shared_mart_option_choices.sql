-- grain: one row per answer option (question_key, option_id) of an owned exam, as
-- marts.mart_option_choices
-- counts are per option, so the mart's rows of a customer's exams are what the mart
-- would hold over that customer's exams alone: the mart's columns as they are (so this
-- table follows the mart), behind the owner's customer_id
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='mart_option_choices') }}

{{ rows_of_owned_exams(ref('mart_option_choices')) }}
