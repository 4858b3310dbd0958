-- Attempted exams (in dim_exams) that no customer owns (absent from the seed
-- exam_owners): analysts see them in the marts, no customer sees them in shared. That
-- is right for EdTech Co's own exams, so this only warns; the ids are also printed in
-- dbt's output, to add the ones that should have an owner to the seed.
{{ config(severity='warn') }}

{% set unowned_exams %}
select
    dim_exams.base_exam_id,
    dim_exams.exam_name,
    dim_exams.distinct_attempts
from {{ ref('dim_exams') }} as dim_exams
left anti join {{ ref('exam_owners') }} as exam_owners
    on dim_exams.base_exam_id = exam_owners.base_exam_id
{% endset %}

{#- Listed only when the test runs (not when dbt or sqlfluff compiles it) and its inputs
    exist. -#}
{%- if execute and flags.WHICH in ('build', 'test')
    and load_relation(ref('dim_exams')) is not none
    and load_relation(ref('exam_owners')) is not none -%}
{%- set listed = run_query(unowned_exams ~ ' order by base_exam_id') -%}
{%- set ids = listed.columns['base_exam_id'].values() -%}
{%- if ids -%}
{%- set message = 'Attempted exams without an owner (' ~ ids | length ~ '): ' -%}
{{- log(message ~ ids | join(', '), info=True) -}}
{%- endif -%}
{%- endif %}

{{ unowned_exams }}
