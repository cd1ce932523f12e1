-- A vendor's first active engagement: the one whose contact window and reminders carry what
-- belongs to the vendor rather than to one engagement (its documents, a due-diligence
-- questionnaire). One definition for the reminder rules and the writes that refresh them.
create function lead_engagement(vendor bigint) returns bigint language sql stable as $$
    select min(id) from engagements where vendor_id = vendor and status = 'active'
$$;
