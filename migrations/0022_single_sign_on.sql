-- Single sign-on with OpenID Connect (src/auth/oidc.rs).

-- The account's stable identity at the provider, stored at its first SSO sign-in (found by
-- the provider's verified e-mail) and used from then on, whatever the e-mail becomes.
alter table users add column oidc_issuer text, add column oidc_subject text,
    add constraint users_oidc_both check ((oidc_issuer is null) = (oidc_subject is null));
create unique index users_oidc_identity on users (oidc_issuer, oidc_subject)
    where oidc_subject is not null;

-- The admins' rules for each e-mail domain the provider serves (TRELLIS_OIDC_DOMAINS): whether
-- a password sign-in is refused, whose people it holds (a vendor's, or the organisation's when
-- vendor_id is null), and whether an unknown person of it becomes a manager.
create table sso_domains (
    domain text primary key check (domain = lower(domain) and domain <> ''),
    required boolean not null default false,
    vendor_id bigint references vendors (id) on delete cascade,
    create_managers boolean not null default false,
    updated_at timestamptz not null,
    check (not (create_managers and vendor_id is not null))
);
-- Manager accounts may be created for one domain at most.
create unique index sso_domains_one_creating on sso_domains ((true)) where create_managers;

-- Sign-ins in flight, kept here so that any instance may receive the callback: the state's
-- hash, the nonce and PKCE verifier, where to go on, bound to the browser's session.
create table sso_flows (
    state_hash bytea primary key,
    session_hash bytea not null,
    nonce text not null,
    pkce_verifier text not null,
    next text not null,
    created_at timestamptz not null
);
create index sso_flows_created_at on sso_flows (created_at);

-- The ID token of a session signed in through the provider, the hint of RP-initiated logout.
create table sso_sessions (
    session_hash bytea primary key references sessions (id_hash) on delete cascade,
    id_token text not null
);
