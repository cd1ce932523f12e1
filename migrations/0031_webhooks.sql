-- Outgoing webhooks: endpoints the admins register, the events Trellis raises for them, and
-- one delivery per event and endpoint, sent by `webhooks::deliver` from this outbox.
--
-- Every event is written by a statement trigger in the transaction of the write it tells of
-- (a value disputed, a finding raised, a reminder raised, ...), whichever page, API route or
-- import made it: the event exists exactly when the write does. A trigger writes nothing
-- while no enabled endpoint wants its kind: without endpoints, imports and seeding pay one
-- probe of this small table per statement and look at no row. Webhook times are the
-- database's clock: receivers check the signed timestamp against theirs.

create table webhook_endpoints (
    id bigint generated always as identity primary key,
    name text not null check (length(btrim(name)) between 1 and 200),
    url text not null check (length(url) between 1 and 2000),
    events text[] not null check (cardinality(events) > 0),
    -- standard: the event as JSON (Standard Webhooks); chat: a Slack- and Teams-compatible
    -- message, {"text": ...}.
    format text not null default 'standard' check (format in ('standard', 'chat')),
    -- whsec_ and the base64 of 24 random bytes: shown once, signs every delivery.
    secret text not null,
    created_by bigint not null references users (id),
    created_at timestamptz not null,
    -- Since when every attempt has failed; a day of that disables the endpoint.
    failing_since timestamptz,
    disabled_at timestamptz,
    disabled_reason text
);

create table webhook_events (
    -- Its stable id: the `webhook-id` of every delivery, evt_ and this without dashes.
    id uuid primary key,
    kind text not null,
    vendor_id bigint references vendors (id),
    engagement_id bigint references engagements (id),
    -- {engagement, vendor, subject, summary, path}: what the body says, the instance adding
    -- the link from its public address.
    data jsonb not null,
    created_at timestamptz not null default now()
);
create index webhook_events_created on webhook_events (created_at);

create table webhook_deliveries (
    id bigint generated always as identity primary key,
    event_id uuid not null references webhook_events (id),
    endpoint_id bigint not null references webhook_endpoints (id) on delete cascade,
    attempts integer not null default 0,
    -- Due when it is past; a sender claims a delivery by moving it past its own timeout, so an
    -- instance that dies mid-delivery leaves it to another once that lease has run out.
    next_attempt_at timestamptz not null default now(),
    last_attempt_at timestamptz,
    -- The receiver's HTTP status of the last attempt; null when it gave none.
    last_status integer,
    last_error text,
    delivered_at timestamptz,
    unique (event_id, endpoint_id)
);
create index webhook_deliveries_due on webhook_deliveries (next_attempt_at) where delivered_at is null;
create index webhook_deliveries_endpoint on webhook_deliveries (endpoint_id, id desc);

-- Whether an enabled endpoint wants events of this kind.
create function webhook_wanted(p_kind text) returns boolean language sql stable as $$
    select exists (select 1 from webhook_endpoints where disabled_at is null and p_kind = any (events));
$$;

-- The data of an event about engagement `p_engagement` (or, without one, vendor `p_vendor`).
create function webhook_data(p_vendor bigint, p_engagement bigint, p_subject jsonb, p_summary text, p_path text)
returns jsonb language sql stable as $$
    select jsonb_build_object(
        'vendor', (select jsonb_build_object('id', v.id, 'name', v.name) from vendors v
                   where v.id = coalesce(p_vendor, (select vendor_id from engagements where id = p_engagement))),
        'engagement', (select jsonb_build_object('id', e.id, 'name', e.name) from engagements e where e.id = p_engagement),
        'subject', p_subject, 'summary', p_summary, 'path', p_path);
$$;

-- Each new event goes to every enabled endpoint that wants its kind; the senders hear of it
-- when the transaction commits.
create function webhook_fan_out() returns trigger language plpgsql as $$
begin
    insert into webhook_deliveries (event_id, endpoint_id)
    select f.id, w.id
    from fresh f join webhook_endpoints w on w.disabled_at is null and f.kind = any (w.events);
    if found then
        perform pg_notify('trellis_webhooks', '');
    end if;
    return null;
