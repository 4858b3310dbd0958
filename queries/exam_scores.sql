-- question: How well do people score per exam (mean of attempts, pooled, perfect, low)?
select
    exam_name,
    base_exam_id,
    scored_attempts,
    round(mean_score, 3) as mean_score,
    round(pooled_score, 3) as pooled_score,
    round(score_stddev, 3) as score_stddev,
    perfect_attempts,
    below_half_attempts
from marts.mart_exam_scores
order by scored_attempts desc, base_exam_id
limit 10
