{#- The explicit schema of one attempt payload, for from_json. Never inferred: inference
    from Python dicts turns `sequences` into a lossy map, and a missing key must stay
    null, not false. Every leaf that the export writes as a string stays a string here;
    staging casts it. -#}
{% macro assessment_attempt_schema() -%}
struct<
    keen_id: string,
    keen_timestamp: string,
    keen_created_at: string,
    started_at: string,
    max_attempts: string,
    base_exam_id: string,
    user_exam_id: string,
    exam_name: string,
    certification: string,
    sequences: struct<
        id: string,
        attempt: int,
        questions: array<struct<
            id: string,
            user_incomplete: boolean,
            user_correct: boolean,
            user_submitted: boolean,
            user_result: string,
            options: array<struct<
                id: string,
                checked: boolean,
                at: string,
                submitted: int,
                correct: boolean
            >>
        >>,
        counts: struct<
            total: int,
            correct: int,
            incorrect: int,
            incomplete: int,
            submitted: int,
            unanswered: int,
            all_correct: boolean
        >
    >
>
{%- endmacro %}
