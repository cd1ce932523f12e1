//! The second factor of password accounts: TOTP secrets (RFC 6238, 6 digits, 30-second
//! steps), codes accepted once, ten one-time recovery codes stored hashed, the sign-ins that
//! still owe a code, and the organisation's rule that admins and managers need a factor.
//! Time comes from the caller, who reads the application's clock.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgExecutor};
use totp_rs::{Algorithm, TOTP};

use super::user::Role;

/// Seconds per time step.
const STEP_SECONDS: i64 = 30;
/// A code of the step before or after now's is accepted too, for clocks a little apart.
const SKEW_STEPS: i64 = 1;
/// Recovery codes made at each enrolment.
pub const RECOVERY_CODES: usize = 10;
/// How long a correct password waits for its code (or the enrolment it leads to).
pub const CHALLENGE_LIFETIME: Duration = Duration::minutes(15);
/// The issuer authenticator apps show beside the account.
const ISSUER: &str = "Trellis";
/// The characters of recovery codes: Crockford's base32, digits and lower-case letters
/// without i, l, o and u.
const RECOVERY_ALPHABET: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// The time step `now` falls in.
pub fn step_of(now: DateTime<Utc>) -> i64 {
    now.timestamp().div_euclid(STEP_SECONDS)
}

fn totp_of(secret: &[u8], account: &str) -> TOTP {
    // `new_unchecked`: the secret is ours (160 bits), and a colon would split the label.
    TOTP::new_unchecked(
        Algorithm::SHA1,
        6,
        SKEW_STEPS as u8,
        STEP_SECONDS as u64,
        secret.to_vec(),
        Some(ISSUER.to_string()),
        account.replace(':', " "),
    )
}

/// A new random secret of 160 bits, as RFC 4226 recommends.
pub fn new_secret() -> Vec<u8> {
    let mut bytes = vec![0u8; 20];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    bytes
}

/// The secret as people type it into an app: base32 in groups of four.
pub fn secret_text(secret: &[u8]) -> String {
    let encoded = totp_of(secret, "").get_secret_base32();
    encoded
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The `otpauth://` address the QR code carries.
pub fn otpauth_url(secret: &[u8], email: &str) -> String {
    totp_of(secret, email).get_url()
}

/// A QR code drawn by the server as inline SVG. It holds only modules drawn from the
/// address, no text of anyone's, so it is written into the page as it is.
pub struct QrSvg(String);

impl fmt::Display for QrSvg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl askama::filters::HtmlSafe for QrSvg {}

/// The QR code of `url`, or none if it does not fit one (it always does for our addresses).
pub fn qr_svg(url: &str) -> Option<QrSvg> {
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    let svg = code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(220, 220)
        .build();
    // Inline in HTML, the XML declaration has no place.
    let start = svg.find("<svg")?;
    let svg = svg[start..].replacen(
        "<svg ",
        "<svg role=\"img\" aria-label=\"QR code for your authenticator app\" ",
        1,
    );
    Some(QrSvg(svg))
}

/// The code of `secret` for time step `step`, as an app shows it.
pub fn code_at(secret: &[u8], step: i64) -> String {
    totp_of(secret, "").generate((step * STEP_SECONDS).max(0) as u64)
}

/// What someone typed in the code field.
#[derive(Debug, PartialEq, Eq)]
pub enum Typed {
    /// Six digits from the app.
    Totp(String),
    /// A recovery code, normalised (lower case, no separators).
    Recovery(String),
}

/// Reads the code field: six digits (spaces allowed), or a recovery code (dashes and
/// spaces allowed, any case). Anything else is no code at all, refused before it is counted.
pub fn parse_code(typed: &str) -> Option<Typed> {
    if typed.chars().count() > 64 {
        return None;
    }
    let compact: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect::<String>()
        .to_lowercase();
    if compact.len() == 6 && compact.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Typed::Totp(compact));
    }
    if compact.len() == 12 && compact.bytes().all(|b| RECOVERY_ALPHABET.contains(&b)) {
        return Some(Typed::Recovery(compact));
    }
    None
}

fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The time step whose code `code` is, among the steps around `now`; `None` for a wrong code.
pub fn matching_step(secret: &[u8], code: &str, now: DateTime<Utc>) -> Option<i64> {
    let current = step_of(now);
    let mut found = None;
    // Every candidate is computed, so the answer takes as long whichever one matches.
    for step in (current - SKEW_STEPS)..=(current + SKEW_STEPS) {
        if same(code_at(secret, step).as_bytes(), code.as_bytes()) && found.is_none() {
            found = Some(step);
        }
    }
    found
}

fn recovery_hash(code: &str) -> Vec<u8> {
    Sha256::digest(code.as_bytes()).to_vec()
}

/// A new recovery code: 12 characters of a 32-letter alphabet (60 bits), shown `xxxx-xxxx-xxxx`.
fn new_recovery_code() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system provides randomness");
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| RECOVERY_ALPHABET[usize::from(b % 32)] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A user's authenticator as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct Factor {
    pub secret: Vec<u8>,
    pub created_at: DateTime<Utc>,
    /// `None` while the enrolment waits for its first code.
    pub confirmed_at: Option<DateTime<Utc>>,
}

impl Factor {
    pub fn confirmed(&self) -> bool {
        self.confirmed_at.is_some()
    }
}

pub async fn factor_of(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> Result<Option<Factor>, sqlx::Error> {
    sqlx::query_as("select secret, created_at, confirmed_at from user_totp where user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// Begins an enrolment with a new secret, replacing one begun before; `false` (and nothing
/// changed) when the user has a confirmed factor already.
pub async fn begin_enrolment(
    db: impl PgExecutor<'_>,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let begun = sqlx::query(
        "insert into user_totp (user_id, secret, created_at) values ($1, $2, $3)
         on conflict (user_id) do update set secret = excluded.secret, created_at = excluded.created_at
         where user_totp.confirmed_at is null",
    )
    .bind(user_id)
    .bind(new_secret())
    .bind(now)
    .execute(db)
    .await?;
    Ok(begun.rows_affected() == 1)
}

/// Confirms a begun enrolment with the step of its first code, and makes the recovery codes
/// (returned to be shown once; only their hashes are kept). `None` when there was no
/// enrolment waiting (a double submit, or another tab was quicker).
pub async fn confirm(
    db: &mut PgConnection,
    user_id: i64,
    step: i64,
    now: DateTime<Utc>,
) -> Result<Option<Vec<String>>, sqlx::Error> {
    let confirmed = sqlx::query(
        "update user_totp set confirmed_at = $3, last_step = $2
         where user_id = $1 and confirmed_at is null",
    )
    .bind(user_id)
    .bind(step)
    .bind(now)
    .execute(&mut *db)
    .await?;
    if confirmed.rows_affected() != 1 {
        return Ok(None);
    }
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| new_recovery_code()).collect();
    let hashes: Vec<Vec<u8>> = codes
        .iter()
        .map(|c| recovery_hash(&c.replace('-', "")))
        .collect();
    sqlx::query("delete from totp_recovery_codes where user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "insert into totp_recovery_codes (user_id, code_hash)
         select $1, h from unnest($2::bytea[]) as h on conflict do nothing",
    )
    .bind(user_id)
    .bind(&hashes)
    .execute(&mut *db)
    .await?;
    Ok(Some(codes))
}

/// Why a code was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Not the code of any step around now, or an unknown or used recovery code.
    Wrong,
    /// The code of a step already accepted (or an earlier one): a code works once.
    Replayed,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::Wrong => "wrong",
            Refusal::Replayed => "replayed",
        }
    }
}

/// How a sign-in's second step was passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Passed {
    Totp,
    /// With a recovery code; this many are left.
    Recovery {
        left: i64,
    },
}

