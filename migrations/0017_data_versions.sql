-- A version number for what each engagement's scorecard is computed from, so that an
-- instance may keep a computed scorecard in memory (`crate::cache`) and still see every
-- write on its next read, wherever the write happened: the version is read with the access
-- check, and a cached value is used only under the version it was computed at.
--
-- Statement triggers bump the version in the writing transaction, so a reader that sees
-- the write sees the new version too. Row 0 stands for what every scorecard shows of
-- other tables: the names of the people who recorded values.
create table data_versions (
    engagement_id bigint primary key,
    version bigint not null
);

create sequence data_version_seq;

-- Inserts go in key order, so two statements bumping overlapping sets of engagements wait
-- for one another instead of deadlocking.
create function bump_data_versions(ids bigint[]) returns void language sql as $$
    insert into data_versions (engagement_id, version)
    select id, nextval('data_version_seq') from (select distinct unnest(ids) as id order by 1) i
    on conflict (engagement_id) do update set version = excluded.version;
$$;

create function bump_versions_of_kpi_rows() returns trigger language plpgsql as $$
begin
    perform bump_data_versions(array(
        select k.engagement_id from kpis k where k.id in (select kpi_id from changed)));
    return null;
end;
$$;

create function bump_versions_of_engagement_rows() returns trigger language plpgsql as $$
begin
    perform bump_data_versions(array(select engagement_id from changed));
    return null;
end;
$$;

create function bump_version_of_names() returns trigger language plpgsql as $$
begin
    perform bump_data_versions(array[0::bigint]);
    return null;
end;
$$;

create trigger kpi_values_bump_versions_insert after insert on kpi_values
    referencing new table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpi_values_bump_versions_update after update on kpi_values
    referencing new table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpi_values_bump_versions_delete after delete on kpi_values
    referencing old table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpi_terms_bump_versions_insert after insert on kpi_terms
    referencing new table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpi_terms_bump_versions_update after update on kpi_terms
    referencing new table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpi_terms_bump_versions_delete after delete on kpi_terms
    referencing old table as changed for each statement execute function bump_versions_of_kpi_rows();
create trigger kpis_bump_versions_insert after insert on kpis
    referencing new table as changed for each statement execute function bump_versions_of_engagement_rows();
create trigger kpis_bump_versions_update after update on kpis
    referencing new table as changed for each statement execute function bump_versions_of_engagement_rows();
create trigger kpis_bump_versions_delete after delete on kpis
    referencing old table as changed for each statement execute function bump_versions_of_engagement_rows();
-- The scorecard shows the vendor's proactivity: proposals raised and accepted.
create trigger proposals_bump_versions_insert after insert on proposals
    referencing new table as changed for each statement execute function bump_versions_of_engagement_rows();
create trigger proposals_bump_versions_update after update on proposals
    referencing new table as changed for each statement execute function bump_versions_of_engagement_rows();
create trigger proposals_bump_versions_delete after delete on proposals
    referencing old table as changed for each statement execute function bump_versions_of_engagement_rows();
-- A row trigger, so that only a change of name counts (users are updated for other reasons).
create trigger users_bump_version_of_names after update of name on users
    for each row when (old.name is distinct from new.name)
    execute function bump_version_of_names();
