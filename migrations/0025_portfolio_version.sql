-- The portfolio learns in one index probe whether its stored scores are current, and an
-- instance may keep a page of it in memory under the version of what it shows.
--
-- Before: a change dropped the engagement's row of `engagement_scores`, and "current" was
-- two counts over every active engagement. Now every active engagement always has a row,
-- and a change marks it stale (`valid_until = '-infinity'`) instead, so "current" is
-- `min(valid_until) > now`, read off the index. `portfolio_version` counts the writes that
-- change what the rows say while they stay current: a refresh's writes and the removal of
-- an engagement that is no longer active. It is read in the same statement as "current",
-- so a page kept under a version is exactly what the table held then.

create table portfolio_version (
    only_row boolean primary key default true check (only_row),
    version bigint not null
);
insert into portfolio_version (version) values (1);

-- Every active engagement has a row from now on: a stale placeholder until it is worked out.
create function placeholder_scores(ids bigint[]) returns void language sql as $$
    insert into engagement_scores (engagement_id, valid_until, engagement_name, vendor_name, tier,
                                   owner_id, owner_name, period_label, standing)
    select e.id, '-infinity', e.name, '', 'low', e.owner_id, '', '', 'no_data'
    from engagements e
    where e.id = any (ids) and e.status = 'active'
    order by e.id
    on conflict (engagement_id) do update set valid_until = '-infinity';
$$;

select placeholder_scores(array(select id from engagements where status = 'active'));

create or replace function forget_scores_of_kpis() returns trigger language plpgsql as $$
begin
    update engagement_scores s set valid_until = '-infinity'
    from kpis k
    where k.id in (select kpi_id from changed) and s.engagement_id = k.engagement_id
      and s.valid_until > '-infinity';
    return null;
end;
$$;

create or replace function forget_scores_of_engagements() returns trigger language plpgsql as $$
begin
    update engagement_scores set valid_until = '-infinity'
    where engagement_id in (select engagement_id from changed) and valid_until > '-infinity';
    return null;
end;
$$;

-- An engagement's own row: stale while it is active, gone (a new version) when it is not.
create or replace function forget_scores_of_changed_engagements() returns trigger language plpgsql as $$
begin
    perform placeholder_scores(array(select id from changed where status = 'active'));
    with gone as (
        delete from engagement_scores
        where engagement_id in (select id from changed where status <> 'active')
        returning 1
    )
    update portfolio_version set version = version + 1 where exists (select 1 from gone);
    return null;
end;
$$;

create or replace function forget_scores_of_vendors() returns trigger language plpgsql as $$
begin
    update engagement_scores s set valid_until = '-infinity'
    from engagements e
    where e.vendor_id in (select id from changed) and s.engagement_id = e.id
      and s.valid_until > '-infinity';
    return null;
end;
$$;

create or replace function forget_scores_of_owners() returns trigger language plpgsql as $$
begin
    update engagement_scores set valid_until = '-infinity'
    where owner_id in (select id from changed) and valid_until > '-infinity';
    return null;
end;
$$;

-- An engagement created active gets its placeholder too.
create trigger engagements_placeholder_scores after insert on engagements
    referencing new table as changed for each statement execute function forget_scores_of_changed_engagements();

-- The portfolio's filter by manager reads co-managers: a change of them is a new version.
create trigger engagement_managers_forget_scores_insert after insert on engagement_managers
    referencing new table as changed for each statement execute function forget_scores_of_engagements();
create trigger engagement_managers_forget_scores_delete after delete on engagement_managers
    referencing old table as changed for each statement execute function forget_scores_of_engagements();
