-- The portfolio's copy of each active engagement's current score, worked out by the
-- application's scoring rules (src/scorecard/scoring.rs). A row is good for the day it was
-- worked out on, in the engagement's time zone (a missing vendor value turns into a breach
-- as days pass); triggers drop it as soon as anything it was worked out from changes.
create table engagement_scores (
    engagement_id bigint primary key references engagements (id),
    computed_on date not null,
    period_label text not null,
    score numeric,
    standing text not null
        check (standing in ('excellent', 'good', 'attention', 'critical', 'no_data')),
    change numeric,
    worst text not null default ''
);

create function forget_scores_of_kpis() returns trigger language plpgsql as $$
begin
    delete from engagement_scores s using kpis k
    where k.id in (select kpi_id from changed) and s.engagement_id = k.engagement_id;
    return null;
end;
$$;

create function forget_scores_of_engagements() returns trigger language plpgsql as $$
begin
    delete from engagement_scores where engagement_id in (select engagement_id from changed);
    return null;
end;
$$;

create function forget_scores_of_changed_engagements() returns trigger language plpgsql as $$
begin
    delete from engagement_scores where engagement_id in (select id from changed);
    return null;
end;
$$;

create trigger kpi_values_forget_scores_insert after insert on kpi_values
    referencing new table as changed for each statement execute function forget_scores_of_kpis();
create trigger kpi_values_forget_scores_update after update on kpi_values
    referencing new table as changed for each statement execute function forget_scores_of_kpis();
create trigger kpi_terms_forget_scores_insert after insert on kpi_terms
    referencing new table as changed for each statement execute function forget_scores_of_kpis();
create trigger kpi_terms_forget_scores_update after update on kpi_terms
    referencing new table as changed for each statement execute function forget_scores_of_kpis();
create trigger kpis_forget_scores_insert after insert on kpis
    referencing new table as changed for each statement execute function forget_scores_of_engagements();
create trigger kpis_forget_scores_update after update on kpis
    referencing new table as changed for each statement execute function forget_scores_of_engagements();
create trigger engagements_forget_scores after update on engagements
    referencing new table as changed for each statement execute function forget_scores_of_changed_engagements();
