-- Every mart that names exams gives each exam dim_exams' name: an exam's name is
-- decided once, there. Returns one row per mart and exam whose name differs.

with

dim_exams as (

    select * from {{ ref('dim_exams') }}

),

named as (

    {% for mart in ['mart_exam_popularity', 'mart_exam_scores', 'mart_question_difficulty',
                    'mart_attempt_durations'] -%}
    select distinct
        '{{ mart }}' as mart,
        base_exam_id,
        exam_name
    from {{ ref(mart) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    named.mart,
    named.base_exam_id,
    named.exam_name,
    dim_exams.exam_name as dim_exams_name
from named
left join dim_exams
    on named.base_exam_id = dim_exams.base_exam_id
where named.exam_name is distinct from dim_exams.exam_name
