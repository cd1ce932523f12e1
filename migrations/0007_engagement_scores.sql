-- The portfolio's copy of each active engagement's current score, worked out by the
-- application's scoring rules (src/scorecard/scoring.rs), with what the portfolio filters
-- and sorts on, so that one narrow table answers a page. A row is good until the end of
-- the day it was worked out on, in the engagement's time zone (a missing vendor value turns
-- into a breach as days pass); triggers drop it as soon as anything it was worked out from
-- changes.
create table engagement_scores (
    engagement_id bigint primary key references engagements (id),
    valid_until timestamptz not null,
    engagement_name text not null,
    vendor_name text not null,
    tier text not null,
    owner_id bigint not null,
    owner_name text not null,
    period_label text not null,
    score numeric,
    standing text not null
        check (standing in ('excellent', 'good', 'attention', 'critical', 'no_data')),
    change numeric,
    worst text not null default ''
);
create index engagement_scores_score on engagement_scores (score asc nulls last, engagement_id);

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

create function forget_scores_of_vendors() returns trigger language plpgsql as $$
begin
    delete from engagement_scores s using engagements e
    where e.vendor_id in (select id from changed) and s.engagement_id = e.id;
    return null;
end;
$$;

create function forget_scores_of_owners() returns trigger language plpgsql as $$
begin
    delete from engagement_scores where owner_id in (select id from changed);
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
create trigger vendors_forget_scores after update on vendors
    referencing new table as changed for each statement execute function forget_scores_of_vendors();
create trigger users_forget_scores after update on users
    referencing new table as changed for each statement execute function forget_scores_of_owners();

-- Whether any active engagement lacks a current score is two counts over these.
create index engagement_scores_valid_until on engagement_scores (valid_until);
create index engagements_active on engagements (id) where status = 'active';
