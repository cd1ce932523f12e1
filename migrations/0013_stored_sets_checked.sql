-- Rust reads these columns strictly (an unknown stored value is an error, never a default),
-- so the database refuses what Rust could not read. `not valid`: rows already stored are
-- not re-checked here, every new write is.

-- A time zone PostgreSQL knows (the forms also check it against Rust's zone database).
create function is_time_zone(zone text) returns boolean
language plpgsql immutable strict as $$
begin
    if zone = '' then
        return false;
    end if;
    perform now() at time zone zone;
    return true;
exception when invalid_parameter_value then
    return false;
end
$$;

alter table users
    add constraint users_time_zone_known check (is_time_zone(time_zone)) not valid;
alter table engagements
    add constraint engagements_time_zone_known check (is_time_zone(time_zone)) not valid;

alter table boundaries
    add constraint boundaries_channels_known
        check (channels <@ array['portal', 'email', 'phone', 'chat']::text[]) not valid,
    add constraint boundaries_preferred_channel_known
        check (preferred_channel in ('portal', 'email', 'phone', 'chat')) not valid,
    add constraint boundaries_urgent_channel_known
        check (urgent_channel in ('portal', 'email', 'phone', 'chat')) not valid;

alter table engagement_scores
    add constraint engagement_scores_tier_known
        check (tier in ('critical', 'high', 'medium', 'low')) not valid;
