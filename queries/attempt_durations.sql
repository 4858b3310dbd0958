-- question: How long do attempts take per exam (median and 90th percentile, seconds)?
select
    exam_name,
    base_exam_id,
    timed_attempts,
    round(median_duration_seconds, 1) as median_seconds,
    round(p90_duration_seconds, 1) as p90_seconds
from marts.mart_attempt_durations
order by timed_attempts desc, base_exam_id
limit 10