/// Checks a code against a user's confirmed factor and, if right, spends it: the step is
/// recorded (in one statement that refuses a step not after the last one, so two requests
/// with one code cannot both pass), or the recovery code marked used.
pub async fn spend(
    db: &mut PgConnection,
    user_id: i64,
    typed: &Typed,
    now: DateTime<Utc>,
) -> Result<Result<Passed, Refusal>, sqlx::Error> {
    match typed {
        Typed::Totp(code) => {
            let Some(factor) = factor_of(&mut *db, user_id).await? else {
                return Ok(Err(Refusal::Wrong));
            };
            if !factor.confirmed() {
                return Ok(Err(Refusal::Wrong));
            }
            let Some(step) = matching_step(&factor.secret, code, now) else {
                return Ok(Err(Refusal::Wrong));
            };
            let accepted = sqlx::query(
                "update user_totp set last_step = $2
                 where user_id = $1 and confirmed_at is not null
                   and (last_step is null or last_step < $2)",
            )
            .bind(user_id)
            .bind(step)
            .execute(&mut *db)
            .await?;
            Ok(if accepted.rows_affected() == 1 {
                Ok(Passed::Totp)
            } else {
                Err(Refusal::Replayed)
            })
        }
        Typed::Recovery(code) => {
            let used = sqlx::query(
                "update totp_recovery_codes set used_at = $3
                 where user_id = $1 and code_hash = $2 and used_at is null
                   and exists (select 1 from user_totp t where t.user_id = $1 and t.confirmed_at is not null)",
            )
            .bind(user_id)
            .bind(recovery_hash(code))
            .bind(now)
            .execute(&mut *db)
            .await?;
            if used.rows_affected() != 1 {
                return Ok(Err(Refusal::Wrong));
            }
            let left = recovery_codes_left(&mut *db, user_id).await?;
            Ok(Ok(Passed::Recovery { left }))
        }
    }
}

pub async fn recovery_codes_left(
    db: impl PgExecutor<'_>,
    user_id: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "select count(*) from totp_recovery_codes where user_id = $1 and used_at is null",
    )
    .bind(user_id)
    .fetch_one(db)
    .await
}

/// Removes a user's factor (confirmed or begun) and its recovery codes; `true` if there was one.
pub async fn remove(db: &mut PgConnection, user_id: i64) -> Result<bool, sqlx::Error> {
    sqlx::query("delete from totp_recovery_codes where user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    let removed = sqlx::query("delete from user_totp where user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    Ok(removed.rows_affected() == 1)
}

/// Whether the organisation's rule reaches this role: admins and managers.
pub fn rule_applies_to(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Manager)
}

/// Whether admins and managers must have a second factor.
pub async fn required(db: impl PgExecutor<'_>) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("select require_second_factor from sign_in_settings")
        .fetch_one(db)
        .await
}

/// Whether `role` must have a second factor now.
pub async fn required_for(db: impl PgExecutor<'_>, role: Role) -> Result<bool, sqlx::Error> {
    Ok(rule_applies_to(role) && required(db).await?)
}

/// What a correct password leads to for this user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterPassword {
    /// Signed in at once.
    SignIn,
    /// A code first.
    Code,
    /// An enrolment first: the organisation requires a factor and the user has none.
    Enrol,
}

