-- What a vendor user may see, stated once per kind of record. Every query that can serve a
-- vendor user reads these functions instead of the table, passing whether the reader is a
-- vendor user; pages, counts and balances, the scheduler's recipients (and so the inbox and
-- e-mail), the calendar feed, CSV and review snapshots all follow from them. For the
-- organisation's people (`for_vendor` false) each returns the whole table.
--
-- They are plain SQL functions of one select, so PostgreSQL inlines them into the calling
-- statement and plans it as if the condition were written there.
--
-- Vendor isolation between vendors is separate: it stays in each query (`e.vendor_id = $scope`).

-- Check-ins: only those shared with the vendor.
create function visible_checkins(for_vendor boolean) returns setof checkins
language sql stable as $$
    select c.* from checkins c where not for_vendor or c.shared
$$;

-- Action items: the vendor's side of a check-in the vendor sees (or of none); the
-- organisation's own items stay with it, even on a shared check-in.
create function visible_action_items(for_vendor boolean) returns setof action_items
language sql stable as $$
    select a.* from action_items a
    where not for_vendor
       or (a.owner_side = 'vendor'
           and (a.checkin_id is null
                -- A lookup by primary key (at most one row) for each item, not an `exists`,
                -- which under `or` may become a hashed scan of every check-in.
                or coalesce((select true from visible_checkins(true) c where c.id = a.checkin_id), false)))
$$;

-- Feedback: only what was shared with the vendor.
create function visible_feedback(for_vendor boolean) returns setof feedback
language sql stable as $$
    select f.* from feedback f where not for_vendor or f.shared
$$;

-- Audit findings: those the vendor's side remediates. Audits themselves (scope, auditor,
-- summary, working papers) are the organisation's: a vendor sees none.
create function visible_findings(for_vendor boolean) returns setof findings
language sql stable as $$
    select f.* from findings f where not for_vendor or f.owner_side = 'vendor'
$$;

create function visible_audits(for_vendor boolean) returns setof audits
language sql stable as $$
    select a.* from audits a where not for_vendor
$$;

-- Reviews: completed ones only, with the decision, the summary for the vendor and the
-- adaptations; what works, what to improve and the internal notes are blanked, and the
-- snapshot keeps its vendor part (`vendor`) and the scorecard and proposals both sides see,
-- without the organisation's counts of internal records.
create function visible_reviews(for_vendor boolean) returns setof reviews
language sql stable as $$
    select r.id, r.engagement_id, r.period_start, r.period_label, r.status,
           case when for_vendor
                then r.snapshot - '{health,praise,criticism,findings_open,findings_overdue}'::text[]
                else r.snapshot end,
           case when for_vendor then '' else r.what_works end,
           case when for_vendor then '' else r.what_to_improve end,
           r.decision, r.summary,
           case when for_vendor then '' else r.internal_notes end,
           r.started_by, r.started_at, r.completed_by, r.completed_at
    from reviews r
    where not for_vendor or r.status = 'completed'
$$;

-- Until now the "action item overdue" reminder reached the vendor's users for the vendor's
-- items of internal check-ins. Address those to the managers only, take them out of vendor
-- users' inboxes, and withdraw unsent e-mail that carried them (the other reminders of such
-- a message are composed again).
update reminders r set audience = 'managers'
where r.kind = 'action_item_overdue' and r.audience <> 'managers'
  and not exists (select 1 from visible_action_items(true) a where a.id = r.subject_id);

create temporary table withheld_outbox as
    select distinct o.id from outbox o
    join inbox_items i on i.outbox_id = o.id
    join reminders r on r.id = i.reminder_id
    join users u on u.id = i.user_id
    where u.role = 'vendor' and r.audience = 'managers' and o.sent_at is null;

update inbox_items set email_state = 'pending', outbox_id = null, deliver_after = null
where outbox_id in (select id from withheld_outbox);

delete from outbox where id in (select id from withheld_outbox);

delete from inbox_items i using reminders r, users u
where r.id = i.reminder_id and u.id = i.user_id and u.role = 'vendor' and r.audience = 'managers';

drop table withheld_outbox;
