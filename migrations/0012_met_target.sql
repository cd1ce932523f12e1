-- Whether a KPI value met its target: the celebration rule's test, named so that a test can
-- compare it with `scoring::kpi_result` in Rust (met there means counted and on target). A
-- disputed value counts as absent until resolved; on the target itself is met.
create function kpi_met(direction text, state text, value numeric, target numeric)
returns boolean language sql immutable as $$
    select state <> 'disputed'
           and case direction when 'higher' then value >= target else value <= target end
$$;