pub async fn after_password(
    db: impl PgExecutor<'_>,
    user_id: i64,
    role: Role,
) -> Result<AfterPassword, sqlx::Error> {
    let (enrolled, required): (bool, bool) = sqlx::query_as(
        "select exists (select 1 from user_totp where user_id = $1 and confirmed_at is not null),
                (select require_second_factor from sign_in_settings)",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?;
    Ok(if enrolled {
        AfterPassword::Code
    } else if required && rule_applies_to(role) {
        AfterPassword::Enrol
    } else {
        AfterPassword::SignIn
    })
}

/// Sets the organisation's rule. Turning it on ends the sessions of admins and managers
/// without a confirmed factor, so that each meets the rule at their next sign-in; returns
/// how many sessions ended.
pub async fn set_required(
    db: &mut PgConnection,
    required: bool,
    now: DateTime<Utc>,
) -> Result<u64, sqlx::Error> {
    sqlx::query("update sign_in_settings set require_second_factor = $1, updated_at = $2")
        .bind(required)
        .bind(now)
        .execute(&mut *db)
        .await?;
    if !required {
        return Ok(0);
    }
    let ended = sqlx::query(
        "delete from sessions s using users u
         where u.id = s.user_id and u.role in ('admin', 'manager')
           and not exists (select 1 from user_totp t where t.user_id = u.id and t.confirmed_at is not null)",
    )
    .execute(&mut *db)
    .await?;
    Ok(ended.rows_affected())
}

/// A sign-in waiting for its second step, kept with the (still anonymous) session.
#[derive(Debug, sqlx::FromRow)]
pub struct Challenge {
    pub user_id: i64,
    pub enrol: bool,
    pub next: String,
}

/// Records that this session gave `user_id`'s right password and owes a code or an enrolment.
pub async fn set_challenge(
    db: impl PgExecutor<'_>,
    session_hash: &[u8],
    user_id: i64,
    enrol: bool,
    next: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "insert into login_challenges (session_hash, user_id, enrol, next, created_at)
         values ($1, $2, $3, $4, $5)
         on conflict (session_hash) do update set user_id = excluded.user_id, enrol = excluded.enrol,
             next = excluded.next, created_at = excluded.created_at",
    )
    .bind(session_hash)
    .bind(user_id)
    .bind(enrol)
    .bind(next)
    .bind(now)
    .execute(db)
    .await?;
    Ok(())
}

/// The session's waiting sign-in, if it is recent enough and its user still enabled.
pub async fn challenge_of(
    db: impl PgExecutor<'_>,
    session_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<Option<Challenge>, sqlx::Error> {
    sqlx::query_as(
        "select c.user_id, c.enrol, c.next from login_challenges c
         join users u on u.id = c.user_id and u.disabled_at is null
         where c.session_hash = $1 and c.created_at > $2",
    )
    .bind(session_hash)
    .bind(now - CHALLENGE_LIFETIME)
    .fetch_optional(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_code_field_reads_six_digits_or_a_recovery_code_and_nothing_else() {
        assert_eq!(parse_code(" 123 456 "), Some(Typed::Totp("123456".into())));
        assert_eq!(
            parse_code("ABCD-efgh-2345"),
            Some(Typed::Recovery("abcdefgh2345".into()))
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "abcd-efgh-234",
            "iiii-llll-oooo",
        ] {
            assert_eq!(parse_code(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn recovery_codes_are_read_back_as_the_field_reads_them() {
        let code = new_recovery_code();
        assert_eq!(code.len(), 14);
        assert_eq!(
            parse_code(&code),
            Some(Typed::Recovery(code.replace('-', "")))
        );
    }

    #[test]
    fn a_code_matches_its_own_step_and_its_neighbours_only() {
        let secret = new_secret();
        let now = DateTime::from_timestamp(1_800_000_015, 0).unwrap();
        let step = step_of(now);
        for s in [step - 1, step, step + 1] {
            assert_eq!(matching_step(&secret, &code_at(&secret, s), now), Some(s));
        }
        // RFC 6238's SHA-1 vector at T = 59 s, on its last six digits.
        let rfc = b"12345678901234567890";
        assert_eq!(code_at(rfc, 1), "287082");
    }

    #[test]
    fn the_qr_code_is_an_inline_svg() {
        let svg = qr_svg(&otpauth_url(&new_secret(), "ann@example.com"))
            .unwrap()
            .to_string();
        assert!(svg.starts_with("<svg role=\"img\""), "{svg:.60}");
        assert!(!svg.contains("<?xml"));
    }
}
