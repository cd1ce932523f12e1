-- An engagement's contract: how its term renews, the notice period in days or months, its
-- value per year and the contract document (a vendor document of the kind "Contract"). `end_date` stays the last day of the initial
-- term. `notice_by` is the last day to give notice as Trellis works it out
-- (engagements::contract) for today in the engagement's zone, and `term_end` the end of the
-- term that notice given by then stops (the current term's, until its notice day passes),
-- stored for the portfolio and the reminders and refreshed when the notice day passes.
--
-- Additive only: binaries of the previous release keep reading `notice_days` and
-- `end_date` as before while this one serves.

alter table engagements
    add column renewal text not null default 'none'
        check (renewal in ('none', 'automatic', 'decision')),
    add column renewal_months integer check (renewal_months between 1 and 120),
    add column initial_term_months integer check (initial_term_months between 1 and 600),
    add column notice_months integer check (notice_months between 1 and 120),
    add column annual_value numeric(16, 2) check (annual_value >= 0),
    add column currency text check (currency ~ '^[A-Z]{3}$'),
    -- The signed contract, kept in the vendor's register of documents (its file, versions and
    -- who may see it); one of the engagement's vendor's documents.
    add column contract_document_id bigint references vendor_documents (id),
    add column term_end date,
    add column notice_by date,
    add constraint engagements_renewal_needs_term check (renewal = 'none' or end_date is not null),
    add constraint engagements_automatic_renewal_period
        check (renewal <> 'automatic' or renewal_months is not null),
    add constraint engagements_value_currency check ((annual_value is null) = (currency is null));

-- Until now every engagement with an end date had a notice day: it ends unless renewed.
update engagements
set renewal = 'decision', term_end = end_date, notice_by = end_date - notice_days
where end_date is not null;

create index engagements_notice_by on engagements (notice_by) where notice_by is not null;

-- The portfolio shows, filters and sorts by both dates.
alter table engagement_scores add column term_end date, add column notice_by date;
create index engagement_scores_notice_by on engagement_scores (notice_by, engagement_id);
update engagement_scores set valid_until = '-infinity';

-- The last day the engagement runs, as far as anyone knows today: an automatic renewal
-- runs until notice is given, whatever its initial term's end.
alter table engagements
    add column runs_until date generated always as (case when renewal = 'automatic' then null else end_date end) stored;

-- A change of the terms forgets the dates worked out from them: the writer stores the new
-- ones in its transaction (engagements::contract::store_dates), and a scheduler pass finds
-- any it did not.
create function forget_contract_dates() returns trigger language plpgsql as $$
begin
    new.term_end := null;
    new.notice_by := null;
    return new;
end;
$$;

create trigger engagements_forget_contract_dates
    before update of start_date, end_date, notice_days, notice_months, renewal, renewal_months on engagements
    for each row
    when ((old.start_date, old.end_date, old.notice_days, old.notice_months, old.renewal, old.renewal_months)
          is distinct from (new.start_date, new.end_date, new.notice_days, new.notice_months, new.renewal,
                            new.renewal_months))
    execute function forget_contract_dates();

-- Contracts are kept in the vendors' registers of documents.
insert into document_kinds (name, required)
select 'Contract', false
where not exists (select 1 from document_kinds where lower(name) = 'contract');
