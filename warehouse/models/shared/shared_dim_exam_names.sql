-- grain: one row per owned exam and span of attempts under one name (base_exam_id,
-- span_number), as marts.dim_exam_names
-- spans are per exam (an exam's own name history), so the mart's rows of a customer's
-- exams are what the mart would hold over that customer's exams alone: the mart's
-- columns as they are (so this table follows the mart), behind the owner's customer_id
-- recomputed whole: ownership (the seed exam_owners) may change between runs
{{ config(alias='dim_exam_names') }}

{{ rows_of_owned_exams(ref('dim_exam_names')) }}
