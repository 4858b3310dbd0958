-- grain: one row per exam (base_exam_id); scored attempts are distinct attempts whose
-- export carries counts with total > 0
{{ config(unique_key='base_exam_id') }}

with

attempts as (

    select * from {{
        rows_of_changed_keys(
            ref('stg_assessments__attempts'), 'base_exam_id', is_incremental()
        )
    }}
    {{ test_records_filter() }}

),

scored as (

    select
        base_exam_id,
        attempt_id,
        counts_correct,
        counts_total,
        counts_incomplete,
        counts_unanswered,
        counts_correct / counts_total as score
    from attempts
    where counts_total > 0

),

aggregated as (

    select
        base_exam_id,
        count(*) as scored_attempts,
        avg(score) as mean_score,
        sum(counts_correct) / sum(counts_total) as pooled_score,
        stddev_samp(score) as score_stddev,
        percentile(score, 0.5) as median_score,
        count_if(score = 1) as perfect_attempts,
        count_if(score < 0.5) as below_half_attempts,
        sum(counts_correct) as correct_answers,
        sum(counts_total) as questions_answered,
        sum(counts_incomplete) as incomplete_answers,
        sum(counts_unanswered) as unanswered_questions
    from scored
    group by base_exam_id

),

final as (

    select
        aggregated.base_exam_id,
        exams.exam_name,
        aggregated.scored_attempts,
        aggregated.mean_score,
        aggregated.pooled_score,
        aggregated.score_stddev,
        aggregated.median_score,
        aggregated.perfect_attempts,
        aggregated.below_half_attempts,
        aggregated.correct_answers,
        aggregated.questions_answered,
        aggregated.incomplete_answers,
        aggregated.unanswered_questions,
        current_timestamp() as built_at
    from aggregated
    inner join {{ ref('dim_exams') }} as exams
        on aggregated.base_exam_id = exams.base_exam_id

)

select * from final
