//! Closed sets of values stored as text (a tier, a status, a cadence): one macro gives each
//! its stored name, its label, the list for a form's options, a strict parser and its
//! encoding in PostgreSQL. A stored value outside the set is an error when it is read, never
//! a default.

/// `choice!(pub Tier { Critical = "critical" / "Critical", ... })`
#[macro_export]
macro_rules! choice {
    (@labels $first:literal / $first_label:literal $(, $stored:literal / $label:literal)*) => {
        concat!("`", $first, "` (", $first_label, ")" $(, ", `", $stored, "` (", $label, ")")*)
    };
    ($vis:vis $name:ident { $($variant:ident = $stored:literal / $label:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(into = "&'static str")]
        $vis enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $stored),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            pub fn parse(value: &str) -> Option<$name> {
                match value { $($stored => Some($name::$variant),)+ _ => None }
            }

            /// The options with an empty first choice that asks for one.
            pub fn options_with_prompt() -> Vec<(String, String)> {
                let mut options = vec![(String::new(), "Choose".to_string())];
                options.extend($name::options());
                options
            }

            /// (stored, label) pairs for a form's select.
            pub fn options() -> Vec<(String, String)> {
                $name::ALL.iter().map(|v| (v.as_str().to_string(), v.label().to_string())).collect()
            }
        }

        impl From<$name> for &'static str {
            fn from(value: $name) -> &'static str {
                value.as_str()
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $name {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $name {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode_by_ref(&self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $name {
            fn decode(value: sqlx::postgres::PgValueRef<'_>) -> Result<$name, sqlx::error::BoxDynError> {
                let stored = <&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?;
                $name::parse(stored).ok_or_else(|| {
                    format!(concat!("{:?} is not a stored ", stringify!($name)), stored).into()
                })
            }
        }

        // The API documents a choice as a string enum of its stored names, under a name
        // qualified by its module: several features have a `Kind` or a `Status` of their own.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($stored),+]))
                    .description(Some(concat!("One of: ", $crate::choice!(@labels $($stored / $label),+), ".")))
                    .into()
            }
        }

        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                let module = module_path!().rsplit("::").next().unwrap_or("trellis");
                std::borrow::Cow::Owned(format!("{module}.{}", stringify!($name)))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.label())
            }
        }
    };
}