end;
$$;
create trigger webhook_events_fan_out after insert on webhook_events
    referencing new table as fresh for each statement execute function webhook_fan_out();

-- KPI values: reported (a new value, or a correction of one), disputed, verified.
create function webhook_kpi_values() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), c.kind, k.engagement_id,
           webhook_data(null, k.engagement_id,
                        jsonb_build_object('type', 'kpi_value', 'id', n.id, 'kpi', jsonb_build_object('id', k.id, 'name', k.name),
                                           'period_start', n.period_start, 'value', n.value::text, 'state', n.state),
                        c.verb || ': ' || k.name || ', period from ' || n.period_start || ', value ' || n.value,
                        '/engagements/' || k.engagement_id || '/values')
    from new_rows n
    join old_rows o on o.id = n.id
    join kpis k on k.id = n.kpi_id
    cross join lateral (values
        ('kpi_value.reported', 'KPI value corrected', n.recorded_at is distinct from o.recorded_at),
        ('kpi_value.disputed', 'KPI value disputed', n.state = 'disputed' and o.state <> 'disputed'),
        ('kpi_value.verified', 'KPI value verified', n.state = 'verified' and o.state <> 'verified')
    ) as c (kind, verb, happened)
    where c.happened and webhook_wanted(c.kind);
    return null;
end;
$$;
create function webhook_kpi_values_inserted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), 'kpi_value.reported', k.engagement_id,
           webhook_data(null, k.engagement_id,
                        jsonb_build_object('type', 'kpi_value', 'id', n.id, 'kpi', jsonb_build_object('id', k.id, 'name', k.name),
                                           'period_start', n.period_start, 'value', n.value::text, 'state', n.state),
                        'KPI value reported: ' || k.name || ', period from ' || n.period_start || ', value ' || n.value,
                        '/engagements/' || k.engagement_id || '/values')
    from new_rows n join kpis k on k.id = n.kpi_id
    where webhook_wanted('kpi_value.reported');
    return null;
end;
$$;
create trigger kpi_values_webhooks_insert after insert on kpi_values
    referencing new table as new_rows for each statement execute function webhook_kpi_values_inserted();
create trigger kpi_values_webhooks_update after update on kpi_values
    referencing old table as old_rows new table as new_rows for each statement execute function webhook_kpi_values();

-- Findings raised.
create function webhook_findings() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), 'finding.raised', n.engagement_id,
           webhook_data(null, n.engagement_id,
                        jsonb_build_object('type', 'finding', 'id', n.id, 'severity', n.severity, 'owner_side', n.owner_side,
                                           'due_on', n.due_on),
                        'Audit finding raised (' || n.severity || '), due ' || n.due_on || ': ' || left(n.description, 80),
                        '/engagements/' || n.engagement_id || '/audits#finding-' || n.id)
    from new_rows n
    where webhook_wanted('finding.raised');
    return null;
end;
$$;
create trigger findings_webhooks after insert on findings
    referencing new table as new_rows for each statement execute function webhook_findings();

-- Feedback shared (written shared, or shared later) and acknowledged.
create function webhook_feedback() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), c.kind, n.engagement_id,
           webhook_data(null, n.engagement_id,
                        jsonb_build_object('type', 'feedback', 'id', n.id, 'kind', n.kind),
                        c.verb || ': ' || left(n.situation, 80),
                        '/engagements/' || n.engagement_id || '/feedback')
    from new_rows n
    join old_rows o on o.id = n.id
    cross join lateral (values
        ('feedback.shared', 'Feedback shared', n.shared and not o.shared),
        ('feedback.acknowledged', 'Feedback acknowledged', n.acknowledged_at is not null and o.acknowledged_at is null)
    ) as c (kind, verb, happened)
    where c.happened and webhook_wanted(c.kind);
    return null;
