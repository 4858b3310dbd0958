-- Each exam with a submitted, named attempt has one current span in dim_exam_names,
-- under the name dim_exams gives it.

with

current_names as (

    select
        base_exam_id,
        count(*) as current_spans,
        max(exam_name) as exam_name
    from {{ ref('dim_exam_names') }}
    where is_current
    group by base_exam_id

)

select
    dim_exams.base_exam_id,
    dim_exams.exam_name,
    current_names.exam_name as current_span_name,
    current_names.current_spans
from {{ ref('dim_exams') }} as dim_exams
left join current_names
    on dim_exams.base_exam_id = current_names.base_exam_id
where
    dim_exams.last_attempt_at is not null
    and dim_exams.exam_name is not null
    and (
        current_names.current_spans is distinct from 1
        or current_names.exam_name is distinct from dim_exams.exam_name
    )