end;
$$;
create function webhook_feedback_inserted() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), 'feedback.shared', n.engagement_id,
           webhook_data(null, n.engagement_id, jsonb_build_object('type', 'feedback', 'id', n.id, 'kind', n.kind),
                        'Feedback shared: ' || left(n.situation, 80),
                        '/engagements/' || n.engagement_id || '/feedback')
    from new_rows n
    where n.shared and webhook_wanted('feedback.shared');
    return null;
end;
$$;
create trigger feedback_webhooks_insert after insert on feedback
    referencing new table as new_rows for each statement execute function webhook_feedback_inserted();
create trigger feedback_webhooks_update after update on feedback
    referencing old table as old_rows new table as new_rows for each statement execute function webhook_feedback();

-- Check-ins logged.
create function webhook_checkins() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), 'checkin.logged', n.engagement_id,
           webhook_data(null, n.engagement_id,
                        jsonb_build_object('type', 'checkin', 'id', n.id, 'held_on', n.held_on, 'health', n.health,
                                           'shared', n.shared),
                        'Check-in logged for ' || n.held_on || ' (' || replace(n.health, '_', ' ') || ')',
                        '/engagements/' || n.engagement_id || '/checkins')
    from new_rows n
    where webhook_wanted('checkin.logged');
    return null;
end;
$$;
create trigger checkins_webhooks after insert on checkins
    referencing new table as new_rows for each statement execute function webhook_checkins();

-- Reviews completed.
create function webhook_reviews() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), 'review.completed', n.engagement_id,
           webhook_data(null, n.engagement_id,
                        jsonb_build_object('type', 'review', 'id', n.id, 'period', n.period_label, 'decision', n.decision),
                        'Review of ' || n.period_label || ' completed: ' || n.decision,
                        '/reviews/' || n.id)
    from new_rows n join old_rows o on o.id = n.id
    where n.status = 'completed' and o.status <> 'completed' and webhook_wanted('review.completed');
    return null;
end;
$$;
create trigger reviews_webhooks after update on reviews
    referencing old table as old_rows new table as new_rows for each statement execute function webhook_reviews();

-- Questionnaires submitted.
create function webhook_questionnaires() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, vendor_id, engagement_id, data)
    select gen_random_uuid(), 'questionnaire.submitted', n.vendor_id, n.engagement_id,
           webhook_data(n.vendor_id, n.engagement_id,
                        jsonb_build_object('type', 'questionnaire', 'id', n.id, 'due_on', n.due_on),
                        'Questionnaire submitted: ' || t.name,
                        '/questionnaires/' || n.id)
    from new_rows n join old_rows o on o.id = n.id join questionnaire_templates t on t.id = n.template_id
    where n.status = 'submitted' and o.status <> 'submitted' and webhook_wanted('questionnaire.submitted');
    return null;
end;
$$;
create trigger questionnaires_webhooks after update on questionnaires
    referencing old table as old_rows new table as new_rows for each statement execute function webhook_questionnaires();

-- What the scheduler raises: a finding assigned to the vendor or overdue, a notice day
-- approaching, a document expiring. The reminder's title and link say it.
create function webhook_reminders() returns trigger language plpgsql as $$
begin
    if not exists (select 1 from webhook_endpoints where disabled_at is null) then
        return null;
    end if;
    insert into webhook_events (id, kind, engagement_id, data)
    select gen_random_uuid(), c.event, n.engagement_id,
           webhook_data(null, n.engagement_id,
                        jsonb_build_object('type', c.subject, 'id', coalesce(n.subject_id, n.engagement_id), 'due_on', n.due_on),
                        n.title, n.link)
    from new_rows n
    join (values ('finding_assigned', 'finding.assigned', 'finding'), ('finding_overdue', 'finding.overdue', 'finding'),
                 ('notice_date', 'contract.notice_approaching', 'engagement'),
                 ('document_expiring', 'document.expiring', 'document')) as c (kind, event, subject)
      on c.kind = n.kind
    where webhook_wanted(c.event);
    return null;
end;
$$;
create trigger reminders_webhooks after insert on reminders
    referencing new table as new_rows for each statement execute function webhook_reminders();
